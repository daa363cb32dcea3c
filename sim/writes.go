package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Outside is the Candidate of a write made through Cluster.Client: an actor
// outside the election, like kubectl.
const Outside = "outside"

// WriteKind says what a write is for.
type WriteKind string

const (
	// WriteData is a write of the objects the controllers own: the writes a
	// deposed leader must not make.
	WriteData WriteKind = "data"
	// WriteLease is a write of the run's lease: the election itself.
	WriteLease WriteKind = "lease"
	// WriteEvent is a write of an Event: bookkeeping, not state.
	WriteEvent WriteKind = "event"
)

// Write is one mutating request that reached the store: a create, update,
// patch or delete (status included) that the server applied.
type Write struct {
	// Candidate wrote it (Outside for Cluster.Client); Start is which start
	// of the candidate's process (1 for the first).
	Candidate string `json:"candidate"`
	Start     int    `json:"start,omitempty"`
	Verb      string `json:"verb"`
	// Resource is the resource as the path names it, with its subresource
	// ("configmaps", "deployments/status").
	Resource  string    `json:"resource"`
	Namespace string    `json:"namespace,omitempty"`
	Name      string    `json:"name"`
	Kind      WriteKind `json:"kind"`
	// Sent and Applied are offsets from the start of the run: when the
	// writer sent it and when the server applied it. On a real API server,
	// where that instant is not observable, Applied is when the request
	// reached the server (after any latency a fault added): the server
	// applied it within the round trip that began then, so a write found
	// stale there is stale for certain, and one applied late within its
	// round trip can be missed.
	Sent    time.Duration `json:"sent"`
	Applied time.Duration `json:"applied"`
	// ResourceVersion is the version of the object the write made, and
	// Controller the controller-runtime controller whose reconcile sent it,
	// when known (both in the simulator only).
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Controller      string `json:"controller,omitempty"`
	// Exempt says why the write may be made without leadership: it came
	// from a runnable that does not need leader election, or its object
	// matches Options.WritesWithoutLeadership. An exempt write is never stale.
	Exempt string `json:"exempt,omitempty"`
	// Guarded is true for a write that named the resourceVersion it was
	// based on (an update or patch carrying metadata.resourceVersion, a
	// delete with a resourceVersion precondition): the server applied it
	// only because the object had not changed since, so it cannot have
	// overwritten a newer write.
	Guarded bool `json:"guarded,omitempty"`
	// LeaderAtSend and LeaderAtApply say whether the writer acted as leader
	// at those instants: inside one of its terms, from the term's start up
	// to (not including) its end. Within one virtual instant the order of
	// goroutines is not observable, so the terms decide, not the moment a
	// goroutine happened to run.
	LeaderAtSend  bool `json:"leaderAtSend"`
	LeaderAtApply bool `json:"leaderAtApply"`
}

// Object is the written object as "resource namespace/name".
func (w Write) Object() string {
	if w.Namespace == "" {
		return w.Resource + " " + w.Name
	}
	return w.Resource + " " + w.Namespace + "/" + w.Name
}

func (w Write) String() string {
	return fmt.Sprintf("%s %s %s, sent %s (leader: %v), applied %s (leader: %v)",
		w.Candidate, w.Verb, w.Object(), strings.TrimSpace(formatOffset(w.Sent)), w.LeaderAtSend, strings.TrimSpace(formatOffset(w.Applied)), w.LeaderAtApply)
}

// isDryRun reports whether a write is a dry run, which changes nothing: by
// its dryRun parameter, or for a delete by its options in the body (nil:
// not read).
func isDryRun(req *http.Request, body []byte) bool {
	if strings.Contains(req.URL.RawQuery, "dryRun") && len(req.URL.Query()["dryRun"]) > 0 {
		return true
	}
	if req.Method != http.MethodDelete || len(body) == 0 {
		return false
	}
	var opts metav1.DeleteOptions
	_, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, &opts)
	return err == nil && len(opts.DryRun) > 0
}

// isWriteVerb reports whether verb changes the store.
func isWriteVerb(verb string) bool {
	switch verb {
	case VerbCreate, VerbUpdate, VerbPatch, VerbDelete:
		return true
	}
	return false
}

// writeKind classifies a write of resource namespace/name.
func (c *Cluster) writeKind(resource, namespace, name string) WriteKind {
	switch {
	case resource == "leases" && namespace == c.opts.Namespace && name == c.opts.LeaseName:
		return WriteLease
	case resource == "events":
		return WriteEvent
	}
	return WriteData
}

// recordWrite notes a served request that changed the store.
func (c *Cluster) recordWrite(r *request) {
	code := r.rep.resp.Code
	if r.rep.err != nil || code >= 300 || !isWriteVerb(r.route.Verb) || isDryRun(r.req, r.body) {
		return
	}
	name := r.route.Name
	if name == "" {
		name = createdName(r.rep.resp.ContentType, r.rep.resp.Body)
	}
	p := r.p
	w := Write{
		Candidate: p.cand.name, Start: p.start, Verb: r.route.Verb,
		Resource: r.route.Resource, Namespace: r.route.Namespace, Name: name,
		Kind: c.writeKind(r.route.Resource, r.route.Namespace, name),
		Sent: r.sent.Sub(c.start), Applied: r.arrived.Sub(c.start), ResourceVersion: r.version,
	}
	if w.Kind == WriteData {
		w.Controller = controllerOf(r.req.Context())
		w.Guarded = guarded(r.route.Verb, r.req.Header.Get("Content-Type"), r.body)
		w.Exempt = c.exempt(w, r.unled)
	}
	c.rec.write(w)
}

// exempt is why w may be made without leadership ("" when it may not).
func (c *Cluster) exempt(w Write, runnable string) string {
	if runnable != "" {
		return "from " + runnable + ", which runs without leader election"
	}
	for _, pattern := range c.opts.WritesWithoutLeadership {
		if ok, _ := path.Match(pattern, w.Object()); ok {
			return "matches " + pattern + " in Options.WritesWithoutLeadership"
		}
	}
	return ""
}

// guarded reports whether a write's body names the resourceVersion it is
// based on (see Write.Guarded).
func guarded(verb, contentType string, body []byte) bool {
	switch verb {
	case VerbUpdate:
		if m := bodyMeta(contentType, body); m != nil {
			return m.GetResourceVersion() != ""
		}
	case VerbPatch:
		if strings.HasPrefix(contentType, string(types.JSONPatchType)) {
			var ops []struct{ Op, Path string }
			_ = json.Unmarshal(body, &ops)
			for _, op := range ops {
				if op.Op == "test" && op.Path == "/metadata/resourceVersion" {
					return true
				}
			}
			return false
		}
		j := body // merge and strategic merge patches are JSON; an apply patch may be YAML
		if strings.HasPrefix(contentType, string(types.ApplyYAMLPatchType)) {
			var err error
			if j, err = yaml.YAMLToJSON(body); err != nil {
				return false
			}
		}
		var partial metav1.PartialObjectMetadata
		return json.Unmarshal(j, &partial) == nil && partial.ResourceVersion != ""
	case VerbDelete:
		var opts metav1.DeleteOptions
		if len(body) == 0 {
			return false
		}
		if _, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, &opts); err != nil {
			return false
		}
		return opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil
	}
	return false
}

// bodyMeta is the metadata of the object in a request's or answer's body.
func bodyMeta(contentType string, body []byte) metav1.Object {
	if obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil); err == nil {
		if m, err := meta.Accessor(obj); err == nil {
			return m
		}
	}
	var partial metav1.PartialObjectMetadata
	if strings.HasPrefix(contentType, "application/json") && json.Unmarshal(body, &partial) == nil {
		return &partial
	}
	return nil
}

// createdName is the name of the object a create answered with.
func createdName(contentType string, body []byte) string {
	if m := bodyMeta(contentType, body); m != nil {
		return m.GetName()
	}
	return ""
}

// outsideWrites records the writes of Cluster.Client as they are answered.
type outsideWrites struct {
	c    *Cluster
	next http.RoundTripper
}

func (o outsideWrites) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := o.c.rec.now()
	resp, err := o.next.RoundTrip(req)
	if err != nil || resp.StatusCode >= 300 {
		return resp, err
	}
	rt := parseRoute(req)
	var body []byte
	if req.Method == http.MethodDelete && req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			body, _ = io.ReadAll(rc)
		}
	}
	if !isWriteVerb(rt.Verb) || isDryRun(req, body) {
		return resp, nil
	}
	name := rt.Name
	if name == "" {
		// A create names its object in the answer.
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		name = createdName(resp.Header.Get("Content-Type"), body)
	}
	o.c.rec.write(Write{Candidate: Outside, Verb: rt.Verb, Resource: rt.Resource, Namespace: rt.Namespace, Name: name,
		Kind: o.c.writeKind(rt.Resource, rt.Namespace, name), Sent: sent, Applied: o.c.rec.now()})
	return resp, nil
}
