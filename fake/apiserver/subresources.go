package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The subresources of built-in kinds that controllers write, beside status
// and scale: a pod's eviction and binding, a certificate signing request's
// approval, a service account's token. Each does what its kube-apiserver
// registry does to the stored objects.

var (
	podsGVR            = corev1.SchemeGroupVersion.WithResource("pods")
	serviceAccountsGVR = corev1.SchemeGroupVersion.WithResource("serviceaccounts")
	csrsGVR            = certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests")
)

// builtinSubresources are the subresources of this file, by resource, as
// discovery lists them (the name is the resource's, then the subresource).
var builtinSubresources = map[schema.GroupVersionResource]map[string]metav1.APIResource{
	podsGVR: {
		"eviction": {Group: "policy", Version: "v1", Kind: "Eviction", Verbs: metav1.Verbs{"create"}},
		"binding":  {Kind: "Binding", Verbs: metav1.Verbs{"create"}},
	},
	csrsGVR:            {"approval": {Kind: "CertificateSigningRequest", Verbs: metav1.Verbs{"get", "patch", "update"}}},
	serviceAccountsGVR: {"token": {Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest", Verbs: metav1.Verbs{"create"}}},
}

// created is kube-apiserver's answer to a create of a subresource that
// answers no object: a Status of success.
func created() *metav1.Status {
	return &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated}
}

// subresource serves the POSTs of this file; approval's PUT and PATCH are
// updates (see commitLocked).
func (s *Server) subresource(req *http.Request, rt route) (runtime.Object, int, error) {
	if req.Method != http.MethodPost {
		return nil, 0, s.methodNotAllowed(req, rt.res)
	}
	body, err := readAll(req)
	if err != nil {
		return nil, 0, err
	}
	switch rt.subresource {
	case "eviction":
		ev := &policyv1.Eviction{}
		if err := s.decodeInto(body, req.Header.Get("Content-Type"), policyv1.SchemeGroupVersion.WithKind("Eviction"), ev); err != nil {
			return nil, 0, err
		}
		obj, err := s.evict(rt, ev)
		return obj, http.StatusCreated, err
	case "binding":
		b := &corev1.Binding{}
		if err := s.decodeInto(body, req.Header.Get("Content-Type"), corev1.SchemeGroupVersion.WithKind("Binding"), b); err != nil {
			return nil, 0, err
		}
		obj, err := s.bind(rt, b)
		return obj, http.StatusCreated, err
	case "token":
		tr := &authenticationv1.TokenRequest{}
		if err := s.decodeInto(body, req.Header.Get("Content-Type"), authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"), tr); err != nil {
			return nil, 0, err
		}
		obj, err := s.token(rt, tr)
		return obj, http.StatusCreated, err
	}
	return nil, 0, s.methodNotAllowed(req, rt.res)
}

// decodeInto reads a body of a built-in kind.
func (s *Server) decodeInto(body []byte, contentType string, gvk schema.GroupVersionKind, into runtime.Object) error {
	switch mediaType(contentType) {
	case mediaJSON, mediaYAML, mediaProtobuf, "":
	default:
		return unsupportedMediaType(mediaJSON, mediaYAML, mediaProtobuf)
	}
	if _, _, err := s.codecs.UniversalDeserializer().Decode(body, &gvk, into); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type %s): %v", gvk.Kind, err))
	}
	return nil
}

// evict deletes a pod with the eviction's options. PodDisruptionBudgets
// are not consulted: their status, which decides, comes from
// kube-controller-manager's disruption controller, which this server does
// not run (on envtest, kube-apiserver waits for it in vain).
func (s *Server) evict(rt route, ev *policyv1.Eviction) (runtime.Object, error) {
	opts := ev.DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	if _, err := s.deleteLocked(rt, opts); err != nil {
		return nil, err
	}
	return created(), nil
}

// bind assigns a pod to a node, as the scheduler does: spec.nodeName, the
// binding's annotations, and the PodScheduled condition.
func (s *Server) bind(rt route, b *corev1.Binding) (runtime.Object, error) {
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return nil, apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, b.Name, nil)
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	current, ok := s.currentLocked(rt)
	if !ok {
		return nil, apierrors.NewNotFound(rt.res.groupResource(), rt.name)
	}
	pod := current.DeepCopyObject().(*corev1.Pod)
	if pod.Spec.NodeName != "" {
		return nil, apierrors.NewConflict(schema.GroupResource{Resource: "pods/binding"}, rt.name,
			fmt.Errorf("pod %s is already assigned to node %q", rt.name, pod.Spec.NodeName))
	}
	if b.UID != "" && b.UID != pod.UID {
		return nil, apierrors.NewConflict(schema.GroupResource{Resource: "pods/binding"}, rt.name,
			fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
	}
	pod.Spec.NodeName = b.Target.Name
	for k, v := range b.Annotations {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[k] = v
	}
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Now().Truncate(time.Second))}
	if i := slices.IndexFunc(pod.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == corev1.PodScheduled }); i >= 0 {
		pod.Status.Conditions[i] = cond
	} else {
		pod.Status.Conditions = append(pod.Status.Conditions, cond)
	}
	if _, err := s.commitLocked(rt, current, pod); err != nil {
		return nil, err
	}
	return created(), nil
}

// token issues a service account token: an unsigned JWT naming the account,
// which no one here verifies, with the expiry asked for (an hour by default).
func (s *Server) token(rt route, tr *authenticationv1.TokenRequest) (runtime.Object, error) {
	current, err := s.getObject(rt)
	if err != nil {
		return nil, err
	}
	sa := owned(current).(*corev1.ServiceAccount)
	seconds := int64(3600)
	if tr.Spec.ExpirationSeconds != nil {
		seconds = *tr.Spec.ExpirationSeconds
	}
	expires := time.Now().Add(time.Duration(seconds) * time.Second).Truncate(time.Second)
	claims, _ := json.Marshal(map[string]any{
		"aud": tr.Spec.Audiences, "exp": expires.Unix(), "iat": time.Now().Unix(),
		"sub":           "system:serviceaccount:" + sa.Namespace + ":" + sa.Name,
		"kubernetes.io": map[string]any{"namespace": sa.Namespace, "serviceaccount": map[string]any{"name": sa.Name, "uid": sa.UID}},
	})
	enc := base64.RawURLEncoding.EncodeToString
	out := tr.DeepCopy()
	out.SetGroupVersionKind(authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"))
	out.Name, out.Namespace = sa.Name, sa.Namespace
	out.Spec.ExpirationSeconds = &seconds
	out.Status = authenticationv1.TokenRequestStatus{
		Token:               enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(claims) + ".",
		ExpirationTimestamp: metav1.NewTime(expires),
	}
	return out, nil
}

// approve keeps of an approval write only the conditions, as the approval
// subresource of certificate signing requests does.
func approve(next, old runtime.Object) runtime.Object {
	n, ok := next.(*certificatesv1.CertificateSigningRequest)
	o, ok2 := old.(*certificatesv1.CertificateSigningRequest)
	if !ok || !ok2 {
		return next
	}
	out := o.DeepCopy()
	out.ObjectMeta = n.ObjectMeta
	out.Status.Conditions = n.Status.Conditions
	return out
}
