package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/validation"
	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/leaderlab/leaderlab/internal/precondition"
)

var namespacesGVR = corev1.SchemeGroupVersion.WithResource("namespaces")

// create stores a new object, as kube-apiserver's registry does: the
// namespace from the path (which must exist and not be terminating), a name
// or generateName, and uid, creationTimestamp, generation 1, an empty status
// set by the server.
func (s *Server) create(rt route, contentType string, body []byte) (runtime.Object, error) {
	r := rt.res
	if r.namespaced && rt.namespace == "" {
		return nil, apierrors.NewMethodNotSupported(r.groupResource(), "create")
	}
	obj, m, err := s.decode(rt, contentType, body)
	if err != nil {
		return nil, err
	}
	return s.createObject(rt, obj, m)
}

// createObject is create for a decoded object the server owns.
func (s *Server) createObject(rt route, obj runtime.Object, m metav1.Object) (runtime.Object, error) {
	r := rt.res
	if err := s.placeIn(rt, m); err != nil {
		return nil, err
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		s.mu.Lock()
		s.uid++
		suffix := strconv.FormatUint(s.uid, 36) // five characters, as kube-apiserver's random suffix has
		s.mu.Unlock()
		m.SetName(m.GetGenerateName() + strings.Repeat("0", max(0, 5-len(suffix))) + suffix)
	}
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	if r.status {
		setStatus(obj, nil)
	}
	if err := s.admitCreate(rt, obj); err != nil {
		return nil, err
	}
	if err := validName(r, m); err != nil {
		return nil, err
	}
	s.stamp(r, m)
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	if r.namespaced {
		if err := s.namespaceOpenLocked(rt.res.groupResource(), m.GetName(), rt.namespace); err != nil {
			return nil, err
		}
	}
	if _, ok := s.store.objectLocked(r.storeGVR(), keyOf(m)); ok {
		return nil, apierrors.NewAlreadyExists(r.groupResource(), m.GetName())
	}
	return s.writeLocked(rt, watch.Added, obj), nil
}

// placeIn puts m in the path's namespace, or none for a cluster-scoped kind.
func (s *Server) placeIn(rt route, m metav1.Object) error {
	if !rt.res.namespaced {
		m.SetNamespace("")
		return nil
	}
	if ns := m.GetNamespace(); ns != "" && ns != rt.namespace {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	m.SetNamespace(rt.namespace)
	return nil
}

// validName checks a new object's name as kube-apiserver's validation of
// its kind does: present, and a DNS subdomain for most kinds; a DNS label
// for namespaces and services, a path segment for RBAC's
// kinds and custom resources.
func validName(r *resource, m metav1.Object) error {
	path := field.NewPath("metadata", "name")
	if m.GetName() == "" {
		return apierrors.NewInvalid(r.gvk.GroupKind(), m.GetName(), field.ErrorList{field.Required(path, "name or generateName is required")})
	}
	check := validation.NameIsDNSSubdomain
	switch {
	case r.custom != nil || r.gvr.Group == rbacv1.GroupName:
		check = pathvalidation.ValidatePathSegmentName
	case r.gvr == namespacesGVR:
		check = validation.ValidateNamespaceName
	case r.gvr == servicesGVR:
		check = validation.NameIsDNSLabel
	}
	var errs field.ErrorList
	for _, msg := range check(m.GetName(), false) {
		errs = append(errs, field.Invalid(path, m.GetName(), msg))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(r.gvk.GroupKind(), m.GetName(), errs)
	}
	return nil
}

var servicesGVR = corev1.SchemeGroupVersion.WithResource("services")

// namespaceOpenLocked checks that namespace exists and takes new objects;
// gr and name are the object's to create, which kube-apiserver's refusal
// names.
func (s *Server) namespaceOpenLocked(gr schema.GroupResource, name, namespace string) error {
	obj, ok := s.store.objectLocked(namespacesGVR, objectKey{"", namespace})
	if !ok {
		return apierrors.NewNotFound(namespacesGVR.GroupResource(), namespace)
	}
	if m, _ := meta.Accessor(obj); m.GetDeletionTimestamp() != nil {
		err := apierrors.NewForbidden(gr, name, fmt.Errorf("unable to create new content in namespace %s because it is being terminated", namespace))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: corev1.NamespaceTerminatingCause, Message: fmt.Sprintf("namespace %s is being terminated", namespace), Field: "metadata.namespace"})
		return err
	}
	return nil
}

// update replaces an object: 409 on a stale resourceVersion, unconditional
// when the body has none.
func (s *Server) update(rt route, contentType string, body []byte, manager string) (runtime.Object, error) {
	obj, m, err := s.decode(rt, contentType, body)
	if err != nil {
		return nil, err
	}
	if m.GetName() != rt.name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), rt.name))
	}
	return s.updateObject(rt, obj, m, manager)
}

// updateObject is update for a decoded object the server owns.
func (s *Server) updateObject(rt route, obj runtime.Object, m metav1.Object, manager string) (runtime.Object, error) {
	if err := s.placeIn(rt, m); err != nil {
		return nil, err
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	old, ok := s.currentLocked(rt)
	if !ok {
		return nil, apierrors.NewNotFound(rt.res.groupResource(), rt.name)
	}
	return s.commitLocked(rt, old, s.trackUpdate(rt, old, obj, manager))
}

// commitLocked writes next over old as an update of rt: it checks next's
// preconditions, keeps what the server owns, applies the status
// subresource's rules and the generation, skips a write that changes
// nothing, and deletes an object whose last finalizer is gone.
func (s *Server) commitLocked(rt route, old, next runtime.Object) (runtime.Object, error) {
	om, _ := meta.Accessor(old)
	nm, _ := meta.Accessor(next)
	if err := precondition.Check(rt.res.groupResource(), rt.res.storageKey(rt.namespace, rt.name), rt.name, nm.GetUID(), nm.GetResourceVersion(), om); err != nil {
		return nil, err
	}
	r := rt.res
	switch {
	case r.custom != nil: // the registry's strategy does it below
	case rt.subresource == "approval":
		next = approve(next, old)
		nm, _ = meta.Accessor(next)
	case rt.subresource == "binding": // the pod's spec and status both change
	case rt.subresource == "status":
		// kube-apiserver's status strategies keep the spec and take the
		// write's metadata, but the workload kinds keep their labels and a
		// pod its owner references.
		setPart(next, "Spec", "spec", specOf(old.DeepCopyObject()))
		if statusKeepsLabels.Has(r.gvk.GroupKind()) {
			nm.SetLabels(om.GetLabels())
		}
		if r.gvk.GroupKind() == (schema.GroupKind{Kind: "Pod"}) {
			nm.SetOwnerReferences(om.GetOwnerReferences())
		}
	case r.status:
		setStatus(next, statusOf(old))
	}
	nm.SetResourceVersion(om.GetResourceVersion())
	nm.SetUID(om.GetUID())
	nm.SetCreationTimestamp(om.GetCreationTimestamp())
	nm.SetDeletionTimestamp(om.GetDeletionTimestamp())
	nm.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
	nm.SetGeneration(om.GetGeneration())
	if len(nm.GetManagedFields()) == 0 {
		nm.SetManagedFields(om.GetManagedFields())
	}
	if r.custom == nil && r.generation != noGeneration && !apiequality.Semantic.DeepEqual(specOf(old), specOf(next)) {
		nm.SetGeneration(om.GetGeneration() + 1)
	}
	if err := s.admitUpdate(rt, next, old); err != nil {
		return nil, err
	}
	if apiequality.Semantic.DeepEqual(old, next) {
		v := s.store.objects[r.storeGVR()][keyOf(nm)]
		return r.served(sharedObject{r: v}), nil // kube-apiserver skips a write that changes nothing
	}
	typ := watch.Modified
	if nm.GetDeletionTimestamp() != nil && len(finalizersOf(next)) == 0 {
		typ = watch.Deleted
	}
	return s.writeLocked(rt, typ, next), nil
}

// patch applies a JSON, merge or strategic merge patch to the stored object
// and commits the result as an update.
func (s *Server) patch(req *http.Request, rt route, pt types.PatchType, body []byte) (runtime.Object, int, error) {
	switch pt {
	case types.JSONPatchType, types.MergePatchType:
	case types.StrategicMergePatchType:
		if !rt.res.typed {
			return nil, 0, unsupportedMediaType(string(types.JSONPatchType), string(types.MergePatchType), string(types.ApplyYAMLPatchType))
		}
	case types.ApplyYAMLPatchType:
		return s.apply(req, rt, body)
	case types.ApplyCBORPatchType:
		return nil, 0, s.unservable(req, unsupportedMediaType(string(types.JSONPatchType), string(types.MergePatchType), string(types.StrategicMergePatchType), string(types.ApplyYAMLPatchType)).(apierrors.APIStatus))
	default:
		if !rt.res.typed {
			return nil, 0, unsupportedMediaType(string(types.JSONPatchType), string(types.MergePatchType), string(types.ApplyYAMLPatchType))
		}
		return nil, 0, unsupportedMediaType(string(types.JSONPatchType), string(types.MergePatchType), string(types.StrategicMergePatchType), string(types.ApplyYAMLPatchType))
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	old, ok := s.currentLocked(rt)
	if !ok {
		return nil, 0, apierrors.NewNotFound(rt.res.groupResource(), rt.name)
	}
	original, err := s.toJSON(old)
	if err != nil {
		return nil, 0, apierrors.NewInternalError(err)
	}
	var patched []byte
	switch pt {
	case types.JSONPatchType:
		var p jsonpatch.Patch
		if p, err = jsonpatch.DecodePatch(body); err == nil {
			if patched, err = p.Apply(original); err != nil {
				err = &jsonPatchError{err}
			}
		}
	case types.MergePatchType:
		patched, err = jsonpatch.MergePatch(original, body)
	case types.StrategicMergePatchType:
		var dataStruct runtime.Object
		if dataStruct, err = s.scheme.New(rt.res.gvk); err == nil {
			patched, err = strategicpatch.StrategicMergePatch(original, body, dataStruct)
		}
	}
	var applyErr *jsonPatchError
	switch {
	case errors.As(err, &applyErr):
		// kube-apiserver's answer to a JSON patch that does not apply (a
		// failed test, a missing path): 422 with no detail.
		return nil, 0, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", "", 0, false)
	case err != nil:
		return nil, 0, apierrors.NewBadRequest(err.Error())
	}
	next, nm, err := s.decode(rt, mediaJSON, patched)
	if err != nil {
		return nil, 0, apierrors.NewInvalid(rt.res.gvk.GroupKind(), rt.name, field.ErrorList{field.Invalid(field.NewPath(""), string(body), err.Error())})
	}
	om, _ := meta.Accessor(old)
	if nm.GetName() != om.GetName() || nm.GetNamespace() != om.GetNamespace() {
		return nil, 0, apierrors.NewBadRequest("a patch must not change the object's name or namespace")
	}
	obj, err := s.commitLocked(rt, old, s.trackUpdate(rt, old, next, managerOf(req)))
	return obj, http.StatusOK, err
}

// jsonPatchError is a JSON patch that decoded but does not apply.
type jsonPatchError struct{ error }

func (e *jsonPatchError) Unwrap() error { return e.error }

// finalize is a namespace's finalize subresource, which the namespace
// controller writes: it sets spec.finalizers and nothing else; a deleted
// namespace left with no finalizer goes.
func (s *Server) finalize(rt route, contentType string, body []byte) (runtime.Object, error) {
	obj, m, err := s.decode(rt, contentType, body)
	if err != nil {
		return nil, err
	}
	if m.GetName() != rt.name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), rt.name))
	}
	sent, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type Namespace): %T", obj))
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	old, ok := s.currentLocked(rt)
	if !ok {
		return nil, apierrors.NewNotFound(rt.res.groupResource(), rt.name)
	}
	next := old.DeepCopyObject().(*corev1.Namespace)
	next.Spec.Finalizers = sent.Spec.Finalizers
	next.ResourceVersion = sent.ResourceVersion // a precondition when set
	return s.commitLocked(rt, old, next)
}

// managerOf is the field manager of a write: the fieldManager parameter, or
// the client's user agent up to its first slash, as kube-apiserver names it.
func managerOf(req *http.Request) string {
	if strings.Contains(req.URL.RawQuery, "fieldManager") {
		if m := req.URL.Query().Get("fieldManager"); m != "" {
			return m
		}
	}
	ua, _, _ := strings.Cut(req.UserAgent(), "/")
	return ua
}

// deleteCollection deletes every object of rt's namespace (all, for a
// cluster-scoped kind or none given) that the selectors select, each as a
// delete of its own, and answers the list of what it deleted.
func (s *Server) deleteCollection(rt route, q map[string][]string, body []byte) (runtime.Object, error) {
	opts, err := s.deleteOptions(body)
	if err != nil {
		return nil, err
	}
	all, err := s.list(rt, q)
	if err != nil {
		return nil, err
	}
	items, _ := meta.ExtractList(all)
	deleted := make([]runtime.Object, 0, len(items))
	for _, item := range items {
		m, _ := meta.Accessor(item)
		one := rt
		one.namespace, one.name = m.GetNamespace(), m.GetName()
		obj, err := s.deleteObject(one, opts)
		if apierrors.IsNotFound(err) {
			continue // gone meanwhile
		}
		if err != nil {
			return nil, err
		}
		deleted = append(deleted, owned(obj))
	}
	list, err := s.newList(rt.res)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return list, meta.SetList(list, deleted)
}

// delete removes an object, or with finalizers marks it deleted and leaves
// it until they are gone; preconditions on uid and resourceVersion are
// checked first.
func (s *Server) delete(rt route, body []byte) (runtime.Object, error) {
	opts, err := s.deleteOptions(body)
	if err != nil {
		return nil, err
	}
	return s.deleteObject(rt, opts)
}

// deleteOptions reads a delete's body.
func (s *Server) deleteOptions(body []byte) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	if len(body) > 0 {
		gvk := metav1.SchemeGroupVersion.WithKind("DeleteOptions")
		if _, _, err := s.codecs.UniversalDeserializer().Decode(body, &gvk, opts); err != nil {
			return nil, apierrors.NewBadRequest("decoding DeleteOptions: " + err.Error())
		}
	}
	return opts, nil
}

// deleteObject is delete with decoded options.
func (s *Server) deleteObject(rt route, opts *metav1.DeleteOptions) (runtime.Object, error) {
	if len(opts.DryRun) > 0 { // a delete's options come in its body
		if err := validDryRun(opts.DryRun, "DeleteOptions"); err != nil {
			return nil, err
		}
		rt.dryRun = true
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	return s.deleteLocked(rt, opts)
}

// deleteLocked deletes the object rt names as kube-apiserver's registry
// does: preconditions first; the propagation policy's finalizer
// (foregroundDeletion, orphan) added; an object with finalizers is marked
// deleted (a deletionTimestamp, one more generation) and stays until they
// are gone; one without is removed at once.
func (s *Server) deleteLocked(rt route, opts *metav1.DeleteOptions) (runtime.Object, error) {
	old, ok := s.currentLocked(rt)
	if !ok {
		return nil, apierrors.NewNotFound(rt.res.groupResource(), rt.name)
	}
	om, _ := meta.Accessor(old)
	if err := precondition.CheckDelete(rt.res.gvk.GroupKind(), rt.name, opts.Preconditions, om); err != nil {
		return nil, err
	}
	policy, err := propagation(opts)
	if err != nil {
		return nil, err
	}
	if om.GetDeletionTimestamp() != nil {
		return rt.res.served(sharedObject{r: s.store.objects[rt.res.storeGVR()][keyOf(om)]}), nil
	}
	next := old.DeepCopyObject()
	nm, _ := meta.Accessor(next)
	switch policy {
	case metav1.DeletePropagationForeground:
		nm.SetFinalizers(appendMissing(nm.GetFinalizers(), metav1.FinalizerDeleteDependents))
	case metav1.DeletePropagationOrphan:
		nm.SetFinalizers(appendMissing(nm.GetFinalizers(), metav1.FinalizerOrphanDependents))
	}
	if len(finalizersOf(next)) == 0 {
		return s.writeLocked(rt, watch.Deleted, next), nil
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	nm.SetDeletionTimestamp(&now)
	nm.SetDeletionGracePeriodSeconds(new(int64))
	if g := nm.GetGeneration(); g > 0 {
		nm.SetGeneration(g + 1) // kube-apiserver's graceful deletion counts as a change
	}
	if ns, ok := next.(*corev1.Namespace); ok {
		ns.Status.Phase = corev1.NamespaceTerminating
	}
	return s.writeLocked(rt, watch.Modified, next), nil
}

// propagation is a delete's propagation policy: its propagationPolicy, or
// the older orphanDependents; background (the dependents deleted after the
// owner) when it names none.
func propagation(opts *metav1.DeleteOptions) (metav1.DeletionPropagation, error) {
	switch {
	case opts.PropagationPolicy != nil && opts.OrphanDependents != nil:
		return "", apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "DeleteOptions"}, "",
			field.ErrorList{field.Invalid(field.NewPath("propagationPolicy"), *opts.PropagationPolicy, "orphanDependents and deletionPropagation cannot be both set")})
	case opts.PropagationPolicy != nil:
		switch p := *opts.PropagationPolicy; p {
		case metav1.DeletePropagationForeground, metav1.DeletePropagationBackground, metav1.DeletePropagationOrphan:
			return p, nil
		default:
			return "", apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "DeleteOptions"}, "",
				field.ErrorList{field.NotSupported(field.NewPath("propagationPolicy"), p, []string{string(metav1.DeletePropagationForeground), string(metav1.DeletePropagationBackground), string(metav1.DeletePropagationOrphan), "nil"})})
		}
	case opts.OrphanDependents != nil && *opts.OrphanDependents:
		return metav1.DeletePropagationOrphan, nil
	}
	return metav1.DeletePropagationBackground, nil
}

// appendMissing is list with s at the end unless it has it.
func appendMissing(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(slices.Clone(list), s)
}

// currentLocked is the stored object rt names, at rt's version: shared and
// read-only when that is how it is stored, a copy when it was converted.
func (s *Server) currentLocked(rt route) (runtime.Object, bool) {
	obj, ok := s.store.objectLocked(rt.res.storeGVR(), objectKey{rt.namespace, rt.name})
	if ok && rt.res.converts() {
		obj = rt.res.fromStorage(obj)
	}
	return obj, ok
}

// writeLocked stores obj, at rt's version, as a change of type typ, and
// returns it as rt answers it. A dry run stores nothing and answers obj as
// it would have been stored (at the resourceVersion it has: none for a
// create, the stored object's for the others), as kube-apiserver does.
func (s *Server) writeLocked(rt route, typ watch.EventType, obj runtime.Object) runtime.Object {
	if rt.dryRun {
		return obj
	}
	m, _ := meta.Accessor(obj)
	key := keyOf(m)
	prev, _ := s.store.objectLocked(rt.res.storeGVR(), key)
	v := s.store.writeLocked(rt.res.storeGVR(), key, typ, rt.res.toStorage(obj))
	if s.onChange != nil {
		by := s.acting
		if rt.req == nil && by == "" {
			by = "seed"
		}
		s.onChange(Change{Resource: rt.res.storeGVR(), Kind: rt.res.gvk.GroupKind().WithVersion(rt.res.storeGVR().Version), Namespace: key.namespace, Name: key.name, Type: typ,
			Object: v.obj, Previous: prev, ResourceVersion: m.GetResourceVersion(), Request: rt.req, By: by})
	}
	return rt.res.served(sharedObject{r: v})
}

// finalizersOf are what keeps a deleted object: its metadata.finalizers,
// and a namespace's spec.finalizers (the namespace controller's).
func finalizersOf(obj runtime.Object) []string {
	m, _ := meta.Accessor(obj)
	f := m.GetFinalizers()
	if ns, ok := obj.(*corev1.Namespace); ok {
		for _, n := range ns.Spec.Finalizers {
			f = append(f, string(n))
		}
	}
	return f
}

// specOf and statusOf read an object's spec and status: struct fields of a
// Go type, map entries of an unstructured object.
func specOf(obj runtime.Object) any { return part(obj, "Spec", "spec") }

func statusOf(obj runtime.Object) any { return part(obj, "Status", "status") }

func part(obj runtime.Object, field, key string) any {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.Object[key]
	}
	v := reflect.ValueOf(obj).Elem().FieldByName(field)
	if !v.IsValid() {
		return nil
	}
	return v.Interface()
}

// setStatus sets obj's status to status (nil: empty).
func setStatus(obj runtime.Object, status any) { setPart(obj, "Status", "status", status) }

// setPart sets a part of obj (a struct field of a Go type, a map entry of an
// unstructured object) to value (nil: empty).
func setPart(obj runtime.Object, field, key string, value any) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if value == nil {
			delete(u.Object, key)
		} else {
			u.Object[key] = value
		}
		return
	}
	v := reflect.ValueOf(obj).Elem().FieldByName(field)
	if !v.IsValid() {
		return
	}
	if value == nil {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	v.Set(reflect.ValueOf(value))
}

// statusKeepsLabels are the kinds whose status writes cannot change labels,
// as their kube-apiserver status strategies say.
var statusKeepsLabels = sets.New(
	schema.GroupKind{Group: "apps", Kind: "Deployment"}, schema.GroupKind{Group: "apps", Kind: "ReplicaSet"},
	schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, schema.GroupKind{Group: "apps", Kind: "DaemonSet"},
	schema.GroupKind{Kind: "ReplicationController"},
)
