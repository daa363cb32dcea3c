package apiserver

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A kind's own rules for a write, applied between decoding the body and
// storing the object: kube-apiserver's metadata rules for every kind, the
// registry strategy of a custom resource, CRD validation for a CRD, and the
// few rules of built-in kinds that controllers run into (Secrets' stringData
// and type, immutable ConfigMaps and Secrets).

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
	case r.typed:
		builtinPrepare(obj)
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
	if r.custom == nil {
		builtinPrepare(next)
		errs = append(errs, builtinUpdateRules(next, old)...)
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

// builtinPrepare does what kube-apiserver does to a built-in object before
// it stores it, where the rule is simple and controllers rely on it: a
// Secret's stringData goes into its data.
func builtinPrepare(obj runtime.Object) {
	if secret, ok := obj.(*corev1.Secret); ok && len(secret.StringData) > 0 {
		if secret.Data == nil {
			secret.Data = make(map[string][]byte, len(secret.StringData))
		}
		for k, v := range secret.StringData {
			secret.Data[k] = []byte(v)
		}
		secret.StringData = nil
	}
}

// builtinUpdateRules are the update rules of built-in kinds that
// controllers run into, in kube-apiserver's words: a Secret's type never
// changes; an immutable ConfigMap's or Secret's data, and its immutable
// flag, never change.
func builtinUpdateRules(next, old runtime.Object) field.ErrorList {
	const frozen = "field is immutable when `immutable` is set"
	var errs field.ErrorList
	immutable := func(wasImmutable, isImmutable *bool, changed map[string]bool) {
		if wasImmutable == nil || !*wasImmutable {
			return
		}
		if isImmutable == nil || !*isImmutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), frozen))
		}
		for _, f := range []string{"data", "binaryData"} {
			if changed[f] {
				errs = append(errs, field.Forbidden(field.NewPath(f), frozen))
			}
		}
	}
	switch n := next.(type) {
	case *corev1.Secret:
		o := old.(*corev1.Secret)
		errs = append(errs, validation.ValidateImmutableField(n.Type, o.Type, field.NewPath("type"))...)
		immutable(o.Immutable, n.Immutable, map[string]bool{"data": !equality.Semantic.DeepEqual(n.Data, o.Data)})
	case *corev1.ConfigMap:
		o := old.(*corev1.ConfigMap)
		immutable(o.Immutable, n.Immutable, map[string]bool{
			"data": !equality.Semantic.DeepEqual(n.Data, o.Data), "binaryData": !equality.Semantic.DeepEqual(n.BinaryData, o.BinaryData)})
	}
	return errs
}
