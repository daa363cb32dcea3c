package fake

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	clienttesting "k8s.io/client-go/testing"

	"github.com/leaderlab/leaderlab/internal/precondition"
)

// NewClientset returns client-go's fake clientset whose object storage behaves like
// an API server on writes: every create, update, patch and delete takes the next
// metadata.resourceVersion (one counter for all resources, as etcd has), and an
// update, patch or delete that carries a resourceVersion other than the stored one
// fails with 409 Conflict. An update with an empty resourceVersion stays
// unconditional, as on a real server. New objects without a UID get one, and a
// write whose UID does not match the stored object's (or whose object is gone)
// is a 409 Conflict too, as a real server answers a write to a deleted and
// recreated object. Objects passed in are stored with fresh resourceVersions.
//
// Lists and watches share that one sequence, as on kube-apiserver: a list
// reports the newest resourceVersion, and a watch from any resourceVersion the
// client saw (a list's or an object's) delivers every later write of the
// resource in its namespace, in order, so an informer that watches again after
// a broken watch misses nothing. A watch from "" or "0" starts with the current
// objects as ADDED. See NewObjectTracker for the details.
//
// Everything else is the stock clientset: reactors added with PrependReactor run
// before the storage, and Actions() records every call. Writes made directly
// through Tracker() bypass the checks and reach no watch; use the clientset's
// typed clients instead.
func NewClientset(objects ...runtime.Object) *fake.Clientset {
	cs := fake.NewClientset()
	tracker := NewObjectTracker(cs.Tracker())
	for _, obj := range objects {
		if err := tracker.Add(obj); err != nil {
			// Same contract as client-go's NewClientset: bad seed objects are a
			// programming error in the test.
			panic("fake: NewClientset: " + err.Error())
		}
	}
	cs.PrependReactor("*", "*", clienttesting.ObjectReaction(tracker))
	// The stock watch reactor asks the inner tracker, whose watches know only
	// its own per-resource versions; this one is served from the wrapper's log.
	cs.PrependWatchReactor("*", func(action clienttesting.Action) (bool, watch.Interface, error) {
		var opts metav1.ListOptions
		if wa, ok := action.(clienttesting.WatchActionImpl); ok {
			opts = wa.ListOptions
		}
		w, err := tracker.Watch(action.GetResource(), action.GetNamespace(), opts)
		return true, w, err
	})
	return cs
}

// logSize is how many writes the tracker keeps for watches, as kube-apiserver's
// watch cache keeps a window of recent events. It also bounds a watcher's
// queue: one that falls further behind is closed, as kube-apiserver closes a
// watcher that does not keep up, and its client watches again from the last
// version it saw.
const logSize = 10_000

// NewObjectTracker wraps a client-go ObjectTracker with the resourceVersion rules
// of a real API server (see NewClientset), for fakes built on client-go's
// trackers.
//
// The wrapper keeps its own record of writes for watches, because the inner
// tracker's watches count versions per resource and miss writes when asked
// for a version from the one sequence. Watch follows kube-apiserver:
//   - resourceVersion "" or "0": the current objects as ADDED (sorted by
//     namespace and name), then every later write;
//   - resourceVersion N: every write after N, from a log of the last 10,000
//     writes; an N older than the log gets an ERROR event with 410 Expired
//     ("too old resource version"), and an N newer than any write an ERROR
//     event with "Too large resource version", on which client-go's reflector
//     lists again;
//   - no options (client-go's tracker called directly): the writes from now on.
//
// Label and field selectors are ignored, as client-go's fake does; the
// namespace filters. Add files an object under the resource of each of its
// kinds as client-go's tracker does; a kind outside client-go's scheme must be
// named in the object's apiVersion and kind.
//
// The wrapper serialises writes with its own mutex; it never blocks while holding
// it, so it is safe inside client-go fake reactors and synctest bubbles. Each
// watch has one goroutine, which ends when the watch is stopped or closed.
func NewObjectTracker(inner clienttesting.ObjectTracker) clienttesting.ObjectTracker {
	return &versionedTracker{
		ObjectTracker: inner,
		objects:       map[schema.GroupVersionResource]map[types.NamespacedName]runtime.Object{},
		watchers:      map[*watcher]struct{}{},
	}
}

type versionedTracker struct {
	clienttesting.ObjectTracker

	mu      sync.Mutex
	version uint64 // last resourceVersion handed out
	// objects are the stored objects as last written, for watches from "";
	// the inner tracker cannot list them without their kind.
	objects  map[schema.GroupVersionResource]map[types.NamespacedName]runtime.Object
	log      []event // the last logSize writes, oldest first
	expired  uint64  // version of the newest write dropped from log
	watchers map[*watcher]struct{}
}

// event is one write. Its object is shared and never changed; each watcher
// gets a copy.
type event struct {
	typ     watch.EventType
	gvr     schema.GroupVersionResource
	ns      string
	version uint64
	obj     runtime.Object
}

// recordLocked logs obj, as written at t.version, and hands it to the watchers.
func (t *versionedTracker) recordLocked(typ watch.EventType, gvr schema.GroupVersionResource, obj runtime.Object) {
	m, _ := meta.Accessor(obj)
	key := types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}
	if t.objects[gvr] == nil {
		t.objects[gvr] = map[types.NamespacedName]runtime.Object{}
	}
	if typ == watch.Deleted {
		delete(t.objects[gvr], key)
	} else {
		t.objects[gvr][key] = obj
	}
	ev := event{typ: typ, gvr: gvr, ns: key.Namespace, version: t.version, obj: obj}
	t.log = append(t.log, ev)
	if len(t.log) > logSize {
		t.expired = t.log[0].version
		t.log = t.log[1:]
	}
	for w := range t.watchers {
		w.offer(ev)
	}
}

// recordStoredLocked logs the object as the inner tracker stored it, with
// what the inner tracker adds (managed fields, the namespace).
func (t *versionedTracker) recordStoredLocked(typ watch.EventType, gvr schema.GroupVersionResource, ns, name string) error {
	stored, err := t.ObjectTracker.Get(gvr, ns, name)
	if err != nil {
		return err
	}
	t.recordLocked(typ, gvr, stored)
	return nil
}

func (t *versionedTracker) nextVersionLocked() string {
	t.version++
	return strconv.FormatUint(t.version, 10)
}

// stampLocked gives a new object its resourceVersion and, if it has none, a
// UID derived from that version (so runs stay reproducible).
func (t *versionedTracker) stampLocked(m metav1.Object) {
	m.SetResourceVersion(t.nextVersionLocked())
	if m.GetUID() == "" {
		m.SetUID(types.UID("fake-uid-" + m.GetResourceVersion()))
	}
}

func (t *versionedTracker) Add(obj runtime.Object) error {
	if meta.IsListType(obj) {
		return meta.EachListItem(obj, t.Add)
	}
	gvrs, err := resourcesOf(obj)
	if err != nil {
		return err
	}
	obj = obj.DeepCopyObject()
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stampLocked(m)
	if err := t.ObjectTracker.Add(obj); err != nil {
		return err
	}
	for _, gvr := range gvrs {
		if err := t.recordStoredLocked(watch.Added, gvr, m.GetNamespace(), m.GetName()); err != nil {
			return err
		}
	}
	return nil
}

// resourcesOf returns the resources client-go's tracker files obj under in Add:
// one per kind of obj, guessed from the kind's name. The kinds come from
// client-go's scheme, or from the object itself for kinds outside it.
func resourcesOf(obj runtime.Object) ([]schema.GroupVersionResource, error) {
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if p, ok := obj.(*metav1.PartialObjectMetadata); ok && p.APIVersion != "" {
		gvks, err = []schema.GroupVersionKind{p.GroupVersionKind()}, nil
	}
	if err != nil {
		gvk := obj.GetObjectKind().GroupVersionKind()
		if gvk.Kind == "" || gvk.Version == "" {
			return nil, fmt.Errorf("fake: the resource of %T is unknown; set its apiVersion and kind: %w", obj, err)
		}
		gvks = []schema.GroupVersionKind{gvk}
	}
	gvrs := make([]schema.GroupVersionResource, 0, len(gvks))
	for _, gvk := range gvks {
		gvr, _ := meta.UnsafeGuessKindToResource(gvk)
		if gvr.Version == runtime.APIVersionInternal {
			gvr.Version = ""
		}
		gvrs = append(gvrs, gvr)
	}
	return gvrs, nil
}

func (t *versionedTracker) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if m.GetResourceVersion() != "" {
		return apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	obj = obj.DeepCopyObject()
	m, _ = meta.Accessor(obj)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stampLocked(m)
	if err := t.ObjectTracker.Create(gvr, obj, ns, opts...); err != nil {
		t.version-- // nothing was stored, so nothing consumed the version
		return err
	}
	return t.recordStoredLocked(watch.Added, gvr, ns, m.GetName())
}

func (t *versionedTracker) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	return t.write(gvr, obj, ns, func(obj runtime.Object) error { return t.ObjectTracker.Update(gvr, obj, ns, opts...) })
}

// Patch also sets the new resourceVersion on obj: client-go's patch reaction
// answers with the object it passed in, not with a fresh read.
func (t *versionedTracker) Patch(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	return t.write(gvr, obj, ns, func(stored runtime.Object) error {
		if err := t.ObjectTracker.Patch(gvr, stored, ns, opts...); err != nil {
			return err
		}
		sm, _ := meta.Accessor(stored)
		m, _ := meta.Accessor(obj)
		m.SetResourceVersion(sm.GetResourceVersion())
		return nil
	})
}

// write checks obj's resourceVersion against the stored one and, if it matches or
// is empty, stores obj with the next version.
func (t *versionedTracker) write(gvr schema.GroupVersionResource, obj runtime.Object, ns string, store func(runtime.Object) error) error {
	obj = obj.DeepCopyObject()
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if ns == "" {
		ns = m.GetNamespace()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var stored metav1.Object
	current, err := t.ObjectTracker.Get(gvr, ns, m.GetName())
	switch {
	case err == nil:
		stored, _ = meta.Accessor(current)
	case !apierrors.IsNotFound(err) || m.GetUID() == "":
		return err
	}
	if err := precondition.Check(gvr.GroupResource(), precondition.Key(gvr.Resource, ns, m.GetName()), m.GetName(), m.GetUID(), m.GetResourceVersion(), stored); err != nil {
		return err
	}
	m.SetResourceVersion(t.nextVersionLocked())
	if err := store(obj); err != nil {
		return err
	}
	return t.recordStoredLocked(watch.Modified, gvr, ns, m.GetName())
}

func (t *versionedTracker) Apply(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	typ := watch.Modified
	if _, err := t.ObjectTracker.Get(gvr, ns, m.GetName()); apierrors.IsNotFound(err) {
		typ = watch.Added
	}
	if err := t.ObjectTracker.Apply(gvr, obj, ns, opts...); err != nil {
		return err
	}
	// Apply merges into the stored object, so the new version goes on afterwards.
	stored, err := t.ObjectTracker.Get(gvr, ns, m.GetName())
	if err != nil {
		return err
	}
	sm, err := meta.Accessor(stored)
	if err != nil {
		return err
	}
	sm.SetResourceVersion(t.nextVersionLocked())
	if err := t.ObjectTracker.Update(gvr, stored, ns); err != nil {
		return err
	}
	return t.recordStoredLocked(typ, gvr, ns, m.GetName())
}

// Delete takes a version of its own, as etcd's revision moves on a delete: the
// DELETED event carries it, as kube-apiserver's does.
func (t *versionedTracker) Delete(gvr schema.GroupVersionResource, ns, name string, opts ...metav1.DeleteOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	current, err := t.ObjectTracker.Get(gvr, ns, name)
	if err != nil {
		return err
	}
	cm, err := meta.Accessor(current)
	if err != nil {
		return err
	}
	if len(opts) == 1 && opts[0].Preconditions != nil {
		// The delete handler names the kind: client-go's kinds carry none.
		kind := current.GetObjectKind().GroupVersionKind().GroupKind()
		if gvks, _, err := scheme.Scheme.ObjectKinds(current); err == nil {
			kind = gvks[0].GroupKind()
		}
		if err := precondition.CheckDelete(kind, name, opts[0].Preconditions, cm); err != nil {
			return err
		}
	}
	if err := t.ObjectTracker.Delete(gvr, ns, name, opts...); err != nil {
		return err
	}
	cm.SetResourceVersion(t.nextVersionLocked())
	t.recordLocked(watch.Deleted, gvr, current)
	return nil
}

// List reports the newest resourceVersion of all, as kube-apiserver reports
// etcd's revision, so that a watch from it starts right after the listed state.
func (t *versionedTracker) List(gvr schema.GroupVersionResource, gvk schema.GroupVersionKind, ns string, opts ...metav1.ListOptions) (runtime.Object, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list, err := t.ObjectTracker.List(gvr, gvk, ns, opts...)
	if err != nil {
		return nil, err
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, err
	}
	lm.SetResourceVersion(strconv.FormatUint(t.version, 10))
	return list, nil
}

// Watch serves a watch from the tracker's own log and objects (see
// NewObjectTracker for what it delivers).
func (t *versionedTracker) Watch(gvr schema.GroupVersionResource, ns string, opts ...metav1.ListOptions) (watch.Interface, error) {
	if len(opts) > 1 {
		return nil, fmt.Errorf("fake: Watch takes at most one ListOptions, got %d", len(opts))
	}
	// w is not shared until it is registered below, so its queue is filled
	// without its lock, and without its bound: the current objects may be more.
	w := &watcher{gvr: gvr, ns: ns, wake: make(chan struct{}, 1)}
	t.mu.Lock()
	defer t.mu.Unlock()
	var rv string
	if len(opts) == 1 {
		rv = opts[0].ResourceVersion
	}
	switch {
	case len(opts) == 0:
		// client-go's tracker called without options: the writes from now on.
	case rv == "" || rv == "0":
		objs := t.objects[gvr]
		byKey := func(a, b types.NamespacedName) int {
			return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
		}
		for _, key := range slices.SortedFunc(maps.Keys(objs), byKey) {
			if ns == "" || key.Namespace == ns {
				w.queue = append(w.queue, event{typ: watch.Added, gvr: gvr, ns: key.Namespace, obj: objs[key]})
			}
		}
	default:
		from, err := strconv.ParseUint(rv, 10, 64)
		switch {
		case err != nil:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", rv))
		case from < t.expired:
			return errorWatch(apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", from, t.expired))), nil
		case from > t.version:
			return errorWatch(tooLargeResourceVersion(from, t.version)), nil
		}
		for _, ev := range t.log[sort.Search(len(t.log), func(i int) bool { return t.log[i].version > from }):] {
			if w.wants(ev) {
				w.queue = append(w.queue, ev)
			}
		}
	}
	t.watchers[w] = struct{}{}
	ch := make(chan watch.Event)
	pw := watch.NewProxyWatcher(ch)
	go t.serve(w, ch, pw.StopChan())
	return pw, nil
}

// serve sends w's events to ch until the watch is stopped or w overflows,
// holding no lock while it waits.
func (t *versionedTracker) serve(w *watcher, ch chan<- watch.Event, stop <-chan struct{}) {
	defer close(ch)
	defer func() {
		t.mu.Lock()
		delete(t.watchers, w)
		t.mu.Unlock()
	}()
	for {
		evs, ok := w.take()
		if !ok {
			return
		}
		for _, ev := range evs {
			select {
			case ch <- watch.Event{Type: ev.typ, Object: ev.obj.DeepCopyObject()}:
			case <-stop:
				return
			}
		}
		select {
		case <-w.wake:
		case <-stop:
			return
		}
	}
}

// watcher is one watch's queue of events. Writers append to it under the
// tracker's mutex and never wait, so a slow reader cannot stall them (client-go's
// RaceFreeFakeWatcher panics instead after 100 unread events).
type watcher struct {
	gvr schema.GroupVersionResource
	ns  string // "" for all namespaces

	mu       sync.Mutex
	queue    []event
	overflow bool          // more than logSize events waited: the watch ends
	wake     chan struct{} // one pending wake-up for the goroutine
}

func (w *watcher) wants(ev event) bool {
	return ev.gvr == w.gvr && (w.ns == "" || ev.ns == w.ns)
}

func (w *watcher) offer(ev event) {
	if !w.wants(ev) {
		return
	}
	w.mu.Lock()
	if w.queue = append(w.queue, ev); len(w.queue) > logSize {
		w.queue, w.overflow = nil, true
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take empties the queue; false means the watcher fell too far behind.
func (w *watcher) take() ([]event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	evs := w.queue
	w.queue = nil
	return evs, !w.overflow
}

// errorWatch reports err as an ERROR event and ends, as kube-apiserver answers
// a watch from a version its watch cache cannot serve.
func errorWatch(err *apierrors.StatusError) watch.Interface {
	ch := make(chan watch.Event, 1)
	status := err.Status()
	ch <- watch.Event{Type: watch.Error, Object: &status}
	close(ch)
	return watch.NewProxyWatcher(ch)
}

// tooLargeResourceVersion is kube-apiserver's answer to a watch from a version
// it has not reached (storage.NewTooLargeResourceVersionError, after waiting
// 3 seconds for it, which a fake never reaches by waiting).
func tooLargeResourceVersion(from, current uint64) *apierrors.StatusError {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", from, current), 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}
	return err
}
