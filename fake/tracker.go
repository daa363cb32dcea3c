package fake

import (
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	clienttesting "k8s.io/client-go/testing"

	"github.com/leaderlab/leaderlab/internal/precondition"
)

// NewClientset returns client-go's fake clientset whose object storage behaves like
// an API server on writes: every create, update and patch assigns a new
// metadata.resourceVersion (one counter for all resources, as etcd has), and an
// update, patch or delete that carries a resourceVersion other than the stored one
// fails with 409 Conflict. An update with an empty resourceVersion stays
// unconditional, as on a real server. New objects without a UID get one, and a
// write whose UID does not match the stored object's (or whose object is gone)
// is a 409 Conflict too, as a real server answers a write to a deleted and
// recreated object. Objects passed in are stored with fresh resourceVersions.
//
// Everything else is the stock clientset: reactors added with PrependReactor run
// before the storage, and Actions() records every call. Writes made directly
// through Tracker() bypass the checks; use the clientset's typed clients instead.
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
	return cs
}

// NewObjectTracker wraps a client-go ObjectTracker with the resourceVersion rules
// of a real API server (see NewClientset), for fakes built on client-go's
// trackers.
//
// The wrapper serialises writes with its own mutex; it never blocks while holding
// it, so it is safe inside client-go fake reactors and synctest bubbles.
func NewObjectTracker(inner clienttesting.ObjectTracker) clienttesting.ObjectTracker {
	return &versionedTracker{ObjectTracker: inner}
}

type versionedTracker struct {
	clienttesting.ObjectTracker

	mu      sync.Mutex
	version uint64 // last resourceVersion handed out
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
	obj = obj.DeepCopyObject()
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stampLocked(m)
	return t.ObjectTracker.Add(obj)
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
	return nil
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
	return store(obj)
}

func (t *versionedTracker) Apply(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ObjectTracker.Apply(gvr, obj, ns, opts...); err != nil {
		return err
	}
	// Apply merges into the stored object, so the new version goes on afterwards.
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	stored, err := t.ObjectTracker.Get(gvr, ns, m.GetName())
	if err != nil {
		return err
	}
	sm, err := meta.Accessor(stored)
	if err != nil {
		return err
	}
	sm.SetResourceVersion(t.nextVersionLocked())
	return t.ObjectTracker.Update(gvr, stored, ns)
}

func (t *versionedTracker) Delete(gvr schema.GroupVersionResource, ns, name string, opts ...metav1.DeleteOptions) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(opts) == 1 && opts[0].Preconditions != nil {
		current, err := t.ObjectTracker.Get(gvr, ns, name)
		if err != nil {
			return err
		}
		cm, err := meta.Accessor(current)
		if err != nil {
			return err
		}
		// The delete handler names the kind: client-go's kinds carry none.
		kind := current.GetObjectKind().GroupVersionKind().GroupKind()
		if gvks, _, err := scheme.Scheme.ObjectKinds(current); err == nil {
			kind = gvks[0].GroupKind()
		}
		if err := precondition.CheckDelete(kind, name, opts[0].Preconditions, cm); err != nil {
			return err
		}
	}
	return t.ObjectTracker.Delete(gvr, ns, name, opts...)
}
