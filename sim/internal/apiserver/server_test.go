package apiserver_test

// The server is driven by a real client-go clientset whose transport calls
// Serve in memory, so requests and answers use client-go's own wire formats
// (protobuf or JSON) and its own decoding of Status errors.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/leaderlab/leaderlab/sim/internal/apiserver"
)

const ns = "ns"

var leases = coordinationv1.SchemeGroupVersion.WithResource("leases")

// inMemory is a RoundTripper that hands each request to the server and
// remembers the media types of the last exchange.
type inMemory struct {
	srv *apiserver.Server

	mu                   sync.Mutex
	sentType, answerType string
}

func (m *inMemory) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	resp := m.srv.Serve(apiserver.Request{Method: req.Method, Path: req.URL.Path,
		ContentType: req.Header.Get("Content-Type"), Accept: req.Header.Get("Accept"), Body: body})
	m.mu.Lock()
	m.sentType, m.answerType = req.Header.Get("Content-Type"), resp.ContentType
	m.mu.Unlock()
	return &http.Response{
		StatusCode:    resp.Code,
		Status:        strconv.Itoa(resp.Code) + " " + http.StatusText(resp.Code),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {resp.ContentType}},
		Body:          io.NopCloser(bytes.NewReader(resp.Body)),
		ContentLength: int64(len(resp.Body)),
		Request:       req,
	}, nil
}

func (m *inMemory) lastTypes() (sent, answer string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sentType, m.answerType
}

// client returns a clientset on srv that sends contentType (protobuf as a
// simulated candidate does, or JSON) and accepts it first.
func client(t *testing.T, srv *apiserver.Server, contentType string) (*kubernetes.Clientset, *inMemory) {
	t.Helper()
	tr := &inMemory{srv: srv}
	cs, err := kubernetes.NewForConfig(&rest.Config{
		Host:      "http://apiserver.test",
		Transport: tr,
		QPS:       -1,
		ContentConfig: rest.ContentConfig{
			ContentType:        contentType,
			AcceptContentTypes: contentType + "," + runtime.ContentTypeJSON,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs, tr
}

func protobufClient(t *testing.T) (*kubernetes.Clientset, *apiserver.Server) {
	t.Helper()
	srv := apiserver.New()
	cs, _ := client(t, srv, runtime.ContentTypeProtobuf)
	return cs, srv
}

func newLease(name, holder string) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To[int32](15)},
	}
}

func holder(l *coordinationv1.Lease) string { return ptr.Deref(l.Spec.HolderIdentity, "") }

// getA reads lease "a" through c and checks who holds it at which
// resourceVersion (any version when wantRV is "").
func getA(t *testing.T, c coordinationv1client.LeaseInterface, wantHolder, wantRV string) *coordinationv1.Lease {
	t.Helper()
	got, err := c.Get(context.Background(), "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if holder(got) != wantHolder || (wantRV != "" && got.ResourceVersion != wantRV) {
		t.Fatalf("lease a = %s at %q, want %s at %q", holder(got), got.ResourceVersion, wantHolder, wantRV)
	}
	return got
}

// createA creates lease "a", held by c0, through c.
func createA(t *testing.T, c coordinationv1client.LeaseInterface) *coordinationv1.Lease {
	t.Helper()
	created, err := c.Create(context.Background(), newLease("a", "c0"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// cachedA returns a protobuf lease client on a new server where lease "a",
// held by c0, has been created and read once (so the server has it cached).
func cachedA(t *testing.T) (coordinationv1client.LeaseInterface, *apiserver.Server, *coordinationv1.Lease) {
	t.Helper()
	cs, srv := protobufClient(t)
	c := cs.CoordinationV1().Leases(ns)
	created := createA(t, c)
	getA(t, c, "c0", created.ResourceVersion)
	return c, srv, created
}

// newer fails unless later's resourceVersion is above earlier's.
func newer(t *testing.T, later, earlier metav1.Object) {
	t.Helper()
	if rv(t, later) <= rv(t, earlier) {
		t.Fatalf("resourceVersion %s is not above %s", later.GetResourceVersion(), earlier.GetResourceVersion())
	}
}

// rv parses a resourceVersion; the server hands out one global counter.
func rv(t *testing.T, m metav1.Object) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(m.GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q of %s: %v", m.GetResourceVersion(), m.GetName(), err)
	}
	return v
}

// wantStatus checks that err is a status error with the given code and
// reason, naming group and resource.
func wantStatus(t *testing.T, err error, code int32, reason metav1.StatusReason, gr schema.GroupResource) {
	t.Helper()
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want a *StatusError", err, err)
	}
	st := se.ErrStatus
	if st.Code != code || st.Reason != reason {
		t.Fatalf("status = %d %s (%s), want %d %s", st.Code, st.Reason, st.Message, code, reason)
	}
	if st.Details == nil || st.Details.Group != gr.Group || st.Details.Kind != gr.Resource {
		t.Fatalf("status details = %+v, want group %q resource %q", st.Details, gr.Group, gr.Resource)
	}
}

func TestCreateThenGetReturnsStoredObject(t *testing.T) {
	cs, _ := protobufClient(t)
	ctx := context.Background()
	created := createA(t, cs.CoordinationV1().Leases(ns))
	if created.ResourceVersion == "" || created.UID == "" || created.CreationTimestamp.IsZero() {
		t.Fatalf("created lease lacks server-set metadata: %+v", created.ObjectMeta)
	}
	if holder(created) != "c0" || created.Namespace != ns {
		t.Fatalf("created = %+v", created)
	}
	got, err := cs.CoordinationV1().Leases(ns).Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !apiequality.Semantic.DeepEqual(got, created) {
		t.Fatalf("get = %+v\nwant the created lease %+v", got, created)
	}
}

func TestSecondCreateIsAlreadyExists(t *testing.T) {
	cs, _ := protobufClient(t)
	ctx := context.Background()
	first := createA(t, cs.CoordinationV1().Leases(ns))
	_, err := cs.CoordinationV1().Leases(ns).Create(ctx, newLease("a", "c1"), metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: err = %v, want AlreadyExists", err)
	}
	wantStatus(t, err, http.StatusConflict, metav1.StatusReasonAlreadyExists, leases.GroupResource())
	getA(t, cs.CoordinationV1().Leases(ns), "c0", first.ResourceVersion)
}

func TestUpdateChecksResourceVersion(t *testing.T) {
	cs, _ := protobufClient(t)
	ctx := context.Background()
	c := cs.CoordinationV1().Leases(ns)
	created := createA(t, c)

	// With the current version the update is stored under a newer one.
	next := created.DeepCopy()
	next.Spec.HolderIdentity = ptr.To("c1")
	updated, err := c.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newer(t, updated, created)
	if holder(updated) != "c1" {
		t.Fatalf("update answered holder %s, want c1", holder(updated))
	}
	getA(t, c, "c1", updated.ResourceVersion)

	// The first version is stale now: 409 Conflict, nothing stored.
	stale := created.DeepCopy()
	stale.Spec.HolderIdentity = ptr.To("c2")
	_, err = c.Update(ctx, stale, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("stale update: err = %v, want Conflict", err)
	}
	wantStatus(t, err, http.StatusConflict, metav1.StatusReasonConflict, leases.GroupResource())
	getA(t, c, "c1", updated.ResourceVersion)
}

func TestGetMissingIsNotFound(t *testing.T) {
	cs, _ := protobufClient(t)
	_, err := cs.CoordinationV1().Leases(ns).Get(context.Background(), "missing", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("err = %v, want NotFound", err)
	}
	wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, leases.GroupResource())
	if name := err.(apierrors.APIStatus).Status().Details.Name; name != "missing" {
		t.Fatalf("NotFound names %q, want %q", name, "missing")
	}
}

func TestDeleteThenGetAndUpdate(t *testing.T) {
	c, _, created := cachedA(t)
	ctx := context.Background()
	if err := c.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Get(ctx, "a", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: err = %v, want NotFound", err)
	}
	// kube-apiserver treats the UID the object carries as a precondition:
	// the object it names is gone, which is a conflict.
	_, err = c.Update(ctx, created, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("update after delete: err = %v, want Conflict", err)
	}
	if err := c.Delete(ctx, "a", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("second delete: err = %v, want NotFound", err)
	}
}

func TestList(t *testing.T) {
	cs, _ := protobufClient(t)
	ctx := context.Background()
	for _, l := range []*coordinationv1.Lease{newLease("a", "c0"), newLease("b", "c1")} {
		if _, err := cs.CoordinationV1().Leases(ns).Create(ctx, l, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	other := newLease("c", "c2")
	other.Namespace = "other"
	if _, err := cs.CoordinationV1().Leases("other").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := cs.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	holders := map[string]string{}
	for _, l := range list.Items {
		holders[l.Name] = holder(&l)
	}
	if len(list.Items) != 2 || holders["a"] != "c0" || holders["b"] != "c1" {
		t.Fatalf("list of %s = %v, want a:c0 and b:c1 only", ns, holders)
	}
	empty, err := cs.CoordinationV1().Leases("none").List(ctx, metav1.ListOptions{})
	if err != nil || len(empty.Items) != 0 {
		t.Fatalf("list of an empty namespace = %v, %v", empty, err)
	}
}

// A write in one format reads back the same in the other, and each client
// is answered in the format it accepts first.
func TestJSONAndProtobuf(t *testing.T) {
	srv := apiserver.New()
	pb, pbTr := client(t, srv, runtime.ContentTypeProtobuf)
	js, jsTr := client(t, srv, runtime.ContentTypeJSON)
	ctx := context.Background()

	created := createA(t, pb.CoordinationV1().Leases(ns))
	if sent, answer := pbTr.lastTypes(); sent != runtime.ContentTypeProtobuf || answer != runtime.ContentTypeProtobuf {
		t.Fatalf("protobuf client sent %q, was answered %q", sent, answer)
	}
	got, err := js.CoordinationV1().Leases(ns).Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, answer := jsTr.lastTypes(); answer != runtime.ContentTypeJSON {
		t.Fatalf("JSON client was answered %q", answer)
	}
	if !apiequality.Semantic.DeepEqual(got.ObjectMeta, created.ObjectMeta) || !apiequality.Semantic.DeepEqual(got.Spec, created.Spec) {
		t.Fatalf("JSON get = %+v\nwant the protobuf-created %+v", got, created)
	}

	got.Spec.HolderIdentity = ptr.To("c1")
	updated, err := js.CoordinationV1().Leases(ns).Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sent, _ := jsTr.lastTypes(); sent != runtime.ContentTypeJSON {
		t.Fatalf("JSON client sent %q", sent)
	}
	getA(t, pb.CoordinationV1().Leases(ns), "c1", updated.ResourceVersion)

	// Errors are Status bodies in the client's format too.
	_, err = js.CoordinationV1().Leases(ns).Get(ctx, "missing", metav1.GetOptions{})
	wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, leases.GroupResource())
	if _, answer := jsTr.lastTypes(); answer != runtime.ContentTypeJSON {
		t.Fatalf("JSON client's error was answered %q", answer)
	}
}

func TestConfigMaps(t *testing.T) {
	cs, _ := protobufClient(t)
	ctx := context.Background()
	c := cs.CoreV1().ConfigMaps(ns)
	created, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"k": "v1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "cm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["k"] != "v1" || got.ResourceVersion != created.ResourceVersion {
		t.Fatalf("get = %v at %s, want k=v1 at %s", got.Data, got.ResourceVersion, created.ResourceVersion)
	}
	got.Data["k"] = "v2"
	updated, err := c.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	newer(t, updated, created)
	if updated.Data["k"] != "v2" {
		t.Fatalf("update answered %v, want k=v2", updated.Data)
	}
	if _, err := c.Update(ctx, created, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: err = %v, want Conflict", err)
	}
	_, err = c.Get(ctx, "missing", metav1.GetOptions{})
	wantStatus(t, err, http.StatusNotFound, metav1.StatusReasonNotFound, corev1.SchemeGroupVersion.WithResource("configmaps").GroupResource())
}

// Writes that do not come through Serve (a foreign writer, a deletion, seed
// objects) must not leave a stale read behind, whether or not the object
// was read (and so cached) before.
func TestDirectWritesAreVisibleToReads(t *testing.T) {
	c, srv, created := cachedA(t)
	ctx := context.Background()

	// A foreign unconditional update.
	if err := srv.Update(leases, newLease("a", "foreign")); err != nil {
		t.Fatal(err)
	}
	got := getA(t, c, "foreign", "")
	newer(t, got, created)
	direct, err := srv.Get(leases, ns, "a")
	if err != nil {
		t.Fatal(err)
	}
	if direct.(*coordinationv1.Lease).ResourceVersion != got.ResourceVersion {
		t.Fatalf("Server.Get version %s, GET answered %s", direct.(*coordinationv1.Lease).ResourceVersion, got.ResourceVersion)
	}
	// A client holding the old version now conflicts.
	if _, err := c.Update(ctx, created, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("update with the version before the foreign write: err = %v, want Conflict", err)
	}

	// A direct delete.
	if err := srv.Delete(leases, ns, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after a direct delete: err = %v, want NotFound", err)
	}

	// Add stores an object again under a new version; it does not replace
	// one that exists.
	if err := srv.Add(newLease("a", "seeded")); err != nil {
		t.Fatal(err)
	}
	seeded := getA(t, c, "seeded", "")
	newer(t, seeded, got)
	if err := srv.Add(newLease("a", "again")); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("Add over a stored lease: err = %v, want AlreadyExists", err)
	}
	getA(t, c, "seeded", seeded.ResourceVersion)
	// Add of an object never read.
	if err := srv.Add(newLease("b", "seeded")); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Get(ctx, "b", metav1.GetOptions{}); err != nil || holder(b) != "seeded" {
		t.Fatalf("get of an added lease = %v, %v", b, err)
	}
}

// Paths the server does not serve get a 404 (or 405 for a verb the path
// does not take) with a Status body, as from kube-apiserver.
func TestUnknownRoutes(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		code               int32
		reason             metav1.StatusReason
	}{
		{"unknown resource", http.MethodGet, "/apis/coordination.k8s.io/v1/namespaces/ns/widgets/a", 404, metav1.StatusReasonNotFound},
		{"unknown group", http.MethodGet, "/apis/example.com/v1/namespaces/ns/leases/a", 404, metav1.StatusReasonNotFound},
		{"unknown version", http.MethodGet, "/api/v9/namespaces/ns/configmaps/a", 404, metav1.StatusReasonNotFound},
		{"not an API path", http.MethodGet, "/healthz", 404, metav1.StatusReasonNotFound},
		{"cluster-scoped path", http.MethodGet, "/apis/coordination.k8s.io/v1/leases", 404, metav1.StatusReasonNotFound},
		{"subresource", http.MethodGet, "/api/v1/namespaces/ns/configmaps/a/status", 404, metav1.StatusReasonNotFound},
		{"too many segments", http.MethodGet, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/a/b/c", 404, metav1.StatusReasonNotFound},
		{"create on a name", http.MethodPost, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/a", 405, metav1.StatusReasonMethodNotAllowed},
		{"patch", http.MethodPatch, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/a", 405, metav1.StatusReasonMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, ct := range []string{runtime.ContentTypeProtobuf, runtime.ContentTypeJSON} {
				cs, tr := client(t, apiserver.New(), ct)
				body, err := cs.CoreV1().RESTClient().Verb(tc.method).AbsPath(tc.path).Do(context.Background()).Raw()
				if err == nil {
					t.Fatalf("%s: %s %s succeeded", ct, tc.method, tc.path)
				}
				if _, answer := tr.lastTypes(); answer != ct {
					t.Fatalf("%s: answered %q", ct, answer)
				}
				obj, _, derr := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
				if derr != nil {
					t.Fatalf("%s: body is not a Status: %v (%q)", ct, derr, body)
				}
				st, ok := obj.(*metav1.Status)
				if !ok || st.Code != tc.code || st.Reason != tc.reason || st.Status != metav1.StatusFailure {
					t.Fatalf("%s: body = %#v, want a %d %s Status", ct, obj, tc.code, tc.reason)
				}
				if got := apierrors.ReasonForError(err); got != tc.reason {
					t.Fatalf("%s: client saw %v (reason %q), want %q", ct, err, got, tc.reason)
				}
			}
		})
	}
}

// Parse is what the simulator's network routes by; its verbs name what the
// report counts.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         apiserver.Route
	}{
		{http.MethodGet, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/a",
			apiserver.Route{Verb: apiserver.VerbGet, Resource: leases, Kind: coordinationv1.SchemeGroupVersion.WithKind("Lease"), Namespace: "ns", Name: "a"}},
		{http.MethodGet, "/api/v1/namespaces/ns/configmaps",
			apiserver.Route{Verb: apiserver.VerbList, Resource: corev1.SchemeGroupVersion.WithResource("configmaps"), Kind: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Namespace: "ns"}},
		{http.MethodPost, "/api/v1/namespaces/ns/events/",
			apiserver.Route{Verb: apiserver.VerbCreate, Resource: corev1.SchemeGroupVersion.WithResource("events"), Kind: corev1.SchemeGroupVersion.WithKind("Event"), Namespace: "ns"}},
		{http.MethodPut, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/a",
			apiserver.Route{Verb: apiserver.VerbUpdate, Resource: leases, Kind: coordinationv1.SchemeGroupVersion.WithKind("Lease"), Namespace: "ns", Name: "a"}},
		{http.MethodDelete, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/a",
			apiserver.Route{Verb: apiserver.VerbDelete, Resource: leases, Kind: coordinationv1.SchemeGroupVersion.WithKind("Lease"), Namespace: "ns", Name: "a"}},
	} {
		got, err := apiserver.Parse(tc.method, tc.path)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%s, %s) = %+v, %v; want %+v", tc.method, tc.path, got, err, tc.want)
		}
	}
}

// A body whose name or kind disagrees with the path is a 400, and nothing
// is stored.
func TestBodyMustMatchPath(t *testing.T) {
	srv := apiserver.New()
	cs, _ := client(t, srv, runtime.ContentTypeProtobuf)
	ctx := context.Background()
	createA(t, cs.CoordinationV1().Leases(ns))
	for _, tc := range []struct {
		what, method, path string
		body               runtime.Object
		gv                 schema.GroupVersion
	}{
		{"create of a ConfigMap at the leases path", http.MethodPost, "/apis/coordination.k8s.io/v1/namespaces/ns/leases",
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, corev1.SchemeGroupVersion},
		{"update whose body names another lease", http.MethodPut, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/b",
			newLease("a", "c1"), coordinationv1.SchemeGroupVersion},
		{"create in another namespace than the body's", http.MethodPost, "/apis/coordination.k8s.io/v1/namespaces/other/leases",
			newLease("b", "c1"), coordinationv1.SchemeGroupVersion},
	} {
		body, err := runtime.Encode(scheme.Codecs.LegacyCodec(tc.gv), tc.body)
		if err != nil {
			t.Fatal(err)
		}
		err = cs.CoordinationV1().RESTClient().Verb(tc.method).AbsPath(tc.path).
			SetHeader("Content-Type", runtime.ContentTypeJSON).Body(body).Do(ctx).Error()
		if !apierrors.IsBadRequest(err) {
			t.Errorf("%s: err = %v, want BadRequest", tc.what, err)
		}
	}
	_, err := cs.CoordinationV1().Leases(ns).Update(ctx, newLease("b", "c1"), metav1.UpdateOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("update of a lease never created (no UID): err = %v, want NotFound", err)
	}
	for _, where := range [][2]string{{ns, "b"}, {"other", "b"}} {
		if _, err := srv.Get(leases, where[0], where[1]); !apierrors.IsNotFound(err) {
			t.Fatalf("a refused write stored lease %s/%s: err = %v", where[0], where[1], err)
		}
	}
	if l, err := srv.Get(leases, ns, "a"); err != nil || holder(l.(*coordinationv1.Lease)) != "c0" {
		t.Fatalf("lease a after refused writes = %v, %v", l, err)
	}
}
