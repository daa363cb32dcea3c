// Package apiserver is the simulator's in-memory Kubernetes API server: an
// HTTP-shaped handler over a resourceVersion-honest object store. It knows
// nothing about time, latency or faults; package sim decides when a request
// arrives and whether it is answered, and calls Serve at the arrival instant.
//
// It is generic over the namespaced resources of client-go's scheme: any
// built-in kind (leases, configmaps, events, ...) can be read and written, with
// JSON or protobuf bodies, and errors come back as metav1.Status bodies built by
// apimachinery, so client-go sees exactly what a real server would send for
// 404, 409 Conflict and 409 AlreadyExists.
package apiserver

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	clienttesting "k8s.io/client-go/testing"

	"github.com/leaderlab/leaderlab/fake"
)

// Verbs, as the Kubernetes audit log names them.
const (
	VerbGet    = "get"
	VerbList   = "list"
	VerbCreate = "create"
	VerbUpdate = "update"
	VerbDelete = "delete"
)

// Request is one HTTP request as it reaches the server.
type Request struct {
	Method      string
	Path        string // URL path without the query
	ContentType string
	Accept      string
	Body        []byte
}

// Route is what a request path and method address.
type Route struct {
	Verb      string
	Resource  schema.GroupVersionResource
	Kind      schema.GroupVersionKind
	Namespace string
	Name      string
}

// Response is the server's answer.
type Response struct {
	Code        int
	ContentType string
	Body        []byte
	// Object is the object stored or read (nil on errors and deletes). It is the
	// server's own copy: callers must not modify it.
	Object runtime.Object
	// Err is the status error of a failed request.
	Err error
}

// Server stores objects and answers requests. It is safe for concurrent use and
// never blocks while holding a lock.
type Server struct {
	tracker clienttesting.ObjectTracker
	stored  *lastStored

	// mu serialises requests and the methods below, so that stored.last
	// is the current write's object and the cache follows the store.
	mu  sync.Mutex
	uid uint64
	// cache holds the stored objects the server last wrote or read, as the
	// server's own copies, so that a read is answered without a deep copy
	// out of the tracker. Every change to the tracker goes through the
	// server, which updates or drops the entry it changes.
	cache map[objectKey]runtime.Object
}

type objectKey struct {
	gvr             schema.GroupVersionResource
	namespace, name string
}

// New returns an empty server.
func New() *Server {
	stored := &lastStored{ObjectTracker: clienttesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder())}
	return &Server{tracker: fake.NewObjectTracker(stored), stored: stored, cache: make(map[objectKey]runtime.Object)}
}

// lastStored sits under leaderlab's resourceVersion-honest tracker, on top of
// client-go's tracker, and keeps the object of the last successful create or
// update as the versioned tracker handed it down: its own copy, with the new
// resourceVersion, equal to what client-go's tracker stored (which keeps a
// deep copy of its own). The server answers a write with it instead of
// reading the object back, which would cost another deep copy per write.
type lastStored struct {
	clienttesting.ObjectTracker
	last runtime.Object
}

func (t *lastStored) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	return t.keep(obj, t.ObjectTracker.Create(gvr, obj, ns, opts...))
}

func (t *lastStored) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	return t.keep(obj, t.ObjectTracker.Update(gvr, obj, ns, opts...))
}

// keep remembers obj if the write that stored it succeeded.
func (t *lastStored) keep(obj runtime.Object, err error) error {
	t.last = nil
	if err == nil {
		t.last = obj
	}
	return err
}

// writtenLocked returns the object the write just made stored and keeps it
// as the cached copy.
func (s *Server) writtenLocked(key objectKey) (runtime.Object, error) {
	obj := s.stored.last
	s.stored.last = nil
	if obj == nil {
		// Not expected: the versioned tracker hands every successful write
		// down. Read it back rather than answer without the object.
		return s.getLocked(key)
	}
	s.cache[key] = obj
	return obj, nil
}

// getLocked returns the stored object: the cached copy if there is one.
func (s *Server) getLocked(key objectKey) (runtime.Object, error) {
	if obj, ok := s.cache[key]; ok {
		return obj, nil
	}
	obj, err := s.tracker.Get(key.gvr, key.namespace, key.name)
	if err != nil {
		return nil, err
	}
	s.cache[key] = obj
	return obj, nil
}

// resources maps a resource to its kind, for every namespaced-able kind of
// client-go's scheme. Built once: the scheme does not change. Keyed by the
// resource itself so that a lookup does not build a string.
var resources = sync.OnceValue(func() map[schema.GroupVersionResource]schema.GroupVersionKind {
	m := make(map[schema.GroupVersionResource]schema.GroupVersionKind)
	for gvk := range scheme.Scheme.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal || strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		obj, err := scheme.Scheme.New(gvk)
		if err != nil {
			continue
		}
		if _, err := meta.Accessor(obj); err != nil {
			continue
		}
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		m[plural] = gvk
	}
	return m
})

// maxSegments is the most path segments a route has:
// apis/GROUP/VERSION/namespaces/NS/RESOURCE/NAME.
const maxSegments = 7

// splitPath splits path at "/" into at most maxSegments parts, ignoring
// leading and trailing slashes, without allocating. ok is false when there
// are more parts.
func splitPath(path string) (parts [maxSegments]string, n int, ok bool) {
	path = strings.Trim(path, "/")
	for path != "" {
		if n == maxSegments {
			return parts, n, false
		}
		seg, rest, _ := strings.Cut(path, "/")
		parts[n], path = seg, rest
		n++
	}
	return parts, n, true
}

// Parse routes a method and path:
// /api/v1/namespaces/NS/RESOURCE[/NAME] and
// /apis/GROUP/VERSION/namespaces/NS/RESOURCE[/NAME].
// It runs for every request, so it does not allocate on success.
func Parse(method, path string) (Route, error) {
	all, n, ok := splitPath(path)
	parts := all[:n]
	var gv schema.GroupVersion
	switch {
	case !ok:
		return Route{}, apierrors.NewNotFound(schema.GroupResource{}, path)
	case len(parts) >= 2 && parts[0] == "api":
		gv, parts = schema.GroupVersion{Version: parts[1]}, parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		gv, parts = schema.GroupVersion{Group: parts[1], Version: parts[2]}, parts[3:]
	default:
		return Route{}, apierrors.NewNotFound(schema.GroupResource{}, path)
	}
	if len(parts) < 3 || len(parts) > 4 || parts[0] != "namespaces" {
		return Route{}, apierrors.NewNotFound(schema.GroupResource{}, path)
	}
	r := Route{Resource: gv.WithResource(parts[2]), Namespace: parts[1]}
	if len(parts) == 4 {
		r.Name = parts[3]
	}
	gvk, ok := resources()[r.Resource]
	if !ok {
		return Route{}, apierrors.NewNotFound(r.Resource.GroupResource(), r.Name)
	}
	r.Kind = gvk
	switch {
	case method == http.MethodGet && r.Name != "":
		r.Verb = VerbGet
	case method == http.MethodGet:
		r.Verb = VerbList
	case method == http.MethodPost && r.Name == "":
		r.Verb = VerbCreate
	case method == http.MethodPut && r.Name != "":
		r.Verb = VerbUpdate
	case method == http.MethodDelete && r.Name != "":
		r.Verb = VerbDelete
	default:
		return Route{}, apierrors.NewMethodNotSupported(r.Resource.GroupResource(), strings.ToLower(method))
	}
	return r, nil
}

// Serve answers one request at the current (virtual) time.
func (s *Server) Serve(req Request) Response {
	route, err := Parse(req.Method, req.Path)
	if err != nil {
		return ErrorResponse(err, req.Accept)
	}
	return s.ServeRoute(route, req)
}

// ServeRoute answers a request whose route the caller has already parsed.
func (s *Server) ServeRoute(route Route, req Request) Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, code, err := s.applyLocked(route, req)
	if err != nil {
		return ErrorResponse(err, req.Accept)
	}
	if obj == nil {
		obj = &metav1.Status{Status: metav1.StatusSuccess, Code: int32(code)}
	}
	// Encoding sets and restores the object's kind, so a cached object is
	// encoded under s.mu.
	resp := encode(obj, code, route.Kind.GroupVersion(), req.Accept)
	if _, ok := obj.(*metav1.Status); !ok {
		resp.Object = obj
	}
	return resp
}

func (s *Server) applyLocked(r Route, req Request) (runtime.Object, int, error) {
	key := objectKey{r.Resource, r.Namespace, r.Name}
	switch r.Verb {
	case VerbGet:
		obj, err := s.getLocked(key)
		return obj, http.StatusOK, err
	case VerbList:
		obj, err := s.tracker.List(r.Resource, r.Kind, r.Namespace)
		return obj, http.StatusOK, err
	case VerbDelete:
		delete(s.cache, key)
		return nil, http.StatusOK, s.tracker.Delete(r.Resource, r.Namespace, r.Name)
	}
	obj, m, err := decodeBody(r, req)
	if err != nil {
		return nil, 0, err
	}
	if r.Verb == VerbCreate {
		if m.GetName() == "" && m.GetGenerateName() != "" {
			m.SetName(m.GetGenerateName() + strconv.FormatUint(s.nextUIDLocked(), 36))
		}
		if m.GetName() == "" {
			return nil, 0, apierrors.NewBadRequest("name or generateName is required")
		}
		m.SetUID(types.UID("uid-" + strconv.FormatUint(s.nextUIDLocked(), 10)))
		m.SetCreationTimestamp(metav1.NewTime(time.Now()))
		if err := s.tracker.Create(r.Resource, obj, r.Namespace); err != nil {
			return nil, 0, err
		}
		key.name = m.GetName()
		stored, err := s.writtenLocked(key)
		return stored, http.StatusCreated, err
	}
	// VerbUpdate
	if m.GetName() != r.Name {
		return nil, 0, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), r.Name))
	}
	if err := s.tracker.Update(r.Resource, obj, r.Namespace); err != nil {
		return nil, 0, err
	}
	stored, err := s.writtenLocked(key)
	return stored, http.StatusOK, err
}

func (s *Server) nextUIDLocked() uint64 {
	s.uid++
	return s.uid
}

func decodeBody(r Route, req Request) (runtime.Object, metav1.Object, error) {
	obj, gvk, err := scheme.Codecs.UniversalDeserializer().Decode(req.Body, nil, nil)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest("decoding body: " + err.Error())
	}
	if *gvk != r.Kind {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("body is a %v, the path addresses %v", *gvk, r.Kind))
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	if ns := m.GetNamespace(); ns != "" && ns != r.Namespace {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the namespace of the object (%s) does not match the namespace on the request (%s)", ns, r.Namespace))
	}
	m.SetNamespace(r.Namespace)
	return obj, m, nil
}

// ErrorResponse encodes err as the metav1.Status body a real API server sends.
func ErrorResponse(err error, accept string) Response {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		status = apierrors.NewInternalError(err)
	}
	st := status.Status()
	resp := encode(&st, int(st.Code), metav1.SchemeGroupVersion, accept)
	resp.Err = err
	return resp
}

const protobufType = runtime.ContentTypeProtobuf

// codecs encodes without conversion: stored objects are already versioned.
var codecs = scheme.Codecs.WithoutConversion()

type encoderKey struct {
	mediaType string
	gv        schema.GroupVersion
}

var encoders sync.Map // encoderKey -> runtime.Encoder

func encode(obj runtime.Object, code int, gv schema.GroupVersion, accept string) Response {
	mediaType := negotiate(accept)
	key := encoderKey{mediaType, gv}
	enc, ok := encoders.Load(key)
	if !ok {
		info, _ := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), mediaType)
		enc, _ = encoders.LoadOrStore(key, codecs.EncoderForVersion(info.Serializer, gv))
	}
	body, err := runtime.Encode(enc.(runtime.Encoder), obj)
	if err != nil {
		st := apierrors.NewInternalError(err).Status()
		body, _ = runtime.Encode(enc.(runtime.Encoder), &st)
		code = int(st.Code)
	}
	return Response{Code: code, ContentType: mediaType, Body: body}
}

// negotiate picks protobuf when the client accepts it first, else JSON. A
// client sends the same Accept header with every request, so the last answer
// is kept.
func negotiate(accept string) string {
	if last := lastNegotiated.Load(); last != nil && last.accept == accept {
		return last.mediaType
	}
	mt := negotiateSlow(accept)
	lastNegotiated.Store(&negotiated{accept, mt})
	return mt
}

type negotiated struct{ accept, mediaType string }

var lastNegotiated atomic.Pointer[negotiated]

func negotiateSlow(accept string) string {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case protobufType:
			return protobufType
		case runtime.ContentTypeJSON, "*/*":
			return runtime.ContentTypeJSON
		}
	}
	return runtime.ContentTypeJSON
}

// Get returns the stored object (a copy).
func (s *Server) Get(gvr schema.GroupVersionResource, namespace, name string) (runtime.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tracker.Get(gvr, namespace, name)
}

// Update stores obj unconditionally when its resourceVersion is empty, as a
// foreign writer with an unconditional PUT would.
func (s *Server) Update(gvr schema.GroupVersionResource, obj runtime.Object) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cache, objectKey{gvr, m.GetNamespace(), m.GetName()})
	return s.tracker.Update(gvr, obj, m.GetNamespace())
}

// Delete removes an object.
func (s *Server) Delete(gvr schema.GroupVersionResource, namespace, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cache, objectKey{gvr, namespace, name})
	return s.tracker.Delete(gvr, namespace, name)
}

// Add stores obj as if it had been created before the run. The tracker
// derives the resource from obj's kind, so every cached copy is dropped.
func (s *Server) Add(obj runtime.Object) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.cache)
	return s.tracker.Add(obj)
}
