package apiserver

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured/unstructuredscheme"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/utils/ptr"
)

// A custom resource's rules are kube-apiserver's, taken from
// k8s.io/apiextensions-apiserver and composed as its CRD handler composes
// them for each served version: a structural schema, pruning, defaulting,
// the OpenAPI schema validator and the CEL validator (its programs compiled
// once, here), wrapped in the registry's create and update strategy.

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
