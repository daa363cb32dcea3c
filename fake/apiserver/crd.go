package apiserver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured/unstructuredscheme"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Custom resources are served with kube-apiserver's own rules, taken from
// k8s.io/apiextensions-apiserver and composed here as its CRD handler
// composes them: a CRD is defaulted and validated as kube-apiserver
// validates one it is asked to store; each served version gets a structural
// schema, pruning, defaulting, the OpenAPI schema validator and the CEL
// validator (its programs compiled once, here), wrapped in the registry's
// create and update strategy. Only the HTTP side is this package's.

// crdScheme knows the apiextensions group: its defaults and its conversion
// to the internal type that apiextensions' validation takes.
var crdScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	install.Install(s)
	return s
}()

var crdCodecs = serializer.NewCodecFactory(crdScheme)

var crdGroupKind = schema.GroupKind{Group: apiextensionsv1.GroupName, Kind: "CustomResourceDefinition"}

// WithCRDs serves the custom resources that crds define, with their
// schemas' pruning, defaults and validation rules, as kube-apiserver serves
// them once the CRDs are established. A CRD kube-apiserver would refuse
// makes New fail with kube-apiserver's message.
func WithCRDs(crds ...*apiextensionsv1.CustomResourceDefinition) Option {
	return func(c *config) {
		for _, crd := range crds {
			c.crds = append(c.crds, crd.DeepCopy())
		}
	}
}

// WithCRDPaths serves the CRDs in files and directories of manifests (JSON
// or YAML, several documents to a file), read as envtest's CRDInstallOptions
// reads Paths (kubebuilder's config/crd/bases). A path that does not exist
// makes New fail.
func WithCRDPaths(paths ...string) Option {
	return func(c *config) { c.crdPaths = append(c.crdPaths, paths...) }
}

// readCRDs reads the CRD manifests under paths, ordered by name.
func readCRDs(paths []string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	opts := envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true}
	if err := envtest.ReadCRDFiles(&opts); err != nil {
		return nil, fmt.Errorf("apiserver: WithCRDPaths %q: %w", paths, err)
	}
	slices.SortFunc(opts.CRDs, func(a, b *apiextensionsv1.CustomResourceDefinition) int { return strings.Compare(a.Name, b.Name) })
	return opts.CRDs, nil
}

// establish defaults crd and validates it as kube-apiserver does when it is
// created, then gives it the status kube-apiserver's controllers give an
// accepted CRD: its names accepted, NamesAccepted and Established. It
// returns the CRD as stored and its internal form.
func establish(ctx context.Context, in *apiextensionsv1.CustomResourceDefinition, old *apiextensionsv1.CustomResourceDefinition) (*apiextensionsv1.CustomResourceDefinition, *apiextensions.CustomResourceDefinition, error) {
	crd := in.DeepCopy()
	crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	crdScheme.Default(crd)
	if old != nil {
		// The stored versions only grow, as kube-apiserver keeps them.
		crd.Status.StoredVersions = old.Status.StoredVersions
		for _, v := range crd.Spec.Versions {
			if v.Storage && !slices.Contains(crd.Status.StoredVersions, v.Name) {
				crd.Status.StoredVersions = append(crd.Status.StoredVersions, v.Name)
			}
		}
	}
	internal := &apiextensions.CustomResourceDefinition{}
	if err := crdScheme.Convert(crd, internal, nil); err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("CustomResourceDefinition %q: %v", crd.Name, err))
	}
	var errs field.ErrorList
	if old == nil {
		errs = crdvalidation.ValidateCustomResourceDefinition(ctx, internal)
	} else {
		oldInternal := &apiextensions.CustomResourceDefinition{}
		if err := crdScheme.Convert(old, oldInternal, nil); err != nil {
			return nil, nil, apierrors.NewInternalError(err)
		}
		errs = crdvalidation.ValidateCustomResourceDefinitionUpdate(ctx, internal, oldInternal)
	}
	if len(errs) > 0 {
		return nil, nil, apierrors.NewInvalid(crdGroupKind, crd.Name, errs)
	}
	crd.Status.AcceptedNames = crd.Spec.Names
	now := metav1.Now()
	crd.Status.Conditions = []apiextensionsv1.CustomResourceDefinitionCondition{
		{Type: apiextensionsv1.NamesAccepted, Status: apiextensionsv1.ConditionTrue, Reason: "NoConflicts", Message: "no conflicts found", LastTransitionTime: now},
		{Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionTrue, Reason: "InitialNamesAccepted", Message: "the initial names have been accepted", LastTransitionTime: now},
	}
	internal.Status.AcceptedNames = internal.Spec.Names
	return crd, internal, nil
}

// strategy is the registry's create and update logic for custom resources
// (customresource.NewStrategy and NewStatusStrategy), as this server uses it.
type strategy interface {
	PrepareForCreate(ctx context.Context, obj runtime.Object)
	PrepareForUpdate(ctx context.Context, obj, old runtime.Object)
	Validate(ctx context.Context, obj runtime.Object) field.ErrorList
	ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList
	WarningsOnCreate(ctx context.Context, obj runtime.Object) []string
	WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string
	GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error)
}

// custom is one served version of a CRD: kube-apiserver's rules for it.
type custom struct {
	crd     string // the CRD's name
	version string
	storage string // the CRD's storage version
	// structural is the version's structural schema with its defaults
	// pruned; nil only for a CRD that preserves unknown fields and has none.
	structural      *structuralschema.Structural
	preserveUnknown bool
	strategy        strategy
	status          strategy // nil without a status subresource
	scale           *apiextensions.CustomResourceSubresourceScale
	// selectable are the version's selectable fields, beside metadata.name
	// and metadata.namespace.
	selectable sets.Set[string]
	// typeConverter gives server-side apply the version's field types.
	typeConverter managedfields.TypeConverter
	shortNames    []string
	categories    []string
}

// customResources builds the served versions of an established CRD, given
// as stored (v1) and in its internal form.
func customResources(v1 *apiextensionsv1.CustomResourceDefinition, crd *apiextensions.CustomResourceDefinition) ([]resource, error) {
	storage, err := apiextensions.GetCRDStorageVersion(crd)
	if err != nil {
		return nil, err
	}
	namespaced := crd.Spec.Scope == apiextensions.NamespaceScoped
	if crd.Spec.Conversion != nil && crd.Spec.Conversion.Strategy == apiextensions.WebhookConverter {
		return nil, fmt.Errorf("CustomResourceDefinition %s: spec.conversion.strategy Webhook: this server calls no conversion webhook", crd.Name)
	}
	var out []resource
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		c := &custom{crd: crd.Name, version: v.Name, storage: storage, preserveUnknown: ptr.Deref(crd.Spec.PreserveUnknownFields, false),
			shortNames: crd.Spec.Names.ShortNames, categories: crd.Spec.Names.Categories}
		validation, err := apiextensions.GetSchemaForVersion(crd, v.Name)
		if err != nil {
			return nil, err
		}
		var props *apiextensions.JSONSchemaProps
		if validation != nil {
			props = validation.OpenAPIV3Schema
		}
		if props != nil {
			s, err := structuralschema.NewStructural(props)
			if err != nil && !c.preserveUnknown {
				return nil, fmt.Errorf("CustomResourceDefinition %s version %s: %w", crd.Name, v.Name, err)
			}
			if s != nil {
				s = s.DeepCopy()
				if err := structuraldefaulting.PruneDefaults(s); err != nil {
					return nil, fmt.Errorf("CustomResourceDefinition %s version %s: pruning defaults: %w", crd.Name, v.Name, err)
				}
			}
			c.structural = s
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(props)
		if err != nil {
			return nil, fmt.Errorf("CustomResourceDefinition %s version %s: %w", crd.Name, v.Name, err)
		}
		subresources, err := apiextensions.GetSubresourcesForVersion(crd, v.Name)
		if err != nil {
			return nil, err
		}
		var statusSpec *apiextensions.CustomResourceSubresourceStatus
		var statusValidator apiservervalidation.SchemaValidator
		if subresources != nil && subresources.Status != nil {
			statusSpec = subresources.Status
			if props != nil {
				if statusSchema, ok := props.Properties["status"]; ok {
					if statusValidator, _, err = apiservervalidation.NewSchemaValidator(&statusSchema); err != nil {
						return nil, fmt.Errorf("CustomResourceDefinition %s version %s: %w", crd.Name, v.Name, err)
					}
				}
			}
		}
		if subresources != nil {
			c.scale = subresources.Scale
		}
		// Server-side apply merges by the schema's list types and map keys,
		// from the OpenAPI document kube-apiserver publishes for the version.
		doc, err := builder.BuildOpenAPIV3(v1, v.Name, builder.Options{})
		if err != nil {
			return nil, fmt.Errorf("CustomResourceDefinition %s version %s: %w", crd.Name, v.Name, err)
		}
		if c.typeConverter, err = managedfields.NewTypeConverter(doc.Components.Schemas, c.preserveUnknown); err != nil {
			return nil, fmt.Errorf("CustomResourceDefinition %s version %s: %w", crd.Name, v.Name, err)
		}
		kind := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Status.AcceptedNames.Kind}
		// The v1 form has each version's selectable fields; the internal one
		// hoists identical ones to the spec.
		var selectable []apiextensionsv1.SelectableField
		for _, v1v := range v1.Spec.Versions {
			if v1v.Name == v.Name {
				selectable = v1v.SelectableFields
			}
		}
		c.selectable = sets.New[string]()
		for _, f := range selectable {
			c.selectable.Insert(strings.TrimPrefix(f.JSONPath, "."))
		}
		s := customresource.NewStrategy(unstructuredscheme.NewUnstructuredObjectTyper(), namespaced, kind, validator, statusValidator,
			c.structural, statusSpec, c.scale, selectable)
		c.strategy = s
		if statusSpec != nil {
			c.status = customresource.NewStatusStrategy(s)
		}
		out = append(out, resource{
			gvr:        schema.GroupVersionResource{Group: crd.Spec.Group, Version: v.Name, Resource: crd.Status.AcceptedNames.Plural},
			stored:     schema.GroupVersionResource{Group: crd.Spec.Group, Version: storage, Resource: crd.Status.AcceptedNames.Plural},
			gvk:        kind,
			listKind:   crd.Status.AcceptedNames.ListKind,
			singular:   crd.Status.AcceptedNames.Singular,
			namespaced: namespaced,
			status:     statusSpec != nil,
			generation: generationFromCreate,
			custom:     c,
		})
	}
	return out, nil
}

// coerce does to a decoded custom resource what kube-apiserver's decoder
// does: unknown fields pruned (unless preserved), nulls without a default
// dropped where the schema does not allow them, metadata checked and
// embedded objects' metadata coerced; then the schema's defaults. With
// track it returns the paths of the unknown fields it dropped, for
// fieldValidation.
func (c *custom) coerce(u *unstructured.Unstructured, track bool) ([]string, error) {
	kind, apiVersion := u.GetKind(), u.GetAPIVersion()
	objectMeta, foundMeta, unknown, err := schemaobjectmeta.GetObjectMetaWithOptions(u.Object, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: track})
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if c.structural != nil {
		if !c.preserveUnknown {
			unknown = append(unknown, structuralpruning.PruneWithOptions(u.Object, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: track})...)
			structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u.Object, c.structural)
		}
		err, paths := schemaobjectmeta.CoerceWithOptions(nil, u.Object, c.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: track})
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		unknown = append(unknown, paths...)
	}
	u.SetKind(kind)
	u.SetAPIVersion(apiVersion)
	if foundMeta {
		if err := schemaobjectmeta.SetObjectMeta(u.Object, objectMeta); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	}
	if c.structural != nil {
		structuraldefaulting.Default(u.Object, c.structural)
	}
	return unknown, nil
}

// convert is a copy of a stored custom resource at c's version, as
// kube-apiserver converts with strategy None: the apiVersion changes, and
// the version's schema prunes and defaults what it reads.
func (c *custom) convert(obj runtime.Object) runtime.Object {
	u := obj.(*unstructured.Unstructured).DeepCopy()
	u.SetAPIVersion(schema.GroupVersion{Group: u.GroupVersionKind().Group, Version: c.version}.String())
	_, _ = c.coerce(u, false) // stored metadata is well-formed: coerce fails only on malformed metadata
	return u
}

// requestContext is the context the registry's strategies expect: the
// request's namespace in it.
func requestContext(ctx context.Context, namespace string) context.Context {
	return genericapirequest.WithNamespace(ctx, namespace)
}

// invalid is kube-apiserver's 422 for a custom resource its rules refuse.
func invalid(r *resource, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(r.gvk.GroupKind(), name, errs)
}

// admitCreate applies a kind's own rules to a new object: the registry's
// strategy for a custom resource (status cleared, generation 1, the schema's
// validation and CEL rules), kube-apiserver's CRD validation for a CRD.
func (s *Server) admitCreate(rt route, obj runtime.Object) error {
	switch r := rt.res; {
	case r.custom != nil:
		ctx := requestContext(context.Background(), rt.namespace)
		r.custom.strategy.PrepareForCreate(ctx, obj)
		m, _ := meta.Accessor(obj)
		if errs := r.custom.strategy.Validate(ctx, obj); len(errs) > 0 {
			return invalid(r, m.GetName(), errs)
		}
		rt.warn(r.custom.strategy.WarningsOnCreate(ctx, obj)...)
	case r.gvr == crdsGVR:
		return s.admitCRD(obj.(*unstructured.Unstructured), nil)
	}
	return nil
}

// admitUpdate is admitCreate for an update of old to next (its metadata
// already as the server keeps it): the strategy of the main resource or of
// the status subresource, with transition rules that see old.
func (s *Server) admitUpdate(rt route, next, old runtime.Object) error {
	r := rt.res
	ctx := requestContext(context.Background(), rt.namespace)
	var st strategy
	if r.custom != nil {
		st = r.custom.strategy
		if rt.subresource == "status" {
			st = r.custom.status
		}
		st.PrepareForUpdate(ctx, next, old)
	}
	// kube-apiserver checks every kind's metadata on update before the
	// kind's own rules: no new finalizers on an object being deleted, owner
	// references, label and annotation syntax.
	nm, _ := meta.Accessor(next)
	om, _ := meta.Accessor(old)
	var errs field.ErrorList
	if metadataChanged(nm, om) {
		errs = validation.ValidateObjectMetaAccessorUpdate(nm, om, field.NewPath("metadata"))
	}
	if st != nil {
		errs = append(errs, st.ValidateUpdate(ctx, next, old)...)
	}
	if len(errs) > 0 {
		return invalid(r, rt.name, errs)
	}
	if st != nil {
		rt.warn(st.WarningsOnUpdate(ctx, next, old)...)
	}
	if r.gvr == crdsGVR && rt.subresource == "" {
		return s.admitCRD(next.(*unstructured.Unstructured), old.(*unstructured.Unstructured))
	}
	return nil
}

// metadataChanged reports whether an update changes what the metadata
// rules judge: an update that leaves it as stored (a lease renewal) passes
// them as the stored object did, and skipping them keeps such writes cheap.
// What the server owns (uid, name, timestamps) it has set from the stored
// object already.
func metadataChanged(next, old metav1.Object) bool {
	return !equality.Semantic.DeepEqual(next.GetLabels(), old.GetLabels()) ||
		!equality.Semantic.DeepEqual(next.GetAnnotations(), old.GetAnnotations()) ||
		!slices.Equal(next.GetFinalizers(), old.GetFinalizers()) ||
		!equality.Semantic.DeepEqual(next.GetOwnerReferences(), old.GetOwnerReferences()) ||
		next.GetDeletionTimestamp() != nil
}

var crdsGVR = apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")

// crdResource serves CustomResourceDefinitions, stored as unstructured, so
// that a CRD created at run time is served as on kube-apiserver.
var crdResource = resource{gvr: crdsGVR, gvk: apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"),
	singular: "customresourcedefinition", status: true, generation: generationFromCreate}

// addCRD stores crd as established, which serves its custom resources.
func (s *Server) addCRD(crd *apiextensionsv1.CustomResourceDefinition) error {
	stored, internal, err := establish(context.Background(), crd, nil)
	if err != nil {
		return err
	}
	if _, err := customResources(stored, internal); err != nil {
		return err
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(stored)
	if err != nil {
		return err
	}
	return s.Add(&unstructured.Unstructured{Object: u})
}

// decodeCRD reads a CRD sent in protobuf, as apiextensions' clientset sends
// it.
func decodeCRD(body []byte) (runtime.Object, metav1.Object, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	gvk := crdResource.gvk
	if _, _, err := crdCodecs.UniversalDeserializer().Decode(body, &gvk, crd); err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type CustomResourceDefinition): %v", err))
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(gvk)
	return u, u, nil
}

// toCRD reads a stored or sent CRD.
func toCRD(u *unstructured.Unstructured) (*apiextensionsv1.CustomResourceDefinition, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, crd); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type CustomResourceDefinition): %v", err))
	}
	return crd, nil
}

// admitCRD validates a CRD written through the API as kube-apiserver does,
// and gives it its defaults and the status of an established CRD.
func (s *Server) admitCRD(u, old *unstructured.Unstructured) error {
	crd, err := toCRD(u)
	if err != nil {
		return err
	}
	var prev *apiextensionsv1.CustomResourceDefinition
	if old != nil {
		if prev, err = toCRD(old); err != nil {
			return err
		}
	}
	stored, internal, err := establish(context.Background(), crd, prev)
	if err != nil {
		return err
	}
	if _, err := customResources(stored, internal); err != nil {
		return apierrors.NewInvalid(crdGroupKind, crd.Name, field.ErrorList{field.Invalid(field.NewPath("spec"), crd.Name, err.Error())})
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(stored)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	u.Object = content
	return nil
}

// recoerceLocked shows the objects of a changed CRD as kube-apiserver
// reads them: pruned and defaulted by the new schema of their storage
// version. kube-apiserver does it on every read and leaves the stored data
// alone; here the stored revisions are replaced once, at the same
// resourceVersion and with no watch event, which reads the same.
func (s *Server) recoerceLocked(rs []resource) {
	for _, r := range rs {
		if r.converts() {
			continue // not the storage version
		}
		for key, v := range s.store.objects[r.gvr] {
			u := v.obj.(*unstructured.Unstructured).DeepCopy()
			if _, err := r.custom.coerce(u, false); err != nil || equality.Semantic.DeepEqual(u, v.obj) {
				continue
			}
			s.store.objects[r.gvr][key] = &revision{obj: u}
		}
	}
}

// servedCRD is what the table serves of one stored CRD.
type servedCRD struct {
	generation int64
	resources  []resource
}

// syncCRDsLocked rebuilds the resource table from the CRDs stored now,
// after a write of one: a new CRD is served at once, a changed one by its
// new rules (built again only when its spec changed), and the custom
// resources of a deleted one are deleted with it.
func (s *Server) syncCRDsLocked() {
	s.crdMu.Lock()
	defer s.crdMu.Unlock()
	seen := make(map[string]bool)
	for _, v := range s.store.objects[crdsGVR] {
		u := v.obj.(*unstructured.Unstructured)
		seen[u.GetName()] = true
		if served, ok := s.served[u.GetName()]; ok && served.generation == u.GetGeneration() {
			continue
		}
		crd, err := toCRD(u)
		internal := &apiextensions.CustomResourceDefinition{}
		if err == nil {
			err = crdScheme.Convert(crd, internal, nil)
		}
		var rs []resource
		if err == nil {
			rs, err = customResources(crd, internal)
		}
		if err != nil {
			// admitCRD and addCRD built the same CRD before it was stored.
			s.record("SERVE", crdsGVR.Resource+"/"+u.GetName(), err.Error())
			continue
		}
		_, changed := s.served[u.GetName()]
		s.served[u.GetName()] = servedCRD{generation: u.GetGeneration(), resources: rs}
		if changed {
			s.recoerceLocked(rs)
		}
	}
	for name, served := range s.served {
		if seen[name] {
			continue
		}
		delete(s.served, name)
		for _, r := range served.resources {
			for key, v := range s.store.objects[r.storeGVR()] {
				s.store.writeLocked(r.storeGVR(), key, watch.Deleted, v.obj.DeepCopyObject())
			}
		}
	}
	kinds := slices.Clone(s.kinds)
	for _, name := range slices.Sorted(maps.Keys(s.served)) {
		kinds = append(kinds, s.served[name].resources...)
	}
	s.table.Store(newResources(s.scheme, kinds))
}
