package fake_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-logr/logr"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/leaderlab/leaderlab/fake"
)

func configMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: map[string]string{"n": "0"}}
}

// seeded returns the ConfigMaps client of a NewClientset seeded with the
// ConfigMap "c", and "c" as stored.
func seeded(t *testing.T) (corev1client.ConfigMapInterface, *corev1.ConfigMap) {
	t.Helper()
	cms := fake.NewClientset(configMap("c")).CoreV1().ConfigMaps(namespace)
	cm, err := cms.Get(ctx, "c", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cms, cm
}

func TestClientsetStaleUpdateIsConflict(t *testing.T) {
	cs := fake.NewClientset()
	leases, cms := cs.CoordinationV1().Leases(namespace), cs.CoreV1().ConfigMaps(namespace)

	lease, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "l"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := cms.Create(ctx, configMap("c"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lease.ResourceVersion == "" || cm.ResourceVersion == "" || lease.ResourceVersion == cm.ResourceVersion {
		t.Fatalf("create versions = %q, %q; want distinct, non-empty", lease.ResourceVersion, cm.ResourceVersion)
	}
	if lease.UID == "" || cm.UID == "" {
		t.Fatalf("create UIDs = %q, %q; want non-empty", lease.UID, cm.UID)
	}

	// One writer moves each object on; a second writer still holding the
	// first version must get 409, for a Lease and for any other resource.
	staleLease, staleCM := lease.DeepCopy(), cm.DeepCopy()
	lease.Spec.HolderIdentity = new("a")
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm.Data["n"] = "1"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	staleLease.Spec.HolderIdentity = new("b")
	if _, err := leases.Update(ctx, staleLease, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale lease update = %v, want Conflict", err)
	}
	staleCM.Data["n"] = "2"
	if _, err := cms.Update(ctx, staleCM, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale configmap update = %v, want Conflict", err)
	}
	got, err := leases.Get(ctx, "l", metav1.GetOptions{})
	if err != nil || *got.Spec.HolderIdentity != "a" {
		t.Fatalf("lease after the conflict = %v, %v; want holder a", got, err)
	}
}

func TestClientsetUpdateWithoutVersionIsUnconditional(t *testing.T) {
	cms, before := seeded(t)
	blind := configMap("c")
	blind.Data["n"] = "blind"
	after, err := cms.Update(ctx, blind, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update without resourceVersion = %v, want success", err)
	}
	if after.ResourceVersion == before.ResourceVersion || after.Data["n"] != "blind" {
		t.Fatalf("after = %+v; want the new data under a new version", after)
	}
	if _, err := cms.Update(ctx, configMap("missing"), metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("update of a missing object = %v, want NotFound", err)
	}
}

func TestClientsetCreate(t *testing.T) {
	cs := fake.NewClientset(configMap("seed"))
	cms := cs.CoreV1().ConfigMaps(namespace)
	seed, err := cms.Get(ctx, "seed", metav1.GetOptions{})
	if err != nil || seed.ResourceVersion == "" {
		t.Fatalf("seed object = %v, %v; want a resourceVersion", seed, err)
	}
	created, err := cms.Create(ctx, configMap("new"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := strconv.Atoi(created.ResourceVersion); strconv.Itoa(v) != created.ResourceVersion || created.ResourceVersion <= seed.ResourceVersion {
		t.Fatalf("versions seed %q, created %q; want increasing integers", seed.ResourceVersion, created.ResourceVersion)
	}
	if _, err := cms.Create(ctx, configMap("new"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create = %v, want AlreadyExists", err)
	}
	withVersion := configMap("versioned")
	withVersion.ResourceVersion = "7"
	if _, err := cms.Create(ctx, withVersion, metav1.CreateOptions{}); !apierrors.IsBadRequest(err) {
		t.Fatalf("create with a resourceVersion = %v, want BadRequest", err)
	}
	withUID := configMap("uid")
	withUID.UID = "mine"
	if got, err := cms.Create(ctx, withUID, metav1.CreateOptions{}); err != nil || got.UID != "mine" {
		t.Fatalf("create with a UID = %v, %v; want the UID kept", got, err)
	}
}

func TestClientsetPatch(t *testing.T) {
	cms, before := seeded(t)

	patched, err := cms.Patch(ctx, "c", types.MergePatchType, []byte(`{"data":{"n":"1"}}`), metav1.PatchOptions{})
	if err != nil || patched.Data["n"] != "1" || patched.ResourceVersion == before.ResourceVersion {
		t.Fatalf("patch = %+v, %v; want n=1 under a new version", patched, err)
	}
	// An optimistic-lock patch (controller-runtime's MergeFromWithOptimisticLock)
	// carries the version it was computed from.
	stale := `{"metadata":{"resourceVersion":"` + before.ResourceVersion + `"},"data":{"n":"2"}}`
	if _, err := cms.Patch(ctx, "c", types.MergePatchType, []byte(stale), metav1.PatchOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("patch with a stale resourceVersion = %v, want Conflict", err)
	}
	current := `{"metadata":{"resourceVersion":"` + patched.ResourceVersion + `"},"data":{"n":"3"}}`
	if _, err := cms.Patch(ctx, "c", types.MergePatchType, []byte(current), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch with the current resourceVersion = %v", err)
	}
}

func TestClientsetApplyAssignsVersion(t *testing.T) {
	cms, before := seeded(t)
	applied, err := cms.Apply(ctx, corev1ac.ConfigMap("c", namespace).WithData(map[string]string{"n": "9"}), metav1.ApplyOptions{FieldManager: "test", Force: true})
	if err != nil || applied.Data["n"] != "9" || applied.ResourceVersion == "" || applied.ResourceVersion == before.ResourceVersion {
		t.Fatalf("apply = %+v, %v; want n=9 under a new version", applied, err)
	}
}

func TestClientsetDeletePreconditions(t *testing.T) {
	cms, cm := seeded(t)

	for _, pre := range []metav1.Preconditions{
		{ResourceVersion: new("1" + cm.ResourceVersion)},
		{UID: new(types.UID("other"))},
	} {
		if err := cms.Delete(ctx, "c", metav1.DeleteOptions{Preconditions: &pre}); !apierrors.IsConflict(err) {
			t.Fatalf("delete with precondition %+v = %v, want Conflict", pre, err)
		}
	}
	if err := cms.Delete(ctx, "c", *metav1.NewPreconditionDeleteOptions(string(cm.UID))); err != nil {
		t.Fatalf("delete with matching UID = %v", err)
	}
	if err := cms.Delete(ctx, "c", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("second delete = %v, want NotFound", err)
	}
	// An update naming the deleted object's UID is a conflict, as on a real server.
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("update of the deleted object = %v, want Conflict", err)
	}
}

// TestClientsetNoLostUpdates: concurrent read-modify-write loops that retry on
// conflict lose no increment, which only holds if stale writes are refused.
func TestClientsetNoLostUpdates(t *testing.T) {
	cms := fake.NewClientset(configMap("counter")).CoreV1().ConfigMaps(namespace)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				for {
					cm, err := cms.Get(ctx, "counter", metav1.GetOptions{})
					if err != nil {
						t.Error(err)
						return
					}
					n, _ := strconv.Atoi(cm.Data["n"])
					cm.Data["n"] = strconv.Itoa(n + 1)
					_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
					if err == nil {
						break
					}
					if !apierrors.IsConflict(err) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	cm, _ := cms.Get(ctx, "counter", metav1.GetOptions{})
	if cm.Data["n"] != strconv.Itoa(writers*each) {
		t.Fatalf("counter = %s, want %d", cm.Data["n"], writers*each)
	}
}

func TestNewObjectTrackerAddsLists(t *testing.T) {
	tracker := fake.NewObjectTracker(clienttesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder()))
	list := &corev1.ConfigMapList{Items: []corev1.ConfigMap{*configMap("a"), *configMap("b")}}
	if err := tracker.Add(list); err != nil {
		t.Fatal(err)
	}
	gvr := corev1.SchemeGroupVersion.WithResource("configmaps")
	a, err := tracker.Get(gvr, namespace, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := tracker.Get(gvr, namespace, "b")
	if err != nil {
		t.Fatal(err)
	}
	av, bv := a.(*corev1.ConfigMap).ResourceVersion, b.(*corev1.ConfigMap).ResourceVersion
	if av == "" || bv == "" || av == bv {
		t.Fatalf("versions %q, %q; want distinct, non-empty", av, bv)
	}
	if list.Items[0].ResourceVersion != "" {
		t.Fatal("Add changed the caller's object")
	}
}

func TestNewClientsetPanicsOnBadSeed(t *testing.T) {
	defer func() {
		if r, _ := recover().(string); !strings.HasPrefix(r, "fake: NewClientset: ") {
			t.Fatalf("panic = %q, want a fake: NewClientset: message", r)
		}
	}()
	fake.NewClientset(configMap("dup"), configMap("dup"))
}

var watchNamespaces atomic.Int64

// newNamespace creates a namespace of the test's own, so that a watch of it
// sees only the test's writes, on the fake and on kube-apiserver alike.
func newNamespace(t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("watch-%d", watchNamespaces.Add(1))}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// describe renders events as "TYPE name rv=N n=V", the ConfigMap's data n.
func describe(evs []watch.Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		if cm, ok := ev.Object.(*corev1.ConfigMap); ok {
			out = append(out, fmt.Sprintf("%s %s rv=%s n=%s", ev.Type, cm.Name, cm.ResourceVersion, cm.Data["n"]))
		} else {
			out = append(out, fmt.Sprintf("%s %T %v", ev.Type, ev.Object, ev.Object))
		}
	}
	return out
}

func describeCM(typ watch.EventType, cm *corev1.ConfigMap) string {
	return describe([]watch.Event{{Type: typ, Object: cm}})[0]
}

// eventsUntil reads w until the event of the object named last and returns
// the events before it. Writing a last object after the ones a test expects
// shows that nothing else came, without waiting for silence.
func eventsUntil(t *testing.T, w watch.Interface, last string) []watch.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	var evs []watch.Event
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed before %s arrived; got %q", last, describe(evs))
			}
			if m, err := meta.Accessor(ev.Object); err == nil && m.GetName() == last {
				return evs
			}
			evs = append(evs, ev)
		case <-timeout:
			t.Fatalf("%s did not arrive within 10s; got %q", last, describe(evs))
		}
	}
}

func sameEvents(t *testing.T, what string, got []watch.Event, want ...string) {
	t.Helper()
	if g := describe(got); !slices.Equal(g, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, g, want)
	}
}

func rv(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWatchFromSeenVersion is the watch contract of kube-apiserver, run on the
// fake and on kube-apiserver with the same expectations: a watch from any
// resourceVersion the client saw (a list's or an object's) delivers every
// later write of the resource in the namespace, in order; a watch from "" or
// "0" starts with the current objects as ADDED.
func TestWatchFromSeenVersion(t *testing.T) {
	for _, b := range []struct {
		name   string
		client func(*testing.T) kubernetes.Interface
	}{
		{"fake.NewClientset", func(*testing.T) kubernetes.Interface { return fake.NewClientset() }},
		{"kube-apiserver", needAPIServer},
	} {
		t.Run(b.name, func(t *testing.T) {
			cs := b.client(t)
			ns, other := newNamespace(t, cs), newNamespace(t, cs)
			cms := cs.CoreV1().ConfigMaps(ns)
			create := func(cms corev1client.ConfigMapInterface, name string) *corev1.ConfigMap {
				t.Helper()
				cm := configMap(name)
				cm.Namespace = ""
				got, err := cms.Create(ctx, cm, metav1.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			watchFrom := func(rv string) watch.Interface {
				t.Helper()
				w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(w.Stop)
				return w
			}

			a, b := create(cms, "a"), create(cms, "b")
			list, err := cms.List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			a1 := a.DeepCopy()
			a1.Data["n"] = "1"
			if a1, err = cms.Update(ctx, a1, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			create(cs.CoreV1().ConfigMaps(other), "elsewhere")
			end1 := create(cms, "end1")

			sameEvents(t, "watch from the list's resourceVersion", eventsUntil(t, watchFrom(list.ResourceVersion), "end1"),
				describeCM(watch.Modified, a1))
			sameEvents(t, "watch from a's first resourceVersion", eventsUntil(t, watchFrom(a.ResourceVersion), "end1"),
				describeCM(watch.Added, b), describeCM(watch.Modified, a1))

			w := watchFrom(end1.ResourceVersion)
			if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			end2 := create(cms, "end2")
			evs := eventsUntil(t, w, "end2")
			if len(evs) != 1 || evs[0].Type != watch.Deleted {
				t.Fatalf("watch from end1's resourceVersion, then a deleted: got %q, want one DELETED a", describe(evs))
			}
			// The deleted object carries the deletion's resourceVersion.
			deleted := evs[0].Object.(*corev1.ConfigMap)
			if d := rv(t, deleted.ResourceVersion); d <= rv(t, end1.ResourceVersion) || d >= rv(t, end2.ResourceVersion) {
				t.Fatalf("DELETED a at resourceVersion %d, want one between end1's %s and end2's %s", d, end1.ResourceVersion, end2.ResourceVersion)
			}
			deleted.ResourceVersion = a1.ResourceVersion // the rest is a as last written
			sameEvents(t, "watch from end1's resourceVersion, then a deleted", evs, describeCM(watch.Deleted, a1))

			// The current objects, which a watch from "" or "0" starts with.
			current := map[string]*corev1.ConfigMap{"b": b, "end1": end1, "end2": end2}
			for _, from := range []string{"", "0"} {
				w := watchFrom(from)
				var want []string
				for _, cm := range current {
					want = append(want, describeCM(watch.Added, cm))
				}
				slices.Sort(want)
				b1 := current["b"].DeepCopy()
				b1.Data["n"] = "b" + from
				if b1, err = cms.Update(ctx, b1, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
				last := map[string]string{"": "end-empty", "0": "end-zero"}[from]
				current["b"], current[last] = b1, create(cms, last)

				evs := eventsUntil(t, w, last)
				if len(evs) < len(want) {
					t.Fatalf("watch from %q: got %q, want %q ADDED, then b MODIFIED", from, describe(evs), want)
				}
				// kube-apiserver promises no order among the current objects.
				initial := describe(evs[:len(want)])
				slices.Sort(initial)
				if !slices.Equal(initial, want) {
					t.Fatalf("watch from %q starts with %q, want %q", from, initial, want)
				}
				sameEvents(t, fmt.Sprintf("watch from %q after the current objects", from), evs[len(want):], describeCM(watch.Modified, b1))
			}
		})
	}
}

// TestClientsetListVersionIsNewest: a list reports the resourceVersion of the
// newest write, of any resource, as kube-apiserver reports etcd's revision, so
// that a watch from it misses nothing and repeats nothing.
func TestClientsetListVersionIsNewest(t *testing.T) {
	cs := fake.NewClientset(configMap("seed"))
	cms := cs.CoreV1().ConfigMaps(namespace)
	listVersion := func() string {
		t.Helper()
		list, err := cms.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return list.ResourceVersion
	}
	a, err := cms.Create(ctx, configMap("a"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.Data["n"] = "1"
	if a, err = cms.Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := listVersion(); got != a.ResourceVersion {
		t.Fatalf("list resourceVersion after updating a = %s, want a's %s", got, a.ResourceVersion)
	}
	lease, err := cs.CoordinationV1().Leases(namespace).Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "l"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := listVersion(); got != lease.ResourceVersion {
		t.Fatalf("configmaps list resourceVersion after creating a lease = %s, want the lease's %s", got, lease.ResourceVersion)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: lease.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := strconv.FormatUint(rv(t, lease.ResourceVersion)+1, 10)
	if got := listVersion(); got != deleted {
		t.Fatalf("list resourceVersion after deleting a = %s, want the next version %s", got, deleted)
	}
	if _, err := cms.Create(ctx, configMap("end"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a.ResourceVersion = deleted
	sameEvents(t, "watch from the lease's version, then a deleted", eventsUntil(t, w, "end"), describeCM(watch.Deleted, a))
}

// TestClientsetInformerResumesBrokenWatch: a real informer whose watch breaks
// after it saw an update, and misses the next one with the broken connection,
// watches again from the version it saw and ends with every update, as on
// kube-apiserver.
func TestClientsetInformerResumesBrokenWatch(t *testing.T) {
	// Writes of other resources first, as in any real test: the one version
	// sequence then runs ahead of any count of ConfigMap writes.
	cs := fake.NewClientset(
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "l1"}},
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "l2"}},
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "l3"}},
		configMap("c"),
	)
	// The informer's first watch is a connection the test controls and breaks.
	first := watch.NewFake()
	var watches atomic.Int32
	cs.PrependWatchReactor("configmaps", func(clienttesting.Action) (bool, watch.Interface, error) {
		if watches.Add(1) == 1 {
			return true, first, nil
		}
		return false, nil, nil
	})
	ictx, cancel := context.WithCancel(klog.NewContext(t.Context(), logr.Discard()))
	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().ConfigMaps().Informer()
	factory.StartWithContext(ictx)
	defer func() {
		cancel()
		factory.Shutdown() // waits for the informer's goroutines, which end with ictx
	}()
	if !cache.WaitForCacheSync(ictx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}

	cms := cs.CoreV1().ConfigMaps(namespace)
	c, err := cms.Get(ctx, "c", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Data["n"] = "1"
	c1, err := cms.Update(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first.Modify(c1.DeepCopy()) // returns once the informer has read it
	c2 := c1.DeepCopy()
	c2.Data["n"] = "2"
	if c2, err = cms.Update(ctx, c2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	first.Stop() // the connection breaks; c2 went nowhere

	want := fmt.Sprintf("rv=%s n=2", c2.ResourceVersion)
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if obj, ok, _ := inf.GetStore().GetByKey(namespace + "/c"); ok {
			cm := obj.(*corev1.ConfigMap)
			if got = fmt.Sprintf("rv=%s n=%s", cm.ResourceVersion, cm.Data["n"]); got == want {
				break
			}
		}
	}
	if got != want {
		t.Fatalf("informer's c after the watch broke = %s, want %s (watches: %d)", got, want, watches.Load())
	}
}

// TestObjectTrackerWatchExpired: a watch from a version older than the event
// log gets kube-apiserver's 410 Expired as an ERROR event, which client-go's
// reflector answers by listing again.
func TestObjectTrackerWatchExpired(t *testing.T) {
	tracker := fake.NewObjectTracker(clienttesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder()))
	gvr := corev1.SchemeGroupVersion.WithResource("configmaps")
	if err := tracker.Add(configMap("c")); err != nil { // version 1
		t.Fatal(err)
	}
	const writes = 10_000 // the log's length
	for i := range writes {
		cm := configMap("c")
		cm.Data["n"] = strconv.Itoa(i)
		if err := tracker.Update(gvr, cm, namespace); err != nil {
			t.Fatal(err)
		}
	}
	// Versions 2 to 10001 are in the log: a watch from 1 misses nothing.
	w, err := tracker.Watch(gvr, namespace, metav1.ListOptions{ResourceVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	ev := <-w.ResultChan()
	w.Stop()
	if cm, ok := ev.Object.(*corev1.ConfigMap); !ok || ev.Type != watch.Modified || cm.ResourceVersion != "2" || cm.Data["n"] != "0" {
		t.Fatalf("first event from version 1 = %q, want MODIFIED c rv=2 n=0", describe([]watch.Event{ev}))
	}
	if err := tracker.Update(gvr, configMap("c"), namespace); err != nil { // version 10002 pushes 2 out
		t.Fatal(err)
	}
	w, err = tracker.Watch(gvr, namespace, metav1.ListOptions{ResourceVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev, ok := <-w.ResultChan()
	if !ok || ev.Type != watch.Error {
		t.Fatalf("watch from version 1 after 10001 writes = %q, want an ERROR event", describe([]watch.Event{ev}))
	}
	err = apierrors.FromObject(ev.Object)
	if !apierrors.IsResourceExpired(err) || err.Error() != "too old resource version: 1 (2)" {
		t.Fatalf("error = %v (reason %s), want Expired: too old resource version: 1 (2)", err, apierrors.ReasonForError(err))
	}
	if ev, ok := <-w.ResultChan(); ok {
		t.Fatalf("after the error: %q, want the watch closed", describe([]watch.Event{ev}))
	}

	// A version no write has reached: kube-apiserver's answer after waiting
	// for it, which the reflector also answers by listing again.
	w, err = tracker.Watch(gvr, namespace, metav1.ListOptions{ResourceVersion: "10003"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev, ok = <-w.ResultChan(); !ok || ev.Type != watch.Error {
		t.Fatalf("watch from version 10003 = %q, want an ERROR event", describe([]watch.Event{ev}))
	}
	err = apierrors.FromObject(ev.Object)
	if !apierrors.IsTimeout(err) || !apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge) || err.Error() != "Timeout: Too large resource version: 10003, current: 10002" {
		t.Fatalf("error = %v (reason %s), want Timeout with cause ResourceVersionTooLarge: Timeout: Too large resource version: 10003, current: 10002", err, apierrors.ReasonForError(err))
	}
}

// TestObjectTrackerSlowWatcherIsClosed: a watcher that leaves more than
// 10,000 events unread is closed, as kube-apiserver closes a watcher that
// does not keep up, instead of holding events without bound; what it did
// deliver is the writes in order.
func TestObjectTrackerSlowWatcherIsClosed(t *testing.T) {
	tracker := fake.NewObjectTracker(clienttesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder()))
	gvr := corev1.SchemeGroupVersion.WithResource("configmaps")
	if err := tracker.Add(configMap("c")); err != nil { // version 1
		t.Fatal(err)
	}
	w, err := tracker.Watch(gvr, namespace, metav1.ListOptions{ResourceVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The watch's goroutine holds at most 10,000 events it took while it
	// waits to send the first, so 20,001 writes leave more than 10,000 queued.
	const writes = 20_001
	for i := range writes {
		cm := configMap("c")
		cm.Data["n"] = strconv.Itoa(i)
		if err := tracker.Update(gvr, cm, namespace); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for ev := range w.ResultChan() {
		if cm, ok := ev.Object.(*corev1.ConfigMap); !ok || ev.Type != watch.Modified || cm.Data["n"] != strconv.Itoa(got) || cm.ResourceVersion != strconv.Itoa(got+2) {
			t.Fatalf("event %d = %q, want MODIFIED c rv=%d n=%d", got, describe([]watch.Event{ev}), got+2, got)
		}
		got++
	}
	if got > 10_000 {
		t.Fatalf("the watch delivered %d of %d events before it closed, want at most 10000", got, writes)
	}
}

// TestClientsetWatchSeesApply: server-side apply is a write like the others:
// ADDED when it creates the object, MODIFIED when it changes it.
func TestClientsetWatchSeesApply(t *testing.T) {
	cs := fake.NewClientset(configMap("c"))
	cms := cs.CoreV1().ConfigMaps(namespace)
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	apply := func(name, n string) *corev1.ConfigMap {
		t.Helper()
		cm, err := cms.Apply(ctx, corev1ac.ConfigMap(name, namespace).WithData(map[string]string{"n": n}), metav1.ApplyOptions{FieldManager: "test", Force: true})
		if err != nil {
			t.Fatal(err)
		}
		return cm
	}
	created, changed := apply("new", "5"), apply("c", "6")
	if _, err := cms.Create(ctx, configMap("end"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sameEvents(t, "watch of two applies", eventsUntil(t, w, "end"), describeCM(watch.Added, created), describeCM(watch.Modified, changed))
}

// TestClientsetWatchNeverBlocksTheWriter: writes never wait for a watcher,
// however far behind it is (client-go's own watches panic after 100 unread
// events), and a stopped watch leaves no goroutine behind, which synctest
// checks when the bubble ends.
func TestClientsetWatchNeverBlocksTheWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cms := fake.NewClientset(configMap("c")).CoreV1().ConfigMaps(namespace)
		w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: "1"})
		if err != nil {
			t.Fatal(err)
		}
		const writes = 500
		for i := range writes {
			cm := configMap("c")
			cm.Data["n"] = strconv.Itoa(i)
			if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range writes {
			ev := <-w.ResultChan()
			if cm, ok := ev.Object.(*corev1.ConfigMap); !ok || ev.Type != watch.Modified || cm.Data["n"] != strconv.Itoa(i) || cm.ResourceVersion != strconv.Itoa(i+2) {
				t.Fatalf("event %d = %q, want MODIFIED c rv=%d n=%d", i, describe([]watch.Event{ev}), i+2, i)
			}
		}
		// Stop with events still queued: the watch ends and closes its channel.
		if _, err := cms.Update(ctx, configMap("c"), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		w.Stop()
		synctest.Wait()
		for range w.ResultChan() {
		}
	})
}
