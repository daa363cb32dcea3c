package apiserver_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/leaderlab/leaderlab/fake/apiserver"
)

// lagging is a replica whose cache version the test sets.
type lagging struct {
	mu      sync.Mutex
	version uint64
	changed chan struct{}
}

func (l *lagging) Version() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.version
}

func (l *lagging) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *lagging) catchUp(v uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.version = v
	close(l.changed)
	l.changed = make(chan struct{})
}

func rvOf(t *testing.T, m metav1.Object) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(m.GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A lagging replica serves reads with a resourceVersion from its cache, as
// it was at the cache's version, and the rest from the store; its watches
// send the cache's state and then each change when the cache gains it.
func TestReplicaServesFromItsCache(t *testing.T) {
	srv := newServer(t)
	cs := kubernetes.NewForConfigOrDie(srv.Config())
	cms := cs.CoreV1().ConfigMaps("default")
	bg := context.Background()
	a, err := cms.Create(bg, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Data: map[string]string{"v": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cached := rvOf(t, a)
	a.Data["v"] = "2"
	if _, err := cms.Update(bg, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := cms.Create(bg, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replica := &lagging{version: cached, changed: make(chan struct{})}
	ctx := apiserver.ServedBy(bg, replica)

	got, err := cms.Get(ctx, "a", metav1.GetOptions{ResourceVersion: "0"})
	if err != nil || got.Data["v"] != "1" {
		t.Errorf("get from the cache: %v, %v; want v=1", got.Data, err)
	}
	if got, err := cms.Get(ctx, "a", metav1.GetOptions{}); err != nil || got.Data["v"] != "2" {
		t.Errorf("get from the store: %v, %v; want v=2", got.Data, err)
	}
	if _, err := cms.Get(ctx, "b", metav1.GetOptions{ResourceVersion: "0"}); !apierrors.IsNotFound(err) {
		t.Errorf("get of an object newer than the cache: %v; want not found", err)
	}
	// Without retries: client-go asks again after the answer's Retry-After.
	err = cs.CoreV1().RESTClient().Get().Namespace("default").Resource("configmaps").Name("a").Param("resourceVersion", b.ResourceVersion).MaxRetries(0).Do(ctx).Error()
	want := "Timeout: Too large resource version: " + b.ResourceVersion + ", current: " + strconv.FormatUint(cached, 10)
	if !apierrors.IsTimeout(err) || err.Error() != want {
		t.Errorf("get newer than the cache: %v; want a timeout %q", err, want)
	}
	list, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Data["v"] != "1" || list.ResourceVersion != strconv.FormatUint(cached, 10) {
		t.Errorf("list from the cache: %v at %s, %v; want a at v=1, at %d", list.Items, list.ResourceVersion, err, cached)
	}
	if list, err := cms.List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 2 {
		t.Errorf("consistent list: %d items, %v; want 2", len(list.Items), err)
	}

	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	next := func() (watch.EventType, string, string) {
		t.Helper()
		select {
		case ev := <-w.ResultChan():
			cm := ev.Object.(*corev1.ConfigMap)
			return ev.Type, cm.Name, cm.Data["v"]
		case <-time.After(5 * time.Second):
			t.Fatal("no watch event")
			return "", "", ""
		}
	}
	if typ, name, v := next(); typ != watch.Added || name != "a" || v != "1" {
		t.Errorf("first event %s %s v=%s; want ADDED a v=1", typ, name, v)
	}
	select {
	case ev := <-w.ResultChan():
		t.Fatalf("event %s before the cache gained it", ev.Type)
	case <-time.After(50 * time.Millisecond):
	}
	replica.catchUp(rvOf(t, b))
	if typ, name, v := next(); typ != watch.Modified || name != "a" || v != "2" {
		t.Errorf("second event %s %s v=%s; want MODIFIED a v=2", typ, name, v)
	}
	if typ, name, _ := next(); typ != watch.Added || name != "b" {
		t.Errorf("third event %s %s; want ADDED b", typ, name)
	}
	if u := srv.Unserved(); len(u) != 0 {
		t.Errorf("the replica's own answers count as unserved: %q", u)
	}
}

// A cache version whose changes have left the event log cannot be rebuilt:
// the read is unserved, never answered from the wrong version.
func TestReplicaOlderThanTheLogIsUnserved(t *testing.T) {
	srv := newServer(t, apiserver.WithEventLog(1))
	cs := kubernetes.NewForConfigOrDie(srv.Config())
	cms := cs.CoreV1().ConfigMaps("default")
	bg := context.Background()
	a, err := cms.Create(bg, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b", "c"} {
		if _, err := cms.Create(bg, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := apiserver.ServedBy(bg, &lagging{version: rvOf(t, a), changed: make(chan struct{})})
	_, err = cms.List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	want := "Internal error occurred: a lagging replica's cache at resourceVersion " + a.ResourceVersion + ": its changes since have left the server's event log"
	if !apierrors.IsInternalError(err) || err.Error() != want {
		t.Fatalf("list: %v; want %q", err, want)
	}
	if u := srv.Unserved(); len(u) != 1 || u[0] != "GET /api/v1/namespaces/default/configmaps: 500 InternalError: "+want {
		t.Errorf("unserved: %q", u)
	}
}
