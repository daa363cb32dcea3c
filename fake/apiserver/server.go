package apiserver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// Server is an in-memory Kubernetes API server that real clients live on:
// client-go's typed, dynamic and discovery clients, informers, and
// controller-runtime's client, cache and manager reach it through Config, an
// http.RoundTripper with no sockets. It keeps etcd's resourceVersion
// semantics, serves discovery, get, list, watch (resumed from a bounded event
// log, watch-list, bookmarks), create, update, patch, delete and the status
// subresource, in JSON and protobuf, and answers every failure with the
// apimachinery status error kube-apiserver sends. Its limits are in the
// package documentation.
//
// It is safe for concurrent use and never blocks while it holds a lock, so it
// also works inside a testing/synctest bubble.
type Server struct {
	scheme *runtime.Scheme
	codecs serializer.CodecFactory
	// strictJSON and strictYAML decode the Go types and report the fields
	// they do not know.
	strictJSON, strictYAML runtime.Decoder
	store                  *store

	// table is the resource table: the scheme's kinds and WithKind's, and
	// the custom resources of the CRDs stored now. A CRD written through the
	// API replaces it (under crdMu), so that discovery and routing follow.
	table atomic.Pointer[resources]
	kinds []resource
	crdMu sync.Mutex
	// served are the served resources of each stored CRD, by CRD name.
	served map[string]servedCRD

	// controllers run on the store; pass is true while a pass of theirs is
	// scheduled (under the store's lock).
	controllers Controllers
	pass        bool

	managers fieldManagers

	mu       sync.Mutex
	uid      uint64
	unserved []string
	// onUnserved is told of every request the server cannot serve.
	onUnserved func(method, path, why string)
	// onChange is told of every stored write; acting names the server's
	// controller that writes now (under the store's lock), if one does.
	onChange func(Change)
	acting   string
}

// Option configures New.
type Option func(*config)

type config struct {
	scheme      *runtime.Scheme
	objects     []runtime.Object
	kinds       []resource
	crds        []*apiextensionsv1.CustomResourceDefinition
	crdPaths    []string
	logSize     int
	controllers Controllers
}

// WithScheme serves the kinds of s instead of client-go's scheme: add your
// own Go types to a scheme that also has client-go's. A kind of yours with
// no CRD (WithCRDs, WithCRDPaths) has no schema and is namespaced, since a
// scheme does not record scope; with a CRD, the CRD's rules and scope serve
// it.
func WithScheme(s *runtime.Scheme) Option {
	return func(c *config) { c.scheme = s }
}

// WithObjects stores objs before the server answers anything, as if created
// then (their namespaces need not exist).
func WithObjects(objs ...runtime.Object) Option {
	return func(c *config) { c.objects = append(c.objects, objs...) }
}

// WithKind serves a kind that has no Go type, stored as unstructured objects
// under the resource plural (lower-case kind + "s" when empty); namespaced
// says its scope. Its objects have a status subresource when status is set.
func WithKind(gvk schema.GroupVersionKind, plural string, namespaced, status bool) Option {
	return func(c *config) {
		gvr, singular := metaGuess(gvk, plural)
		c.kinds = append(c.kinds, resource{gvr: gvr, gvk: gvk, singular: singular, namespaced: namespaced, status: status, generation: generationFromCreate})
	}
}

// WithEventLog keeps the last n events (default 10,000) for watches that
// resume from a resourceVersion; an older one gets 410 Gone.
func WithEventLog(n int) Option {
	return func(c *config) { c.logSize = n }
}

// DefaultEventLog is how many events a Server keeps for resuming watches.
const DefaultEventLog = 10000

// builtinNamespaces exist from the start, as on every cluster.
var builtinNamespaces = []string{"default", "kube-node-lease", "kube-public", "kube-system"}

// kubernetesService is the Service kube-apiserver keeps for itself in the
// default namespace, as it creates it (its target port is kube-apiserver's
// secure port, 6443 by default).
func kubernetesService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.0.0.1", ClusterIPs: []string{"10.0.0.1"},
			Ports:           []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(6443)}},
			SessionAffinity: corev1.ServiceAffinityNone, IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy:        ptr.To(corev1.IPFamilyPolicySingleStack),
			InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
		},
	}
}

// New returns a server with the built-in namespaces, the custom resources of
// the CRDs it is given, and the seed objects. Options that cannot work (a
// malformed CRD, a CRD file that cannot be read, a seed object of a kind it
// does not serve, a non-positive event log) are an error that names the
// option, the object and the field.
func New(opts ...Option) (*Server, error) {
	cfg := config{scheme: clientgoscheme.Scheme, logSize: DefaultEventLog}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logSize < 1 {
		return nil, fmt.Errorf("apiserver: WithEventLog (%d) must be at least 1", cfg.logSize)
	}
	s := &Server{scheme: cfg.scheme, codecs: serializer.NewCodecFactory(cfg.scheme), store: newStore(cfg.logSize),
		strictJSON: json.NewSerializerWithOptions(json.DefaultMetaFactory, cfg.scheme, cfg.scheme, json.SerializerOptions{Strict: true}),
		strictYAML: json.NewSerializerWithOptions(json.DefaultMetaFactory, cfg.scheme, cfg.scheme, json.SerializerOptions{Strict: true, Yaml: true}),
		kinds:      append(cfg.kinds, crdResource), served: make(map[string]servedCRD)}
	s.table.Store(newResources(cfg.scheme, s.kinds))
	s.controllers = cfg.controllers
	s.store.onWrite = func(ev *logEvent) {
		if ev.gvr == crdsGVR {
			s.syncCRDsLocked()
		}
		s.wakeLocked(ev)
	}
	fromPaths, err := readCRDs(cfg.crdPaths)
	if err != nil {
		return nil, err
	}
	for _, crd := range append(cfg.crds, fromPaths...) {
		if err := s.addCRD(crd); err != nil {
			return nil, fmt.Errorf("apiserver: %w", err)
		}
	}
	seed := make([]runtime.Object, 0, len(builtinNamespaces)+len(cfg.objects))
	for _, ns := range builtinNamespaces {
		seed = append(seed, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	seed = append(seed, kubernetesService())
	for _, obj := range append(seed, cfg.objects...) {
		if err := s.Add(obj); err != nil {
			return nil, fmt.Errorf("apiserver: WithObjects: %w", err)
		}
	}
	return s, nil
}

// res is the resource table now.
func (s *Server) res() *resources { return s.table.Load() }

// Add stores obj as if created now, bypassing every check but the scheme:
// seed data for a test.
func (s *Server) Add(obj runtime.Object) error {
	r, err := s.resourceOf(obj)
	if err != nil {
		return err
	}
	obj = obj.DeepCopyObject()
	m, _ := meta.Accessor(obj)
	if !r.namespaced {
		m.SetNamespace("")
	} else if m.GetNamespace() == "" {
		m.SetNamespace(metav1.NamespaceDefault)
	}
	s.stamp(r, m)
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	if _, ok := s.store.objectLocked(r.storeGVR(), keyOf(m)); ok {
		return apierrors.NewAlreadyExists(r.groupResource(), m.GetName())
	}
	s.writeLocked(route{res: r}, watch.Added, obj)
	return nil
}

// Compact forgets the server's watch history, as etcd's compaction and a
// restarted kube-apiserver's empty watch cache do: a watch from any version
// before now is answered 410 Expired, and its client lists again. Watches
// already open go on.
func (s *Server) Compact() {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	s.store.dropped, s.store.log = s.store.rv, nil
}

// Get returns a copy of the stored object, bypassing every client: for
// assertions in a test.
func (s *Server) Get(gvr schema.GroupVersionResource, namespace, name string) (runtime.Object, error) {
	r, ok := s.res().byGVR[gvr]
	if !ok {
		return nil, fmt.Errorf("apiserver: the server does not serve %v", gvr)
	}
	obj, err := s.getObject(route{res: r, namespace: namespace, name: name})
	return owned(obj), err
}

// resourceOf finds the resource that stores obj's kind.
func (s *Server) resourceOf(obj runtime.Object) (*resource, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Empty() {
		gvks, _, err := s.scheme.ObjectKinds(obj)
		if err != nil {
			return nil, fmt.Errorf("apiserver: %T is not in the server's scheme: %w", obj, err)
		}
		gvk = gvks[0]
	}
	for _, r := range s.res().byGVR {
		if r.gvk == gvk {
			return r, nil
		}
	}
	return nil, fmt.Errorf("apiserver: the server does not serve kind %v", gvk)
}

// stamp gives a new object what the server sets on create.
func (s *Server) stamp(r *resource, m metav1.Object) {
	s.mu.Lock()
	s.uid++
	uid := s.uid
	s.mu.Unlock()
	m.SetUID(types.UID(fmt.Sprintf("00000000-0000-4000-8000-%012d", uid)))
	m.SetCreationTimestamp(metav1.NewTime(time.Now().Truncate(time.Second)))
	if r.generation == generationFromCreate {
		m.SetGeneration(1)
	}
	if ns, ok := m.(*corev1.Namespace); ok {
		ns.Status.Phase = corev1.NamespaceActive
		if len(ns.Spec.Finalizers) == 0 {
			ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		}
	}
}

// Config reaches the server through an in-memory RoundTripper; each call
// returns a new config to change as you like. It has no client-side
// throttling (QPS -1), which would only slow a test down; set QPS and Burst
// to test yours.
func (s *Server) Config() *rest.Config {
	return &rest.Config{Host: "http://leaderlab.apiserver", Transport: roundTripper{s}, QPS: -1}
}

// Unserved lists the requests the server could not serve though
// kube-apiserver would (a path of a built-in group it lacks, an unsupported
// verb or patch type, or a server error of its own, 5xx), as
// "METHOD PATH: why", oldest first.
// Each was answered with a status error; a test whose code ran into one
// should usually fail.
func (s *Server) Unserved() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unserved...)
}

// OnUnserved sets a function told of every request the server cannot serve,
// at the moment it answers it: the simulator makes each an invariant
// violation.
func (s *Server) OnUnserved(fn func(method, path, why string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onUnserved = fn
}

func (s *Server) unservable(req *http.Request, err apierrors.APIStatus) error {
	s.record(req.Method, req.URL.Path, err.Status().Message)
	return err.(error)
}

// record lists what the server could not serve and tells onUnserved.
func (s *Server) record(method, path, why string) {
	s.mu.Lock()
	s.unserved = append(s.unserved, method+" "+path+": "+why)
	fn := s.onUnserved
	s.mu.Unlock()
	if fn != nil {
		fn(method, path, why)
	}
}

// roundTripper serves requests in memory: a plain request is answered at
// once; a watch's body streams from a goroutine that ends with the stream.
type roundTripper struct{ s *Server }

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if isWatch(req) {
		return t.s.watchResponse(req), nil
	}
	w := httptest.NewRecorder()
	t.s.ServeHTTP(w, req)
	resp := w.Result()
	resp.Request = req
	return resp, nil
}

// ServeHTTP serves one request; a Server is also an http.Handler, for
// an httptest.Server when a client needs a socket.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Body != nil {
		defer func() { _ = req.Body.Close() }()
	}
	obj, code, err := s.serve(req, w)
	if errors.Is(err, errStreamed) {
		return
	}
	if err != nil {
		s.writeError(w, req, err)
		return
	}
	s.writeObject(w, req, code, obj)
}

// errStreamed says the handler already wrote the answer (a watch).
var errStreamed = errors.New("streamed")

func isWatch(req *http.Request) bool {
	if req.Method != http.MethodGet || !strings.Contains(req.URL.RawQuery, "watch") {
		return false // most requests: no query to parse
	}
	v := req.URL.Query().Get("watch")
	return v == "true" || v == "1"
}

// route is what a path addresses.
type route struct {
	res         *resource
	namespace   string
	name        string
	subresource string
	// fieldValidation is the request's fieldValidation parameter; warnings
	// collect what the answer's Warning headers will say.
	fieldValidation string
	warnings        *[]string
	// dryRun is a write that goes through every rule and is not stored.
	dryRun bool
	// undeclared is a subresource of a custom resource its CRD does not
	// declare.
	undeclared bool
	// req is the request being served; nil for the server's own writes.
	req *http.Request
}

// optionsKinds are the options of each write, as kube-apiserver names them
// in their validation errors.
var optionsKinds = map[string]string{http.MethodPost: "CreateOptions", http.MethodPut: "UpdateOptions", http.MethodPatch: "PatchOptions", http.MethodDelete: "DeleteOptions"}

// validDryRun is kube-apiserver's check of a write's dryRun option, the
// first thing it checks: All is the only value.
func validDryRun(v []string, optionsKind string) error {
	if len(v) == 1 && v[0] == metav1.DryRunAll {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: optionsKind}, "",
		field.ErrorList{field.NotSupported(field.NewPath("dryRun"), v, []string{metav1.DryRunAll})})
}

// warn adds warnings to the answer, when there is one to add them to.
func (rt route) warn(texts ...string) {
	if rt.warnings != nil {
		*rt.warnings = append(*rt.warnings, texts...)
	}
}

// serve routes a request and runs it.
func (s *Server) serve(req *http.Request, w http.ResponseWriter) (runtime.Object, int, error) {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	table := s.res()
	var gv schema.GroupVersion
	switch {
	case len(parts) == 1 && parts[0] == "version":
		return nil, 0, s.writeJSON(w, &version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2-leaderlab", Platform: "in-memory"})
	case len(parts) == 1 && parts[0] == "api":
		return s.discovery(table.apiVersions())
	case len(parts) == 1 && parts[0] == "apis":
		return s.discovery(table.groupList())
	case len(parts) == 2 && parts[0] == "apis":
		if _, ok := table.groups[parts[1]]; !ok || parts[1] == "" {
			return nil, 0, s.notServed(req, parts[1])
		}
		g := table.group(parts[1])
		return s.discovery(&g)
	case len(parts) >= 2 && parts[0] == "api":
		gv, parts = schema.GroupVersion{Version: parts[1]}, parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		gv, parts = schema.GroupVersion{Group: parts[1], Version: parts[2]}, parts[3:]
	default:
		return nil, 0, s.notServed(req, "")
	}
	if len(parts) == 0 {
		list, ok := table.resourceList(gv)
		if !ok {
			return nil, 0, s.notServed(req, gv.Group)
		}
		return s.discovery(list)
	}
	rt, ok := table.route(gv, parts)
	if !ok {
		return nil, 0, s.notServed(req, gv.Group)
	}
	rt.req = req
	return s.do(req, w, rt)
}

// route parses [namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]].
func (rs *resources) route(gv schema.GroupVersion, parts []string) (route, bool) {
	var rt route
	if len(parts) >= 3 && parts[0] == "namespaces" {
		if r, ok := rs.byGVR[gv.WithResource(parts[2])]; ok && r.namespaced {
			rt.namespace, parts = parts[1], parts[2:]
		}
	}
	r, ok := rs.byGVR[gv.WithResource(parts[0])]
	if !ok || len(parts) > 3 || (rt.namespace != "" && !r.namespaced) {
		return rt, false
	}
	rt.res = r
	if len(parts) > 1 {
		rt.name = parts[1]
	}
	if len(parts) > 2 {
		rt.subresource = parts[2]
		switch {
		case rt.subresource == "status" && r.status:
		case rt.subresource == "scale" && r.scalable():
		case rt.subresource == "finalize" && r.gvr == namespacesGVR:
		case builtinSubresources[r.gvr][rt.subresource].Kind != "":
		case r.custom != nil:
			rt.undeclared = true // kube-apiserver's answer is NotFound (see do)
		default:
			return rt, false
		}
	}
	return rt, true
}

// notServed is the answer to a path the server does not serve: kube-apiserver's
// 404 for an unknown resource, naming method and path. A path of a group
// kube-apiserver serves itself is a request this server cannot serve, and is
// listed; a path of any other group is an ordinary 404, as on a cluster
// where no CRD defines it (yet, or any more).
func (s *Server) notServed(req *http.Request, group string) error {
	err := apierrors.NewGenericServerResponse(http.StatusNotFound, strings.ToLower(req.Method), schema.GroupResource{}, "", "", 0, false)
	err.ErrStatus.Message = fmt.Sprintf("the server could not find the requested resource (%s %s)", req.Method, req.URL.Path)
	if group != "" && !builtinGroups.Has(group) {
		return err
	}
	return s.unservable(req, err)
}

// builtinGroups are the API groups kube-apiserver serves itself.
var builtinGroups = func() sets.Set[string] {
	groups := sets.New(apiextensionsv1.GroupName, "apiregistration.k8s.io")
	for gvk := range clientgoscheme.Scheme.AllKnownTypes() {
		groups.Insert(gvk.Group)
	}
	return groups
}()

// methodNotAllowed answers a verb the server does not serve on a path.
func (s *Server) methodNotAllowed(req *http.Request, r *resource) error {
	err := apierrors.NewMethodNotSupported(r.groupResource(), strings.ToLower(req.Method))
	err.ErrStatus.Message += fmt.Sprintf(" (%s %s)", req.Method, req.URL.Path)
	return s.unservable(req, err)
}

// do runs a resource request.
func (s *Server) do(req *http.Request, w http.ResponseWriter, rt route) (runtime.Object, int, error) {
	ctx := req.Context()
	if rt.undeclared {
		// A subresource the CRD does not declare is not found, as the
		// object would not be.
		return nil, 0, apierrors.NewNotFound(rt.res.groupResource(), rt.name)
	}
	if strings.Contains(req.URL.RawQuery, "dryRun") {
		if v := req.URL.Query()["dryRun"]; len(v) > 0 && optionsKinds[req.Method] != "" {
			if err := validDryRun(v, optionsKinds[req.Method]); err != nil {
				return nil, 0, err
			}
			rt.dryRun = true
		}
	}
	if rt.res.custom != nil || (req.Method != http.MethodGet && mediaType(req.Header.Get("Content-Type")) != mediaProtobuf) {
		// A body in JSON or YAML may have fields its schema or Go type
		// does not know: an error or warnings (protobuf has none).
		if strings.Contains(req.URL.RawQuery, "fieldValidation") {
			rt.fieldValidation = req.URL.Query().Get("fieldValidation")
		}
		var warnings []string
		rt.warnings = &warnings
		defer func() {
			for _, text := range warnings {
				if h, err := utilnet.NewWarningHeader(299, "-", text); err == nil {
					w.Header().Add("Warning", h)
				}
			}
		}()
	}
	switch {
	case rt.subresource == "scale":
		obj, err := s.scale(req, rt)
		return obj, http.StatusOK, err
	case rt.subresource == "eviction" || rt.subresource == "binding" || rt.subresource == "token":
		return s.subresource(req, rt)
	case rt.subresource == "finalize" && req.Method == http.MethodPut:
		body, err := readAll(req)
		if err != nil {
			return nil, 0, err
		}
		obj, err := s.finalize(rt, req.Header.Get("Content-Type"), body)
		return obj, http.StatusOK, err
	}
	switch {
	case req.Method == http.MethodGet && rt.name == "" && isWatch(req):
		return nil, 0, s.watch(ctx, req, w, rt)
	case req.Method == http.MethodGet && rt.name == "":
		obj, err := s.list(rt, req.URL.Query())
		return obj, http.StatusOK, err
	case req.Method == http.MethodGet:
		obj, err := s.getObject(rt)
		return obj, http.StatusOK, err
	case req.Method == http.MethodPost && rt.name == "" && rt.subresource == "":
		body, err := readAll(req)
		if err != nil {
			return nil, 0, err
		}
		obj, err := s.create(rt, req.Header.Get("Content-Type"), body)
		return obj, http.StatusCreated, err
	case req.Method == http.MethodPut && rt.name != "":
		body, err := readAll(req)
		if err != nil {
			return nil, 0, err
		}
		obj, err := s.update(rt, req.Header.Get("Content-Type"), body, managerOf(req))
		return obj, http.StatusOK, err
	case req.Method == http.MethodPatch && rt.name != "":
		body, err := readAll(req)
		if err != nil {
			return nil, 0, err
		}
		obj, code, err := s.patch(req, rt, types.PatchType(mediaType(req.Header.Get("Content-Type"))), body)
		return obj, code, err
	case req.Method == http.MethodDelete && rt.name != "" && rt.subresource == "":
		body, err := readAll(req)
		if err != nil {
			return nil, 0, err
		}
		obj, err := s.delete(rt, body)
		return obj, http.StatusOK, err
	case req.Method == http.MethodDelete && rt.name == "" && rt.subresource == "":
		body, err := readAll(req)
		if err != nil {
			return nil, 0, err
		}
		obj, err := s.deleteCollection(rt, req.URL.Query(), body)
		return obj, http.StatusOK, err
	}
	return nil, 0, s.methodNotAllowed(req, rt.res)
}

// readAll reads a request body, bounded as kube-apiserver bounds it (3 MiB).
func readAll(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	const maxBody = 3 << 20
	b, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil {
		return nil, apierrors.NewBadRequest("reading the request body: " + err.Error())
	}
	if len(b) > maxBody {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBody))
	}
	return b, nil
}

// getObject is the stored object, shared (see owned); or, for a read a
// lagging replica serves from its cache, the object as its cache has it.
func (s *Server) getObject(rt route) (runtime.Object, error) {
	v, ok := s.store.get(rt.res.storeGVR(), objectKey{rt.namespace, rt.name})
	if r, q := s.replicaRead(rt, false); r != nil {
		objs, err := s.cached(rt, r, q, 0)
		if err != nil {
			return nil, err
		}
		v, ok = objs[objectKey{rt.namespace, rt.name}]
	}
	if !ok {
		return nil, apierrors.NewNotFound(rt.res.groupResource(), rt.name)
	}
	return rt.res.served(sharedObject{r: v}), nil
}

// parseFilter reads a list's or watch's selectors.
func parseFilter(rt route, q map[string][]string) (filter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f := filter{namespace: rt.namespace}
	if c := rt.res.custom; c != nil && c.selectable.Len() > 0 {
		f.attrs = c.strategy.GetAttrs
	}
	var err error
	if f.labels, err = parseLabels(get("labelSelector")); err != nil {
		return f, apierrors.NewBadRequest(err.Error())
	}
	if f.fields, err = parseFields(get("fieldSelector"), rt.res); err != nil {
		return f, apierrors.NewBadRequest(err.Error())
	}
	return f, nil
}

func (s *Server) list(rt route, q map[string][]string) (runtime.Object, error) {
	f, err := parseFilter(rt, q)
	if err != nil {
		return nil, err
	}
	limit := 0
	if v := first(q, "limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q", v))
		}
	}
	var after *objectKey
	var rv uint64
	if c := first(q, "continue"); c != "" {
		tok, ok := decodeContinue(c)
		if !ok {
			return nil, apierrors.NewBadRequest("continue key is not valid: illegal base64 data or token")
		}
		after, rv = &objectKey{tok.Namespace, tok.Name}, tok.RV
	}
	objs := map[objectKey]*revision(nil)
	if r, q := s.replicaRead(rt, true); r != nil {
		if objs, err = s.cached(rt, r, q, rv); err != nil {
			return nil, err
		}
		if rv == 0 {
			rv = s.cachedAt(r)
		}
	}
	s.store.mu.Lock()
	if objs == nil {
		objs = s.store.objects[rt.res.storeGVR()]
	}
	items := listIn(objs, f.namespace, f.matches, after)
	if rv == 0 {
		rv = s.store.rv
	}
	more := limit > 0 && len(items) > limit
	if more {
		items = items[:limit]
	}
	copies := make([]runtime.Object, len(items))
	for i, it := range items {
		copies[i] = rt.res.fromStorage(it)
	}
	s.store.mu.Unlock()
	list, err := s.newList(rt.res)
	if err != nil {
		return nil, err
	}
	lm, _ := meta.ListAccessor(list)
	lm.SetResourceVersion(strconv.FormatUint(rv, 10))
	if more {
		last, _ := meta.Accessor(items[len(items)-1])
		lm.SetContinue(continueToken{RV: rv, Namespace: last.GetNamespace(), Name: last.GetName()}.encode())
		lm.SetRemainingItemCount(nil)
	}
	return list, meta.SetList(list, copies)
}

func first(q map[string][]string, k string) string {
	if v := q[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// newList returns an empty list of r's kind.
func (s *Server) newList(r *resource) (runtime.Object, error) {
	if !r.typed {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(r.listGVK())
		return l, nil
	}
	return s.scheme.New(r.listGVK())
}

// writeError answers err as kube-apiserver does: a metav1.Status. A server
// error (5xx) of the server's own is never quiet: it is listed with the
// requests the server could not serve.
func (s *Server) writeError(w http.ResponseWriter, req *http.Request, err error) {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		status = apierrors.NewInternalError(err)
	}
	st := status.Status()
	st.Kind, st.APIVersion = "Status", "v1"
	// As kube-apiserver, whatever the code: client-go's REST client sends
	// a 429 or 5xx answer with one again after the delay.
	if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(st.Details.RetryAfterSeconds)))
	}
	// A 5xx is the server failing, never a client's fault: loud. A
	// lagging replica's 504 for a version its cache lacks is
	// kube-apiserver's own answer, not a failure.
	if st.Code >= http.StatusInternalServerError && !storage.IsTooLargeResourceVersion(err) {
		s.record(req.Method, req.URL.Path, fmt.Sprintf("%d %s: %s", st.Code, st.Reason, st.Message))
	}
	s.writeObject(w, req, int(st.Code), &st)
}

// writeJSON answers a discovery or version document as JSON.
func (s *Server) writeJSON(w http.ResponseWriter, obj any) error {
	b, err := jsonMarshal(obj)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return errStreamed
}

// discovery answers a discovery document (encoded as the client asks).
func (s *Server) discovery(obj runtime.Object) (runtime.Object, int, error) {
	return obj, http.StatusOK, nil
}
