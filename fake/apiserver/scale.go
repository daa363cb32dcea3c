package apiserver

import (
	"fmt"
	"net/http"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// The scale subresource, as kube-apiserver's registries serve it for a
// custom resource whose CRD declares one and for the built-in workloads
// (Deployment, ReplicaSet, StatefulSet, ReplicationController): an
// autoscaling/v1 Scale read from the replica and selector paths; a write of
// the Scale sets spec replicas in the object and goes through the object's
// own update rules.

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// scalePaths are where an object keeps what its Scale shows.
type scalePaths struct {
	spec, status, selector string
	// selector is a string for a custom resource; for the built-in kinds it
	// is a label selector (a set of labels for ReplicationController).
	selectorKind selectorKind
}

type selectorKind int

const (
	selectorString selectorKind = iota
	selectorLabelSelector
	selectorSet
)

// builtinScale are the built-in kinds with a scale subresource.
var builtinScale = map[schema.GroupKind]scalePaths{
	{Group: "apps", Kind: "Deployment"}:  {".spec.replicas", ".status.replicas", ".spec.selector", selectorLabelSelector},
	{Group: "apps", Kind: "ReplicaSet"}:  {".spec.replicas", ".status.replicas", ".spec.selector", selectorLabelSelector},
	{Group: "apps", Kind: "StatefulSet"}: {".spec.replicas", ".status.replicas", ".spec.selector", selectorLabelSelector},
	{Kind: "ReplicationController"}:      {".spec.replicas", ".status.replicas", ".spec.selector", selectorSet},
}

// scalePaths are r's scale subresource, if it has one.
func (r *resource) scalePaths() (scalePaths, bool) {
	if r.custom != nil {
		if sc := r.custom.scale; sc != nil {
			return scalePaths{sc.SpecReplicasPath, sc.StatusReplicasPath, labelSelectorPath(sc.LabelSelectorPath), selectorString}, true
		}
		return scalePaths{}, false
	}
	p, ok := builtinScale[r.gvk.GroupKind()]
	return p, ok
}

// scale serves GET, PUT and PATCH of rt's scale subresource.
func (s *Server) scale(req *http.Request, rt route) (runtime.Object, error) {
	paths, _ := rt.res.scalePaths()
	if req.Method == http.MethodGet {
		obj, err := s.getObject(rt)
		if err != nil {
			return nil, err
		}
		sc, found, err := paths.scaleOf(owned(obj))
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		if !found {
			return nil, apierrors.NewInternalError(fmt.Errorf("the spec replicas field %q does not exist", paths.spec))
		}
		return sc, nil
	}
	if req.Method != http.MethodPut && req.Method != http.MethodPatch {
		return nil, s.methodNotAllowed(req, rt.res)
	}
	body, err := readAll(req)
	if err != nil {
		return nil, err
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	current, ok := s.currentLocked(rt)
	if !ok {
		return nil, apierrors.NewNotFound(rt.res.groupResource(), rt.name)
	}
	oldScale, found, err := paths.scaleOf(current)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	const unset = -2147483648 // kube-apiserver's mark for replicas that were never set
	if !found {
		oldScale.Spec.Replicas = unset
	}
	var next *autoscalingv1.Scale
	if req.Method == http.MethodPut {
		next, err = s.decodeScale(req.Header.Get("Content-Type"), body)
	} else {
		next, err = s.patchScale(types.PatchType(mediaType(req.Header.Get("Content-Type"))), oldScale, body)
	}
	if err != nil {
		return nil, err
	}
	if next.Name != rt.name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", next.Name, rt.name))
	}
	if next.Spec.Replicas == unset {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the spec replicas field %q cannot be empty", paths.spec))
	}
	u, err := asUnstructured(current)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if err := unstructured.SetNestedField(u.Object, int64(next.Spec.Replicas), splitPath(paths.spec)...); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	u.SetResourceVersion(next.ResourceVersion) // a precondition when set
	scaled := runtime.Object(u)
	if rt.res.typed {
		if scaled, err = s.empty(rt.res); err == nil {
			err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, scaled)
		}
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
	}
	written, err := s.commitLocked(rt, current, scaled)
	if err != nil {
		return nil, err
	}
	sc, _, err := paths.scaleOf(owned(written))
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return sc, nil
}

// asUnstructured is a copy of obj as an unstructured object.
func asUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.DeepCopy(), nil
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	return &unstructured.Unstructured{Object: content}, err
}

func labelSelectorPath(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// splitPath splits a CRD's JSON path (".spec.replicas").
func splitPath(p string) []string { return strings.Split(strings.TrimPrefix(p, "."), ".") }

// scaleOf is the Scale of obj; found says whether spec replicas are set.
func (p scalePaths) scaleOf(obj runtime.Object) (*autoscalingv1.Scale, bool, error) {
	cr, err := asUnstructured(obj)
	if err != nil {
		return nil, false, err
	}
	specReplicas, found, err := unstructured.NestedInt64(cr.Object, splitPath(p.spec)...)
	if err != nil {
		return nil, false, err
	}
	if !found && p.selectorKind != selectorString {
		// The built-in workloads' replicas default to 1 on kube-apiserver,
		// which defaults what this server does not.
		specReplicas, found = 1, true
	}
	statusReplicas, _, err := unstructured.NestedInt64(cr.Object, splitPath(p.status)...)
	if err != nil {
		return nil, false, err
	}
	var selector string
	switch {
	case p.selector == "":
	case p.selectorKind == selectorString:
		if selector, _, err = unstructured.NestedString(cr.Object, splitPath(p.selector)...); err != nil {
			return nil, false, err
		}
	case p.selectorKind == selectorSet:
		set, _, err := unstructured.NestedStringMap(cr.Object, splitPath(p.selector)...)
		if err != nil {
			return nil, false, err
		}
		selector = labels.SelectorFromSet(set).String()
	default:
		raw, _, err := unstructured.NestedMap(cr.Object, splitPath(p.selector)...)
		if err != nil {
			return nil, false, err
		}
		ls := &metav1.LabelSelector{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, ls); err != nil {
			return nil, false, err
		}
		sel, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return nil, false, err
		}
		selector = sel.String()
	}
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{Name: cr.GetName(), Namespace: cr.GetNamespace(), UID: cr.GetUID(),
			ResourceVersion: cr.GetResourceVersion(), CreationTimestamp: cr.GetCreationTimestamp()},
		Spec:   autoscalingv1.ScaleSpec{Replicas: int32(specReplicas)},
		Status: autoscalingv1.ScaleStatus{Replicas: int32(statusReplicas), Selector: selector},
	}, found, nil
}

// decodeScale reads a Scale sent with PUT.
func (s *Server) decodeScale(contentType string, body []byte) (*autoscalingv1.Scale, error) {
	switch mediaType(contentType) {
	case mediaJSON, mediaYAML, mediaProtobuf, "":
	default:
		return nil, unsupportedMediaType(mediaJSON, mediaYAML, mediaProtobuf)
	}
	sc := &autoscalingv1.Scale{}
	gvk := scaleGVK
	if _, _, err := s.codecs.UniversalDeserializer().Decode(body, &gvk, sc); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type Scale): %v", err))
	}
	return sc, nil
}

// patchScale applies a patch to the Scale as it is now.
func (s *Server) patchScale(pt types.PatchType, old *autoscalingv1.Scale, body []byte) (*autoscalingv1.Scale, error) {
	original, err := s.encode(old, mediaJSON)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	var patched []byte
	switch pt {
	case types.JSONPatchType:
		var p jsonpatch.Patch
		if p, err = jsonpatch.DecodePatch(body); err == nil {
			patched, err = p.Apply(original)
		}
	case types.MergePatchType:
		patched, err = jsonpatch.MergePatch(original, body)
	case types.StrategicMergePatchType:
		patched, err = strategicpatch.StrategicMergePatch(original, body, &autoscalingv1.Scale{})
	case types.ApplyYAMLPatchType:
		// What a Scale's apply can set is spec.replicas: merged as a merge
		// patch of the configuration (field ownership of the replicas is not
		// tracked).
		var j []byte
		if j, err = yaml.YAMLToJSON(body); err == nil {
			patched, err = jsonpatch.MergePatch(original, j)
		}
	default:
		return nil, unsupportedMediaType(string(types.JSONPatchType), string(types.MergePatchType), string(types.StrategicMergePatchType), string(types.ApplyYAMLPatchType))
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return s.decodeScale(mediaJSON, patched)
}
