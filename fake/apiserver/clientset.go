package apiserver

import (
	"fmt"
	"math"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// Clientset returns client-go's typed fake clientset with this server's
// store behind it: what the typed fake writes, the server's HTTP clients,
// informers and watches see, with the same resourceVersions, and the other
// way round; every rule of the server (conflicts, finalizers, the namespace
// must exist, generation) holds for both. Reactors prepended to it run before
// the store, and Actions records every call, as with client-go's fake.
func (s *Server) Clientset() *kubefake.Clientset {
	cs := kubefake.NewClientset()
	t := storeTracker{s}
	cs.PrependReactor("*", "*", clienttesting.ObjectReaction(t))
	cs.PrependWatchReactor("*", func(action clienttesting.Action) (bool, watch.Interface, error) {
		wa := action.(clienttesting.WatchActionImpl)
		w, err := t.Watch(wa.GetResource(), wa.GetNamespace(), wa.ListOptions)
		return true, w, err
	})
	return cs
}

// storeTracker is client-go's ObjectTracker on the server's store.
type storeTracker struct{ s *Server }

var _ clienttesting.ObjectTracker = storeTracker{}

func (t storeTracker) route(gvr schema.GroupVersionResource, ns, name string) (route, error) {
	r, ok := t.s.res().byGVR[gvr]
	if !ok {
		return route{}, apierrors.NewNotFound(gvr.GroupResource(), name)
	}
	if !r.namespaced {
		ns = ""
	}
	return route{res: r, namespace: ns, name: name}, nil
}

func objectRoute(t storeTracker, gvr schema.GroupVersionResource, obj runtime.Object, ns string) (route, metav1.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return route{}, nil, apierrors.NewBadRequest(err.Error())
	}
	if ns == "" {
		ns = m.GetNamespace()
	}
	rt, err := t.route(gvr, ns, m.GetName())
	return rt, m, err
}

func (t storeTracker) Add(obj runtime.Object) error {
	if meta.IsListType(obj) {
		return meta.EachListItem(obj, t.Add)
	}
	return t.s.Add(obj)
}

func (t storeTracker) Get(gvr schema.GroupVersionResource, ns, name string, _ ...metav1.GetOptions) (runtime.Object, error) {
	rt, err := t.route(gvr, ns, name)
	if err != nil {
		return nil, err
	}
	obj, err := t.s.getObject(rt)
	return owned(obj), err
}

func (t storeTracker) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	obj = obj.DeepCopyObject()
	rt, m, err := objectRoute(t, gvr, obj, ns)
	if err != nil {
		return err
	}
	rt.dryRun = len(opts) > 0 && len(opts[0].DryRun) > 0
	_, err = t.s.createObject(rt, obj, m)
	return err
}

func (t storeTracker) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	rt, _, err := objectRoute(t, gvr, obj, ns)
	if err != nil {
		return err
	}
	obj = obj.DeepCopyObject()
	m, _ := meta.Accessor(obj)
	manager := ""
	if len(opts) > 0 {
		manager = opts[0].FieldManager
	}
	_, err = t.s.updateObject(rt, obj, m, manager)
	return err
}

// Patch stores the object client-go's fake computed from the patch: an
// update, checked like one.
func (t storeTracker) Patch(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	var uo []metav1.UpdateOptions
	if len(opts) > 0 {
		uo = append(uo, metav1.UpdateOptions{FieldManager: opts[0].FieldManager})
	}
	return t.Update(gvr, obj, ns, uo...)
}

func (t storeTracker) Apply(gvr schema.GroupVersionResource, applyConfiguration runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	u, ok := applyConfiguration.(*unstructured.Unstructured)
	if !ok {
		return apierrors.NewBadRequest(fmt.Sprintf("apiserver: an apply configuration must be unstructured, not %T", applyConfiguration))
	}
	rt, _, err := objectRoute(t, gvr, u, ns)
	if err != nil {
		return err
	}
	var o metav1.PatchOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.FieldManager == "" {
		return apierrors.NewBadRequest("PATCH requests with an apply patch require a fieldManager")
	}
	_, _, err = t.s.applyObject(rt, u.DeepCopy(), o.FieldManager, o.Force != nil && *o.Force)
	return err
}

func (t storeTracker) List(gvr schema.GroupVersionResource, _ schema.GroupVersionKind, ns string, opts ...metav1.ListOptions) (runtime.Object, error) {
	rt, err := t.route(gvr, ns, "")
	if err != nil {
		return nil, err
	}
	q := map[string][]string{}
	if len(opts) > 0 {
		q["labelSelector"] = []string{opts[0].LabelSelector}
		q["fieldSelector"] = []string{opts[0].FieldSelector}
		if opts[0].Limit > 0 {
			q["limit"] = []string{strconv.FormatInt(opts[0].Limit, 10)}
		}
		q["continue"] = []string{opts[0].Continue}
	}
	return t.s.list(rt, q)
}

func (t storeTracker) Delete(gvr schema.GroupVersionResource, ns, name string, opts ...metav1.DeleteOptions) error {
	rt, err := t.route(gvr, ns, name)
	if err != nil {
		return err
	}
	o := &metav1.DeleteOptions{}
	if len(opts) > 0 {
		o = &opts[0]
	}
	_, err = t.s.deleteObject(rt, o)
	return err
}

// Watch streams the store's changes as the HTTP watch does, from
// opts.ResourceVersion (the current state first when it is "" or "0").
func (t storeTracker) Watch(gvr schema.GroupVersionResource, ns string, opts ...metav1.ListOptions) (watch.Interface, error) {
	rt, err := t.route(gvr, ns, "")
	if err != nil {
		return nil, err
	}
	var o metav1.ListOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	f, err := parseFilter(rt, map[string][]string{"labelSelector": {o.LabelSelector}, "fieldSelector": {o.FieldSelector}})
	if err != nil {
		return nil, err
	}
	wt := &watcher{gvr: rt.res.storeGVR(), filter: f, notify: make(chan struct{}, 1)}
	var objs []runtime.Object
	var since uint64
	if o.ResourceVersion == "" || o.ResourceVersion == "0" {
		objs, since = t.s.store.initialWatch(wt)
	} else {
		from, err := strconv.ParseUint(o.ResourceVersion, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", o.ResourceVersion))
		}
		if !t.s.store.startWatch(wt, from) {
			return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", from, t.s.oldestVersion()))
		}
		since = from
	}
	tw := &trackerWatch{ch: make(chan watch.Event), stop: make(chan struct{})}
	go func() {
		defer close(tw.ch)
		defer t.s.store.stopWatch(wt)
		send := func(typ watch.EventType, obj runtime.Object) bool {
			select {
			case tw.ch <- watch.Event{Type: typ, Object: obj}:
				return true
			case <-tw.stop:
				return false
			}
		}
		for _, obj := range objs {
			if !send(watch.Added, obj.DeepCopyObject()) {
				return
			}
		}
		// The fake's clients get objects of their own, not shared ones.
		own := func(typ watch.EventType, obj runtime.Object) bool { return send(typ, owned(obj)) }
		for {
			if !wt.drain(&since, math.MaxUint64, own) {
				return
			}
			select {
			case <-wt.notify:
			case <-tw.stop:
				return
			}
		}
	}()
	return tw, nil
}

// trackerWatch is a watch of the store for client-go's fake clientset.
type trackerWatch struct {
	ch   chan watch.Event
	stop chan struct{}
	once sync.Once
}

func (w *trackerWatch) Stop()                          { w.once.Do(func() { close(w.stop) }) }
func (w *trackerWatch) ResultChan() <-chan watch.Event { return w.ch }
