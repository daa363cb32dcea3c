package apiserver

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// store holds the server's objects with etcd's resourceVersion semantics:
// one counter for every write of every resource, a write's version is the
// counter after it, and a list's version is the counter when it was read. It
// keeps the last events in a bounded log, from which watches resume.
//
// Objects are stored as the server's own copies and handed out read-only:
// callers copy before they change one.
type store struct {
	mu       sync.Mutex
	rv       uint64
	objects  map[schema.GroupVersionResource]map[objectKey]*revision
	log      []*logEvent // the last logSize events, oldest first, after up to logSize nils (see writeLocked)
	logSize  int
	dropped  uint64 // the version of the newest event dropped from the log (0: none)
	watchers map[*watcher]struct{}
	// onWrite is told of every write, under the lock, after it.
	onWrite func(*logEvent)
}

type objectKey struct{ namespace, name string }

func keyOf(m metav1.Object) objectKey { return objectKey{m.GetNamespace(), m.GetName()} }

func compareKeys(a, b objectKey) int {
	return cmp.Or(cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
}

// revision is one state of one object, never changed once written: the
// answer to a get, to the write that made it and to every watcher, encoded
// once per media type for all of them.
type revision struct {
	obj runtime.Object

	mu      sync.Mutex
	encoded map[string][]byte
}

// encode returns the object encoded by enc in media type mt, as served at
// version as (nil: as stored), encoding it the first time only.
func (v *revision) encode(mt string, as *custom, enc func(runtime.Object, string) ([]byte, error)) ([]byte, error) {
	key := mt
	if as != nil {
		key += " " + as.version
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if b, ok := v.encoded[key]; ok {
		return b, nil
	}
	obj := encodable(v.obj)
	if as != nil {
		obj = as.convert(v.obj)
	}
	b, err := enc(obj, mt)
	if err != nil {
		return nil, err
	}
	if v.encoded == nil {
		v.encoded = make(map[string][]byte, 1)
	}
	v.encoded[key] = b
	return b, nil
}

// encodable is a copy of a stored object that an encoder may write to:
// runtime's versioning encoder sets the object's TypeMeta while it encodes,
// and others read the stored object meanwhile. Encoders write nothing else,
// so a typed object's top-level struct is copied, not the whole object.
func encodable(obj runtime.Object) runtime.Object {
	v := reflect.ValueOf(obj)
	if !isTyped(obj) || v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return obj.DeepCopyObject()
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	return c.Interface().(runtime.Object)
}

// logEvent is one change of one object: the object after it, and before
// it (nil for a creation), so that a selective watch can tell an object that
// enters its selection from one that leaves it.
type logEvent struct {
	rv   uint64
	gvr  schema.GroupVersionResource
	typ  watch.EventType
	obj  *revision
	prev *revision
}

func newStore(logSize int) *store {
	return &store{objects: make(map[schema.GroupVersionResource]map[objectKey]*revision), logSize: logSize, watchers: make(map[*watcher]struct{})}
}

func (s *store) get(gvr schema.GroupVersionResource, key objectKey) (*revision, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.objects[gvr][key]
	return v, ok
}

// objectLocked is the stored object at key, read-only.
func (s *store) objectLocked(gvr schema.GroupVersionResource, key objectKey) (runtime.Object, bool) {
	v, ok := s.objects[gvr][key]
	if !ok {
		return nil, false
	}
	return v.obj, true
}

// writeLocked stores obj as a change of type typ (a deletion removes key),
// gives it the next version and hands the event to the watchers. It returns
// what it wrote.
func (s *store) writeLocked(gvr schema.GroupVersionResource, key objectKey, typ watch.EventType, obj runtime.Object) *revision {
	s.rv++
	if isTyped(obj) {
		// Stored Go objects carry no kind, so that what a client sent and
		// what the server stored compare alike; encoding sets it.
		obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	}
	m, _ := meta.Accessor(obj)
	m.SetResourceVersion(strconv.FormatUint(s.rv, 10))
	objs := s.objects[gvr]
	if objs == nil {
		objs = make(map[objectKey]*revision)
		s.objects[gvr] = objs
	}
	prev := objs[key]
	v := &revision{obj: obj}
	if typ == watch.Deleted {
		delete(objs, key)
	} else {
		objs[key] = v
	}
	ev := &logEvent{rv: s.rv, gvr: gvr, typ: typ, obj: v, prev: prev}
	s.log = append(s.log, ev)
	if over := len(s.log) - s.logSize; over > 0 {
		s.dropped, s.log[over-1] = s.log[over-1].rv, nil
		if over == s.logSize {
			// Move the window down once every logSize writes, not on each.
			s.log = append(s.log[:0], s.log[over:]...)
			clear(s.log[s.logSize : s.logSize+over])
		}
	}
	for w := range s.watchers {
		w.offer(ev)
	}
	if s.onWrite != nil {
		s.onWrite(ev)
	}
	return v
}

// listLocked returns the objects of gvr in namespace ("" for all) that
// match, in namespace and name order, starting after the key `after`.
func (s *store) listLocked(gvr schema.GroupVersionResource, namespace string, match func(runtime.Object) bool, after *objectKey) []runtime.Object {
	return listIn(s.objects[gvr], namespace, match, after)
}

// listIn is listLocked over objs, the objects of one resource.
func listIn(objs map[objectKey]*revision, namespace string, match func(runtime.Object) bool, after *objectKey) []runtime.Object {
	keys := make([]objectKey, 0, len(objs))
	for k := range objs {
		if (namespace == "" || k.namespace == namespace) && (after == nil || compareKeys(k, *after) > 0) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareKeys)
	out := make([]runtime.Object, 0, len(keys))
	for _, k := range keys {
		if v := objs[k]; match(v.obj) {
			out = append(out, v.obj)
		}
	}
	return out
}

// filter is a list's or a watch's selection: a namespace ("" for all), a
// label selector and the metadata.name / metadata.namespace field selector.
type filter struct {
	namespace string
	labels    labels.Selector
	fields    fields.Selector
	// attrs are a custom resource's fields for selectors, selectable fields
	// included, as its registry strategy computes them; nil for the others.
	attrs func(runtime.Object) (labels.Set, fields.Set, error)
}

func (f filter) matches(obj runtime.Object) bool {
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if f.namespace != "" && m.GetNamespace() != f.namespace {
		return false
	}
	if !f.labels.Empty() && !f.labels.Matches(labels.Set(m.GetLabels())) {
		return false
	}
	// Every watch event is matched twice (before and after), most with no
	// field selector: skip building the field set for those.
	if f.fields.Empty() {
		return true
	}
	if f.attrs != nil {
		_, set, err := f.attrs(obj)
		return err == nil && f.fields.Matches(set)
	}
	return f.fields.Matches(fields.Set{"metadata.name": m.GetName(), "metadata.namespace": m.GetNamespace()})
}

// continueToken is a list page's continuation: the version the first page
// was read at and the last key it returned.
type continueToken struct {
	RV        uint64 `json:"rv"`
	Namespace string `json:"ns"`
	Name      string `json:"name"`
}

func (t continueToken) encode() string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, bool) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	return t, err == nil && json.Unmarshal(b, &t) == nil
}

// watcher is one open watch: the events it still has to send, in version
// order. It never blocks the writer: events queue until the stream takes them.
type watcher struct {
	gvr    schema.GroupVersionResource
	filter filter

	mu     sync.Mutex
	queue  []*logEvent
	notify chan struct{} // one pending wake-up; made where the watch is served
	// held are the events a lagging replica's cache does not have yet;
	// only the watch's own goroutine touches them.
	held []*logEvent
}

func (w *watcher) offer(ev *logEvent) {
	if ev.gvr != w.gvr {
		return
	}
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// take returns the queued events and empties the queue.
func (w *watcher) take() []*logEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.queue
	w.queue = nil
	return q
}

// startWatch opens a watch of gvr from version from (exclusive): the logged
// events after it first. It returns false when from is older than the log
// (the client must list again: 410 Gone).
func (s *store) startWatch(w *watcher, from uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if from < s.dropped {
		return false
	}
	for _, ev := range s.log[max(0, len(s.log)-s.logSize):] {
		if ev.rv > from {
			w.offer(ev)
		}
	}
	s.watchers[w] = struct{}{}
	return true
}

// initialWatch opens a watch that starts with the current state: every
// matching object as it is now (sorted), and the version they are at.
func (s *store) initialWatch(w *watcher) ([]runtime.Object, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	objs := s.listLocked(w.gvr, w.filter.namespace, w.filter.matches, nil)
	s.watchers[w] = struct{}{}
	return objs, s.rv
}

// cachedWatch opens a watch served by replica r that starts with its
// cache's state: the matching objects at its version, that version, and the
// logged events after it queued. ok is false when those events have left
// the log.
func (s *store) cachedWatch(w *watcher, r Replica) (objs []runtime.Object, at uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at = min(r.Version(), s.rv)
	cached, ok := s.atLocked(w.gvr, at)
	if !ok {
		return nil, at, false
	}
	for _, ev := range s.log[max(0, len(s.log)-s.logSize):] {
		if ev != nil && ev.rv > at {
			w.offer(ev)
		}
	}
	s.watchers[w] = struct{}{}
	return listIn(cached, w.filter.namespace, w.filter.matches, nil), at, true
}

func (s *store) stopWatch(w *watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.watchers, w)
}
