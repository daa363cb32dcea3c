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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// The scale subresource of a custom resource, as kube-apiserver's registry
// serves it: an autoscaling/v1 Scale read from the CRD's replica and
// selector paths; a write of the Scale sets spec replicas in the custom
// resource and goes through the resource's own update rules.

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// scale serves GET, PUT and PATCH of rt's scale subresource.
func (s *Server) scale(req *http.Request, rt route) (runtime.Object, error) {
	spec := rt.res.custom.scale
	if req.Method == http.MethodGet {
		obj, err := s.getObject(rt)
		if err != nil {
			return nil, err
		}
		sc, found, err := scaleOf(owned(obj).(*unstructured.Unstructured), spec.SpecReplicasPath, spec.StatusReplicasPath, labelSelectorPath(spec.LabelSelectorPath))
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		if !found {
			return nil, apierrors.NewInternalError(fmt.Errorf("the spec replicas field %q does not exist", spec.SpecReplicasPath))
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
	old := current.DeepCopyObject().(*unstructured.Unstructured)
	oldScale, found, err := scaleOf(old, spec.SpecReplicasPath, spec.StatusReplicasPath, labelSelectorPath(spec.LabelSelectorPath))
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
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the spec replicas field %q cannot be empty", spec.SpecReplicasPath))
	}
	cr := old.DeepCopy()
	if err := unstructured.SetNestedField(cr.Object, int64(next.Spec.Replicas), splitPath(spec.SpecReplicasPath)...); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	cr.SetResourceVersion(next.ResourceVersion) // a precondition when set
	written, err := s.commitLocked(rt, current, cr)
	if err != nil {
		return nil, err
	}
	sc, _, err := scaleOf(owned(written).(*unstructured.Unstructured), spec.SpecReplicasPath, spec.StatusReplicasPath, labelSelectorPath(spec.LabelSelectorPath))
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return sc, nil
}

func labelSelectorPath(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// splitPath splits a CRD's JSON path (".spec.replicas").
func splitPath(p string) []string { return strings.Split(strings.TrimPrefix(p, "."), ".") }

// scaleOf is the Scale of cr; found says whether spec replicas are set.
func scaleOf(cr *unstructured.Unstructured, specPath, statusPath, selectorPath string) (*autoscalingv1.Scale, bool, error) {
	specReplicas, found, err := unstructured.NestedInt64(cr.Object, splitPath(specPath)...)
	if err != nil {
		return nil, false, err
	}
	statusReplicas, _, err := unstructured.NestedInt64(cr.Object, splitPath(statusPath)...)
	if err != nil {
		return nil, false, err
	}
	var selector string
	if selectorPath != "" {
		if selector, _, err = unstructured.NestedString(cr.Object, splitPath(selectorPath)...); err != nil {
			return nil, false, err
		}
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
	default:
		return nil, unsupportedMediaType(string(types.JSONPatchType), string(types.MergePatchType), string(types.StrategicMergePatchType))
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return s.decodeScale(mediaJSON, patched)
}
