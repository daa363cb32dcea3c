package apiserver

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// CustomResourceDefinitions: read from manifests, defaulted and validated as
// kube-apiserver validates one it is asked to store, stored and served like
// any object, and turned into served resources (custom.go) whenever one is
// written.

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

// readCRDs reads the CRD manifests under paths, ordered by name. Each file
// is read by envtest's reader, so that the inputs are envtest's: a file or a
// directory's .json, .yaml and .yml files, several documents to a file,
// documents that are not CRDs skipped; an error names its file.
func readCRDs(paths []string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, path := range paths {
		files := []string{path}
		if info, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("apiserver: WithCRDPaths: %w", err)
		} else if info.IsDir() {
			entries, err := os.ReadDir(path)
			if err != nil {
				return nil, fmt.Errorf("apiserver: WithCRDPaths: %w", err)
			}
			files = files[:0]
			for _, e := range entries {
				if !e.IsDir() {
					files = append(files, filepath.Join(path, e.Name()))
				}
			}
		}
		for _, file := range files {
			opts := envtest.CRDInstallOptions{Paths: []string{file}, ErrorIfPathMissing: true}
			if err := envtest.ReadCRDFiles(&opts); err != nil {
				return nil, fmt.Errorf("apiserver: WithCRDPaths: %s: %w", file, err)
			}
			crds = append(crds, opts.CRDs...)
		}
	}
	slices.SortStableFunc(crds, func(a, b *apiextensionsv1.CustomResourceDefinition) int { return strings.Compare(a.Name, b.Name) })
	return crds, nil
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
