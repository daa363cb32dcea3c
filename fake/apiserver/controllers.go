package apiserver

import (
	"cmp"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// Controllers are the two controllers of kube-controller-manager that every
// operator relies on and envtest does not run, run by the server itself on
// its own store. The zero value runs neither, as envtest; the simulator runs
// both.
type Controllers struct {
	// GarbageCollection deletes the dependents of a deleted owner, as the
	// garbage collector does with ownerReferences: in the background after
	// the owner is gone (the default propagation), before it
	// (propagationPolicy Foreground: the owner keeps the foregroundDeletion
	// finalizer until no dependent with blockOwnerDeletion is left), or not
	// at all (Orphan: the references to it are removed, then its orphan
	// finalizer). A dependent that another owner still holds loses only the
	// reference to the deleted one; an object whose owners never existed is
	// deleted too.
	GarbageCollection bool
	// NamespaceLifecycle finishes the deletion of a namespace, as the
	// namespace controller does: a deleted namespace is Terminating, takes
	// no new objects, has its objects deleted, and goes once the last of them
	// is gone (their own finalizers are waited for).
	NamespaceLifecycle bool
	// Delay is how long after a change the controllers act on it, as they
	// would once their informers saw it; each level of a cascade takes one
	// more. Zero means DefaultControllerDelay.
	Delay time.Duration
	// Schedule runs fn after d; nil means time.AfterFunc. The simulator runs
	// it in its event loop, so that the controllers act at a defined point
	// of virtual time.
	Schedule func(d time.Duration, fn func())
}

// DefaultControllerDelay is Controllers.Delay when it is zero.
const DefaultControllerDelay = 20 * time.Millisecond

// WithControllers runs the garbage collector and the namespace controller
// as c says.
func WithControllers(c Controllers) Option {
	return func(cfg *config) { cfg.controllers = c }
}

func (c Controllers) on() bool { return c.GarbageCollection || c.NamespaceLifecycle }

// wakeLocked schedules one pass of the controllers after a write they may
// have to act on, unless one is pending.
func (s *Server) wakeLocked(ev *logEvent) {
	c := s.controllers
	if !c.on() || s.pass || !relevant(ev) {
		return
	}
	s.pass = true
	delay := cmp.Or(c.Delay, DefaultControllerDelay)
	if c.Schedule != nil {
		c.Schedule(delay, s.collect)
	} else {
		time.AfterFunc(delay, s.collect)
	}
}

// relevant is a write the controllers may have to act on: a deletion, an
// object being deleted, an object with owners.
func relevant(ev *logEvent) bool {
	if ev.typ == watch.Deleted {
		return true
	}
	m, err := meta.Accessor(ev.obj.obj)
	return err == nil && (m.GetDeletionTimestamp() != nil || len(m.GetOwnerReferences()) > 0)
}

// stored is one object of the store, as the controllers see it.
type stored struct {
	gvr schema.GroupVersionResource
	obj runtime.Object
	m   metav1.Object
}

// collect is one pass of the controllers over the store. What it writes
// wakes them again, so a cascade goes one level a pass.
func (s *Server) collect() {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	s.pass = false
	// Every object, in a defined order, so that a pass writes in the same
	// order every time.
	var all []stored
	byUID := make(map[types.UID]stored)
	dependents := make(map[types.UID][]stored)
	for gvr, objs := range s.store.objects {
		for _, v := range objs {
			m, err := meta.Accessor(v.obj)
			if err != nil {
				continue
			}
			o := stored{gvr: gvr, obj: v.obj, m: m}
			all = append(all, o)
			byUID[m.GetUID()] = o
		}
	}
	slices.SortFunc(all, func(a, b stored) int {
		return cmp.Or(cmp.Compare(a.gvr.String(), b.gvr.String()), cmp.Compare(a.m.GetNamespace(), b.m.GetNamespace()), cmp.Compare(a.m.GetName(), b.m.GetName()))
	})
	for _, o := range all {
		for _, ref := range o.m.GetOwnerReferences() {
			dependents[ref.UID] = append(dependents[ref.UID], o)
		}
	}
	defer func() { s.acting = "" }()
	if s.controllers.GarbageCollection {
		s.acting = GarbageCollector
		for _, o := range all {
			s.collectDependentLocked(o, byUID)
			s.finishOwnerLocked(o, dependents[o.m.GetUID()])
		}
	}
	if s.controllers.NamespaceLifecycle {
		s.acting = NamespaceController
		for _, o := range all {
			if ns, ok := o.obj.(*corev1.Namespace); ok {
				s.finishNamespaceLocked(o, ns, all)
			}
		}
	}
}

// collectDependentLocked is the garbage collector's verdict on one object
// with owners: kept while an owner stands; deleted when none does (in the
// foreground when an owner waits for its dependents); a reference to an
// owner that is gone or waits is removed if another owner stands.
func (s *Server) collectDependentLocked(o stored, byUID map[types.UID]stored) {
	refs := o.m.GetOwnerReferences()
	if len(refs) == 0 || o.m.GetDeletionTimestamp() != nil {
		return
	}
	var solid, gone int
	for _, ref := range refs {
		owner, ok := byUID[ref.UID]
		switch {
		case !ok:
			gone++
		case waitsForDependents(owner.m):
		default:
			solid++
		}
	}
	switch {
	case solid == len(refs):
	case solid > 0:
		kept := slices.DeleteFunc(slices.Clone(refs), func(ref metav1.OwnerReference) bool {
			owner, ok := byUID[ref.UID]
			return !ok || waitsForDependents(owner.m)
		})
		s.rewriteLocked(o, func(m metav1.Object) { m.SetOwnerReferences(kept) })
	default:
		policy := metav1.DeletePropagationBackground
		if gone < len(refs) {
			policy = metav1.DeletePropagationForeground
		}
		if rt, ok := s.routeOf(o); ok {
			_, _ = s.deleteLocked(rt, &metav1.DeleteOptions{PropagationPolicy: &policy})
		}
	}
}

// finishOwnerLocked completes the deletion of an owner that waits on the
// garbage collector: foregroundDeletion comes off once no dependent blocks
// it, orphan once no dependent refers to it.
func (s *Server) finishOwnerLocked(o stored, deps []stored) {
	if o.m.GetDeletionTimestamp() == nil {
		return
	}
	fins := o.m.GetFinalizers()
	uid := o.m.GetUID()
	if slices.Contains(fins, metav1.FinalizerOrphanDependents) {
		for _, d := range deps {
			s.rewriteLocked(d, func(m metav1.Object) {
				m.SetOwnerReferences(slices.DeleteFunc(slices.Clone(m.GetOwnerReferences()), func(ref metav1.OwnerReference) bool { return ref.UID == uid }))
			})
		}
		s.rewriteLocked(o, func(m metav1.Object) { m.SetFinalizers(without(m.GetFinalizers(), metav1.FinalizerOrphanDependents)) })
		return
	}
	if slices.Contains(fins, metav1.FinalizerDeleteDependents) && !slices.ContainsFunc(deps, func(d stored) bool {
		return slices.ContainsFunc(d.m.GetOwnerReferences(), func(ref metav1.OwnerReference) bool {
			return ref.UID == uid && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
		})
	}) {
		s.rewriteLocked(o, func(m metav1.Object) { m.SetFinalizers(without(m.GetFinalizers(), metav1.FinalizerDeleteDependents)) })
	}
}

// finishNamespaceLocked is the namespace controller's work on a deleted
// namespace: delete what is in it, and once nothing is, take its
// "kubernetes" finalizer off, which removes it.
func (s *Server) finishNamespaceLocked(o stored, ns *corev1.Namespace, all []stored) {
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return
	}
	empty := true
	for _, c := range all {
		if c.m.GetNamespace() != ns.Name || c.gvr == namespacesGVR {
			continue
		}
		empty = false
		if c.m.GetDeletionTimestamp() == nil {
			if rt, ok := s.routeOf(c); ok {
				_, _ = s.deleteLocked(rt, &metav1.DeleteOptions{})
			}
		}
	}
	if !empty {
		return
	}
	rt, ok := s.routeOf(o)
	if !ok {
		return
	}
	next := ns.DeepCopy()
	next.Spec.Finalizers = slices.DeleteFunc(next.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == corev1.FinalizerKubernetes })
	_, _ = s.commitLocked(rt, o.obj, next)
}

// rewriteLocked updates o with change, as a controller's patch would.
func (s *Server) rewriteLocked(o stored, change func(metav1.Object)) {
	rt, ok := s.routeOf(o)
	if !ok {
		return
	}
	current, ok := s.currentLocked(rt)
	if !ok {
		return
	}
	next := current.DeepCopyObject()
	m, _ := meta.Accessor(next)
	change(m)
	_, _ = s.commitLocked(rt, current, next)
}

// routeOf addresses a stored object.
func (s *Server) routeOf(o stored) (route, bool) {
	r, ok := s.res().byGVR[o.gvr]
	return route{res: r, namespace: o.m.GetNamespace(), name: o.m.GetName()}, ok
}

// waitsForDependents reports an owner deleted in the foreground, whose
// dependents go first.
func waitsForDependents(m metav1.Object) bool {
	return m.GetDeletionTimestamp() != nil && slices.Contains(m.GetFinalizers(), metav1.FinalizerDeleteDependents)
}

// without is list without s.
func without(list []string, s string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(x string) bool { return x == s })
}
