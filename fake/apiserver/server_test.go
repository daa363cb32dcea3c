package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/leaderlab/leaderlab/fake/apiserver"
)

// An informer on the in-memory server syncs (client-go v0.37 informers use
// watch-list), then sees a later create and update through its handler; a
// controller-runtime client with the default, discovery-driven RESTMapper
// reads what the typed client wrote. Run in real time and in a synctest
// bubble, where everything the clients started must end with the test.
func TestServesInformersAndClients(t *testing.T) {
	run := func(t *testing.T) {
		srv := newServer(t)
		cs := kubernetes.NewForConfigOrDie(srv.Config())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
		inf := factory.Core().V1().ConfigMaps().Informer()
		seen := make(chan string, 10)
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { seen <- "add " + obj.(*corev1.ConfigMap).Name },
			UpdateFunc: func(_, obj any) {
				seen <- "update " + obj.(*corev1.ConfigMap).Name + " " + obj.(*corev1.ConfigMap).Data["k"]
			},
		}); err != nil {
			t.Fatal(err)
		}
		factory.Start(ctx.Done())
		defer func() { cancel(); factory.Shutdown() }()
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			t.Fatal("informer did not sync")
		}
		cm, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data = map[string]string{"k": "v"}
		if _, err := cs.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		want := []string{"add before", "add after", "update after v"}
		for _, w := range want {
			select {
			case got := <-seen:
				if got != w {
					t.Fatalf("informer saw %q, want %q", got, w)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("informer did not see %q", w)
			}
		}
		c, err := client.New(srv.Config(), client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got corev1.ConfigMap
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "after"}, &got); err != nil {
			t.Fatal(err)
		}
		if got.Data["k"] != "v" || got.ResourceVersion != cm.ResourceVersion && got.ResourceVersion == "" {
			t.Errorf("controller-runtime client read %+v", got)
		}
		if u := srv.Unserved(); len(u) != 0 {
			t.Errorf("requests the server could not serve: %v", u)
		}
	}
	t.Run("real time", run)
	t.Run("bubble", func(t *testing.T) { synctest.Test(t, run) })
}

// A watch from a resourceVersion older than the server's event log gets the
// ERROR event kube-apiserver sends for it: 410 Gone, reason Expired, so the
// client lists again. (kube-apiserver's watch cache cannot be made to drop
// history within a test on envtest, so this row runs on the in-memory server
// alone, against the API concepts' contract.)
func TestWatchFromExpiredVersion(t *testing.T) {
	srv := newServer(t, apiserver.WithEventLog(2))
	cms := kubernetes.NewForConfigOrDie(srv.Config()).CoreV1().ConfigMaps("default")
	ctx := context.Background()
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	createdAt := first.ResourceVersion
	for i := range 3 {
		first.Data = map[string]string{"i": string(rune('0' + i))}
		first.ResourceVersion = ""
		if _, err := cms.Update(ctx, first, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: createdAt})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		st, ok := ev.Object.(*metav1.Status)
		if ev.Type != "ERROR" || !ok || st.Code != 410 || st.Reason != metav1.StatusReasonExpired {
			t.Fatalf("event %s %#v, want ERROR with a 410 Expired status", ev.Type, ev.Object)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
}

// A watch resumes from any version inside the event log with exactly the
// events after it, in order, however many writes the log has dropped; from
// one before the log it gets 410. Every resume point of up to 3 log lengths
// of writes is tried, across the points where the log moves its window.
func TestWatchResumesFromTheLog(t *testing.T) {
	const logSize = 3
	for writes := 1; writes <= 3*logSize; writes++ {
		srv := newServer(t, apiserver.WithEventLog(logSize))
		cms := kubernetes.NewForConfigOrDie(srv.Config()).CoreV1().ConfigMaps("default")
		ctx := context.Background()
		cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		versions := []string{cm.ResourceVersion} // of every event, oldest first
		for i := range writes - 1 {
			cm.Data = map[string]string{"i": strconv.Itoa(i)}
			if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			versions = append(versions, cm.ResourceVersion)
		}
		for from := range versions {
			w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: versions[from]})
			if err != nil {
				t.Fatal(err)
			}
			// Events after versions[from] are versions[from+1:]; the log holds
			// the last logSize events.
			kept := from+1 >= len(versions)-logSize
			var got []string
			for len(got) < len(versions)-from-1 || !kept {
				var ev watch.Event
				select {
				case ev = <-w.ResultChan():
				case <-time.After(5 * time.Second):
					t.Fatalf("%d writes, watch from the %d. write's version: only %v", writes, from+1, got)
				}
				if st, ok := ev.Object.(*metav1.Status); ok {
					got = append(got, fmt.Sprintf("%s %d", ev.Type, st.Code))
					break
				}
				got = append(got, string(ev.Type)+" "+ev.Object.(*corev1.ConfigMap).ResourceVersion)
			}
			w.Stop()
			var want []string
			if kept {
				for _, v := range versions[from+1:] {
					want = append(want, "MODIFIED "+v)
				}
			} else {
				want = []string{"ERROR 410"}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%d writes, log of %d, watch from the %d. write's version: got %v, want %v", writes, logSize, from+1, got, want)
			}
		}
	}
}

// The typed fake clientset of a server shares its store: what one writes
// the other reads, at the same resourceVersion; a watch through the HTTP
// server sees the fake's writes; the server's rules (409 on a stale update,
// the namespace must exist) hold for the fake too.
func TestClientsetSharesTheStore(t *testing.T) {
	srv := newServer(t)
	typed := srv.Clientset().CoreV1().ConfigMaps("default")
	http := kubernetes.NewForConfigOrDie(srv.Config()).CoreV1().ConfigMaps("default")
	ctx := context.Background()

	w, err := http.Watch(ctx, metav1.ListOptions{ResourceVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	made, err := typed.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := http.Get(ctx, "shared", metav1.GetOptions{})
	if err != nil || got.ResourceVersion != made.ResourceVersion || got.UID != made.UID || got.Data["k"] != "v" {
		t.Fatalf("HTTP get = %+v, %v; want the fake's object at resourceVersion %s", got, err, made.ResourceVersion)
	}
	for ev := range w.ResultChan() {
		if cm, ok := ev.Object.(*corev1.ConfigMap); ok && cm.Name == "shared" {
			if ev.Type != "ADDED" || cm.ResourceVersion != made.ResourceVersion {
				t.Errorf("watch saw %s at %s, want ADDED at %s", ev.Type, cm.ResourceVersion, made.ResourceVersion)
			}
			break
		}
	}
	got.Data["k"] = "http"
	updated, err := http.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	made.Data["k"] = "stale"
	if _, err := typed.Update(ctx, made, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("the fake's stale update = %v, want Conflict", err)
	}
	back, err := typed.Get(ctx, "shared", metav1.GetOptions{})
	if err != nil || back.ResourceVersion != updated.ResourceVersion || back.Data["k"] != "http" {
		t.Errorf("fake get = %+v, %v; want the HTTP update at %s", back, err, updated.ResourceVersion)
	}
	_, err = srv.Clientset().CoreV1().ConfigMaps("nowhere").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) || err.Error() != `namespaces "nowhere" not found` {
		t.Errorf("create in a missing namespace through the fake = %v, want NotFound for the namespace", err)
	}
}

// An informer on the server's typed fake lists and then watches from the
// list's resourceVersion: it misses nothing written afterwards through the
// HTTP server, since both count one version for the whole store.
func TestClientsetInformer(t *testing.T) {
	srv := newServer(t, apiserver.WithObjects(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: "default"}}))
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactoryWithOptions(srv.Clientset(), 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().ConfigMaps().Informer()
	seen := make(chan string, 10)
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) { seen <- obj.(*corev1.ConfigMap).Name }})
	factory.Start(ctx.Done())
	defer func() { cancel(); factory.Shutdown() }()
	cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
	if _, err := kubernetes.NewForConfigOrDie(srv.Config()).CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"old", "new"} {
		select {
		case got := <-seen:
			if got != want {
				t.Fatalf("informer saw %s, want %s", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("informer did not see %s", want)
		}
	}
}

// A watch that allows bookmarks gets one every BookmarkInterval, carrying
// the version of the last change the server has seen, sent to the watch or
// not: here a change in another namespace, outside the watch.
func TestSendsBookmarks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(t)
		cs := kubernetes.NewForConfigOrDie(srv.Config())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: "1", AllowWatchBookmarks: true})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		other, err := cs.CoreV1().ConfigMaps("kube-system").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ev := <-w.ResultChan()
		cm, ok := ev.Object.(*corev1.ConfigMap)
		if ev.Type != "BOOKMARK" || !ok || cm.ResourceVersion != other.ResourceVersion {
			t.Fatalf("event %s %+v, want a BOOKMARK at %s", ev.Type, ev.Object, other.ResourceVersion)
		}
		if waited := time.Since(start); waited != apiserver.BookmarkInterval {
			t.Errorf("bookmark after %v, want %v", waited, apiserver.BookmarkInterval)
		}
	})
}

// After Compact a watch from an older version is answered 410 Expired (the
// client must list again), while one from the current version goes on.
func TestCompact(t *testing.T) {
	srv := newServer(t)
	cs := kubernetes.NewForConfigOrDie(srv.Config())
	ctx := context.Background()
	cm, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := cm.ResourceVersion
	if cm, err = cs.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Compact()
	w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: old})
	if err != nil {
		t.Fatal(err)
	}
	ev := <-w.ResultChan()
	w.Stop()
	if st, ok := ev.Object.(*metav1.Status); ev.Type != watch.Error || !ok || st.Code != http.StatusGone || st.Reason != metav1.StatusReasonExpired {
		t.Fatalf("watch from %s after Compact: %s %+v, want ERROR 410 Expired", old, ev.Type, ev.Object)
	}
	w, err = cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: cm.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cm.Data = map[string]string{"k": "v"}
	if _, err := cs.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := <-w.ResultChan(); ev.Type != watch.Modified {
		t.Fatalf("watch from the current version after Compact: %s %+v, want MODIFIED", ev.Type, ev.Object)
	}
}

// A path kube-apiserver serves itself but this server does not (a pod's
// log) is listed by Unserved; a 404 for a group no CRD defines (yet, or any
// more) is an ordinary answer, as on a cluster, so an informer started
// before its CRD is installed is not a failure of the server.
func TestUnservedListsOnlyWhatKubeAPIServerWouldServe(t *testing.T) {
	srv := newServer(t)
	for _, path := range []string{"/api/v1/namespaces/default/pods/p/log", "/apis/late.example/v1/gadgets", "/apis/late.example"} {
		if code, body := serve(srv, http.MethodGet, path, "", nil); code != http.StatusNotFound {
			t.Errorf("GET %s: %d %s, want 404", path, code, body)
		}
	}
	want := []string{"GET /api/v1/namespaces/default/pods/p/log: the server could not find the requested resource (GET /api/v1/namespaces/default/pods/p/log)"}
	if got := srv.Unserved(); !slices.Equal(got, want) {
		t.Errorf("Unserved() = %q, want %q", got, want)
	}
}

// A CRD manifest that cannot be read, or a path that is missing, fails New
// with an error that names the file.
func TestCRDPathErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(broken, []byte("kind: CustomResourceDefinition\nmetadata:\n  name: x\n spec: : :\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{dir, "apiserver: WithCRDPaths: " + broken + ": error converting YAML to JSON: yaml: line 3: did not find expected key"},
		{filepath.Join(dir, "missing"), "apiserver: WithCRDPaths: stat " + filepath.Join(dir, "missing") + ": no such file or directory"},
	} {
		if _, err := apiserver.New(apiserver.WithCRDPaths(c.path)); err == nil || err.Error() != c.want {
			t.Errorf("New(WithCRDPaths(%s)) = %v, want %s", c.path, err, c.want)
		}
	}
}

// APIGroupResources is what a discovery client reads from the server over
// HTTP for a RESTMapper, custom resources (with status and scale
// subresources) included.
func TestAPIGroupResourcesIsWhatDiscoveryReads(t *testing.T) {
	srv, err := apiserver.New(apiserver.WithCRDPaths("testdata/crds"))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	want, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, srv.APIGroupResources(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("APIGroupResources() differs from discovery (-discovery +APIGroupResources):\n%s", diff)
	}
}
