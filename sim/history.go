package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/leaderlab/leaderlab/fake/apiserver"
)

// Version is one state of one data object, as a write left it: an entry of
// Report.History. The simulated API server tells the simulator of every
// write it stores, its own controllers' included, so the history has every
// version, not only those a watch happened to deliver.
type Version struct {
	// Object is the object as Write.Object names it, without a subresource:
	// "resource namespace/name".
	Object          string `json:"object"`
	ResourceVersion string `json:"resourceVersion"`
	// At is when the server stored it.
	At time.Duration `json:"at"`
	// Writer is the candidate whose request made it (Start is which start
	// of its process), Outside for Cluster.Client, or the simulated
	// cluster's own controller ("garbage collector", "namespace
	// controller"); "seed" for Cluster.AddObjects.
	Writer string `json:"writer"`
	Start  int    `json:"start,omitempty"`
	// Controller is the controller-runtime controller whose reconcile sent
	// the write (the "controller" value of its logger), when known.
	Controller string `json:"controller,omitempty"`
	// Verb is the write's verb, and Resource its resource as the path named
	// it ("replicasets/status"); empty for the server's own writes.
	Verb     string `json:"verb,omitempty"`
	Resource string `json:"resource,omitempty"`
	// Deleted says the write removed the object; Content is then its last
	// state.
	Deleted bool `json:"deleted,omitempty"`
	// Content is the object after the write, as JSON would show it.
	Content map[string]any `json:"content"`

	obj  runtime.Object // the server's stored copy, read-only, until Content is made
	gvk  schema.GroupVersionKind
	leaf map[string]any // Content flattened (see flatten), once made
}

// writer is who made a version, as the oracles compare writers: a process
// (a candidate's start), the outside actor or a controller of the server.
func (v *Version) writer() string { return fmt.Sprintf("%s#%d", v.Writer, v.Start) }

// describe names v's writer for a message: "c1 (controller mirror) at 12.3s".
func (v *Version) describe() string {
	who := v.Writer
	if v.Controller != "" {
		who += " (controller " + v.Controller + ")"
	}
	return fmt.Sprintf("%s at %s (resourceVersion %s)", who, strings.TrimSpace(formatOffset(v.At)), v.ResourceVersion)
}

// History is every version of every data object the run wrote (not leases
// or Events), in the order the server stored them: what a test asserts
// invariants over after the run, without sampling the store while it runs.
type History []Version

// State is the data objects at one instant of a run, rebuilt from History.
type State struct {
	// At is the instant, and After the version whose write made this state
	// (nil before the first).
	At    time.Duration
	After *Version

	objects map[string]*Version // by Version.Object, the live ones
}

// List returns the objects of resource (as the path names it: "pods",
// "widgets") in namespace ("" for every namespace) that exist in this
// state, in name order.
func (s State) List(resource, namespace string) []*unstructured.Unstructured {
	var keys []string
	for k := range s.objects {
		res, ns, _ := splitObject(k)
		if res == resource && (namespace == "" || ns == namespace) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]*unstructured.Unstructured, 0, len(keys))
	for _, k := range keys {
		out = append(out, &unstructured.Unstructured{Object: s.objects[k].Content})
	}
	return out
}

// Get returns the object, or nil when it does not exist in this state.
func (s State) Get(resource, namespace, name string) *unstructured.Unstructured {
	v := s.objects[objectName(resource, namespace, name)]
	if v == nil {
		return nil
	}
	return &unstructured.Unstructured{Object: v.Content}
}

// Always checks inv on every state of the run, from the first write on, and
// returns the first failure with the write that led to it: an invariant
// that must hold at every instant ("never more pods than replicas + 1").
// The objects inv is handed are the history's: read them, never change them.
func (h History) Always(inv func(State) error) error {
	live := make(map[string]*Version)
	for i := range h {
		v := &h[i]
		if v.Deleted {
			delete(live, v.Object)
		} else {
			live[v.Object] = v
		}
		// Writes of one instant are one step: a state between them was
		// never there to be seen.
		if i+1 < len(h) && h[i+1].At == v.At {
			continue
		}
		if err := inv(State{At: v.At, After: v, objects: live}); err != nil {
			return fmt.Errorf("at %s, after %s %s by %s: %w", strings.TrimSpace(formatOffset(v.At)), v.Verb, v.Object, v.describe(), err)
		}
	}
	return nil
}

// Final is the state the run ended in: the data objects as the last write
// of the history left them.
func (h History) Final() State {
	var final State
	_ = h.Always(func(s State) error { final = s; return nil })
	return final
}

// Of returns the versions of one object, oldest first.
func (h History) Of(resource, namespace, name string) History {
	key := objectName(resource, namespace, name)
	var out History
	for _, v := range h {
		if v.Object == key {
			out = append(out, v)
		}
	}
	return out
}

func objectName(resource, namespace, name string) string {
	if namespace == "" {
		return resource + " " + name
	}
	return resource + " " + namespace + "/" + name
}

// splitObject is objectName's inverse.
func splitObject(obj string) (resource, namespace, name string) {
	resource, rest, _ := strings.Cut(obj, " ")
	if ns, n, ok := strings.Cut(rest, "/"); ok {
		return resource, ns, n
	}
	return resource, "", rest
}

// noteChange records a write the server stored, by the request w it served
// for a candidate (nil for the others'). The version keeps the server's
// stored copy; Content is made from it only when a report is.
func (c *Cluster) noteChange(ch apiserver.Change, w *request) {
	if c.writeKind(ch.Resource.Resource, ch.Namespace, ch.Name) != WriteData {
		return
	}
	v := Version{
		Object: objectName(ch.Resource.Resource, ch.Namespace, ch.Name), ResourceVersion: ch.ResourceVersion,
		At: c.rec.now(), Deleted: ch.Type == watch.Deleted, obj: ch.Object, gvk: ch.Kind,
	}
	switch {
	case w != nil:
		v.Writer, v.Start, v.Verb, v.Resource = w.p.cand.name, w.p.start, w.route.Verb, w.route.Resource
		v.Controller = controllerOf(w.req.Context())
		w.version = ch.ResourceVersion
	case ch.Request != nil:
		rt := parseRoute(ch.Request)
		v.Writer, v.Verb, v.Resource = Outside, rt.Verb, rt.Resource
	default:
		v.Writer = ch.By
	}
	c.rec.version(v)
}

// content makes v's Content from the server's copy: a Go type as JSON shows
// it, with its kind.
func (v *Version) content() {
	if v.Content != nil || v.obj == nil {
		return
	}
	if u, ok := v.obj.(*unstructured.Unstructured); ok {
		v.Content = u.Object
	} else if m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(v.obj); err == nil {
		m["apiVersion"], m["kind"] = v.gvk.GroupVersion().String(), v.gvk.Kind
		v.Content = m
	} else {
		v.Content = map[string]any{"error": err.Error()}
	}
	v.obj = nil
}

// serverFields are the fields only the server sets: no writer changes them,
// so they are never a change of a writer's.
var serverFields = []string{
	"metadata.resourceVersion", "metadata.managedFields", "metadata.generation", "metadata.uid",
	"metadata.creationTimestamp", "metadata.selfLink",
}

// flatten is v's Content as its fields, by dotted path: maps are walked,
// every other value (lists included) is one field.
func (v *Version) flatten() map[string]any {
	if v.leaf != nil {
		return v.leaf
	}
	v.content()
	leaf := make(map[string]any)
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, val := range m {
			path := k
			if prefix != "" {
				path = prefix + "." + k
			}
			if slices.Contains(serverFields, path) {
				continue
			}
			if sub, ok := val.(map[string]any); ok && len(sub) > 0 {
				walk(path, sub)
				continue
			}
			leaf[path] = val
		}
	}
	walk("", v.Content)
	// The object's identity is its key, not a field any write changes.
	delete(leaf, "apiVersion")
	delete(leaf, "kind")
	delete(leaf, "metadata.name")
	delete(leaf, "metadata.namespace")
	v.leaf = leaf
	return leaf
}

// show is a field's value as a message shows it: JSON, shortened.
func show(val any, present bool) string {
	if !present {
		return "(absent)"
	}
	b, err := json.Marshal(val)
	if err != nil {
		return fmt.Sprint(val)
	}
	const most = 80
	if len(b) > most {
		return string(b[:most]) + "..."
	}
	return string(b)
}

// controllerOf is the controller-runtime controller whose reconcile ctx
// belongs to: its logger carries the controller's name.
func controllerOf(ctx context.Context) string {
	l, err := logr.FromContext(ctx)
	if err != nil {
		return ""
	}
	s, ok := l.GetSink().(*traceSink)
	if !ok {
		return ""
	}
	for i := 0; i+1 < len(s.values); i += 2 {
		if s.values[i] == "controller" {
			return fmt.Sprint(s.values[i+1])
		}
	}
	return ""
}
