package sim

import (
	"container/heap"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/leaderlab/leaderlab/fake/apiserver"
)

var leasesGVR = coordinationv1.SchemeGroupVersion.WithResource("leases")

// backend is what a Cluster runs against: the simulated network in front of
// the in-memory API server (Test), or a real API server (Real). Everything
// else, the candidates, the fault rules and the report, is the same.
type backend interface {
	// config is the rest config of process p: its requests pass the rules.
	config(p *process) *rest.Config
	// schedule runs fn at at; in the simulator, events of one instant run in
	// (cand, key) order (cand -1, the simulator's own, first), and key
	// places events queued by concurrent goroutines (see event). A real
	// server keeps no such order.
	schedule(at time.Time, cand int, key uint64, fn func())
	// minLeg is the shortest leg the backend gives a request.
	minLeg() time.Duration
	// outside is the rest config of an actor outside the election: the
	// server's, with no rules in front.
	outside() *rest.Config
	// groupResources is the server's discovery, for the managers'
	// RESTMapper.
	groupResources() ([]*restmapper.APIGroupResources, error)
	deleteLease() error
	overwriteLease(holder string) error
	addObject(obj runtime.Object) error
	object(gvr schema.GroupVersionResource, namespace, name string) (runtime.Object, error)
	// restart makes the server forget its watch history (FaultAPIRestart).
	restart()
	// simulated reports whether the backend is the simulator: virtual time,
	// in which an instant stands still (its events have an order, the
	// bubble settles, an answer's apply time is known) and every stored
	// version is recorded (Report.History), which judging a write needs.
	simulated() bool
	// describe names the backend for the report, and says why a run on it
	// does not replay (empty when it does).
	describe() (name, noReplay string)
	// refuses says why the backend cannot make a fault of kind k; empty
	// when it can.
	refuses(k FaultKind) string
	// stop ends the backend's own goroutines; Cluster.wg waits for them.
	stop()
}

// event is something the simulated network does at one instant: a request
// arrives, a response is delivered, a planned fault starts or ends. Events of
// one instant run in (candidate, key, seq) order, which makes runs
// replayable: a request's key (see requestKey) depends on the request alone,
// so a candidate's concurrent requests keep their order whichever of its
// goroutines queued first; seq, the order of queueing, decides only among
// events of one key (the steps of one request or one watch stream, queued by
// one goroutine, and the simulator's own events, queued in the order of the
// plan and of the events that queue them).
type event struct {
	at   time.Time
	cand int // -1 for the simulator's own events, which go first
	key  uint64
	seq  uint64
	fn   func()   // the simulator's own events
	req  *request // a request's next step (arrival, then answer) when fn is nil
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.cand != b.cand {
		return a.cand < b.cand
	}
	if a.key != b.key {
		return a.key < b.key
	}
	return a.seq < b.seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// network is the simulator's backend: one event loop, the only goroutine that
// applies requests, so the in-memory store sees them in a defined order.
type network struct {
	c     *Cluster
	srv   *apiserver.Server
	srvRT http.RoundTripper
	admin kubernetes.Interface // the foreign writer: no network, no faults

	mu     sync.Mutex
	events eventHeap
	seq    uint64
	// timer wakes the loop at the earliest event; draining is true while
	// the loop runs due events and will look at the queue again by itself.
	timer    *time.Timer
	draining bool
	done     chan struct{}

	// serving is the request the loop serves now; only the loop touches it.
	serving *request
}

// servingFor is the candidate's request that made ch: the one the loop
// serves now, when ch came from a candidate (whose requests only the loop
// serves); nil for Cluster.Client's and the server's own writes.
func (n *network) servingFor(ch apiserver.Change) *request {
	if ch.Request == nil || !strings.HasSuffix(ch.Request.URL.Host, candidateHost) {
		return nil
	}
	return n.serving
}

func newNetwork(c *Cluster) (*network, error) {
	var n *network
	opts := []apiserver.Option{apiserver.WithCRDs(c.opts.CRDs...), apiserver.WithCRDPaths(c.opts.CRDPaths...),
		apiserver.WithControllers(apiserver.Controllers{
			GarbageCollection:  !c.opts.DisableGarbageCollection,
			NamespaceLifecycle: !c.opts.DisableNamespaceLifecycle,
			// The controllers act in the loop, before the requests of the
			// same instant, like every event of the simulator's own.
			Schedule: func(d time.Duration, fn func()) { n.schedule(time.Now().Add(d), -1, 0, fn) },
		})}
	if c.opts.Scheme != nil {
		opts = append(opts, apiserver.WithScheme(c.opts.Scheme))
	}
	srv, err := apiserver.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	srv.OnUnserved(func(method, path, why string) {
		c.rec.violation("the API server could not serve %s %s: %s", method, path, why)
	})
	srv.OnChange(func(ch apiserver.Change) {
		rv, _ := strconv.ParseUint(ch.ResourceVersion, 10, 64)
		c.noteVersion(rv)
		c.noteChange(ch, n.servingFor(ch))
	})
	cfg := srv.Config()
	n = &network{c: c, srv: srv, srvRT: cfg.Transport, admin: kubernetes.NewForConfigOrDie(cfg), timer: stoppedTimer(), done: make(chan struct{})}
	return n, nil
}

// stoppedTimer is a timer that is not running. It must be made inside the
// bubble, like everything the loop waits on.
func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

func (n *network) minLeg() time.Duration { return MinLeg }

func (n *network) schedule(at time.Time, cand int, key uint64, fn func()) {
	n.push(&event{at: at, cand: cand, key: key, fn: fn})
}

func (n *network) stop() { close(n.done) }

// push queues e at e.at, after the events of that instant and candidate
// queued before it. When e is the new earliest event it re-arms the loop's
// timer itself rather than waking the loop to do it: one goroutine switch
// less per request.
func (n *network) push(e *event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq++
	e.seq = n.seq
	heap.Push(&n.events, e)
	if n.events[0] == e && !n.draining {
		n.timer.Reset(e.at.Sub(time.Now()))
	}
}

// loop runs events in order until stop.
func (n *network) loop() {
	var due []*event
	for {
		n.mu.Lock()
		due = due[:0]
		now := time.Now()
		for len(n.events) > 0 && !n.events[0].at.After(now) {
			due = append(due, heap.Pop(&n.events).(*event))
		}
		if len(due) == 0 {
			// Nothing is due: sleep until the earliest event. push re-arms
			// the timer when an earlier one comes.
			n.draining = false
			if len(n.events) > 0 {
				n.timer.Reset(n.events[0].at.Sub(now))
			} else {
				n.timer.Stop()
			}
			n.mu.Unlock()
			select {
			case <-n.timer.C:
			case <-n.done:
				n.timer.Stop()
				return
			}
			continue
		}
		// Events running now may queue more at this instant; the next turn
		// of the loop finds them, so push need not re-arm the timer.
		n.draining = true
		n.mu.Unlock()
		for i, e := range due {
			due[i] = nil
			if e.fn != nil {
				e.fn()
			} else {
				n.step(e.req)
			}
		}
	}
}

// step runs a request's next event: its arrival, which queues its answer one
// response leg later, or its answer, which wakes the client.
func (n *network) step(r *request) {
	if r.served {
		if r.answer() {
			r.reply <- struct{}{}
		}
		return
	}
	if wait := r.queue(); wait > 0 {
		r.ev.at = r.ev.at.Add(wait)
		n.push(&r.ev)
		return
	}
	if wait := r.waitForReplica(); wait > 0 {
		r.ev.at = r.ev.at.Add(wait)
		n.push(&r.ev)
		return
	}
	r.served = true
	if r.arrive() {
		r.ev.at = r.arrived.Add(r.plan.respLeg)
		n.push(&r.ev)
	}
}

// candidateHost ends the host name of every candidate's requests.
const candidateHost = ".sim"

// config reaches the in-memory API server through p's own transport, with
// protobuf on the wire as a controller's client uses it.
func (n *network) config(p *process) *rest.Config {
	return &rest.Config{
		Host:      "http://" + p.cand.name + candidateHost,
		Transport: &transport{p: p, n: n},
		QPS:       -1,
		ContentConfig: rest.ContentConfig{
			ContentType:        "application/vnd.kubernetes.protobuf",
			AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
		},
	}
}

// transport is one process's RoundTripper: the network as that process sees it.
type transport struct {
	p *process
	n *network
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r, drop, err := newRequest(t.p, req)
	if r == nil {
		return nil, err
	}
	if drop {
		return r.wait(req, nil)
	}
	r.server = t.n
	r.ev = event{at: r.sent.Add(r.plan.reqLeg), cand: t.p.cand.idx, key: r.plan.key, req: r}
	t.n.push(&r.ev)
	return r.wait(req, r.reply)
}

// serve serves a request on the in-memory API server: a plain one through
// its handler, into the request's own recorder; a watch through its
// RoundTripper, whose body streams.
func (n *network) serve(r *request) response {
	ctx := n.c.servedBy(r.req.Context(), r.p.cand.name, r.route.Verb)
	if r.route.Verb == VerbWatch {
		return r.roundTrip(ctx, n.srvRT)
	}
	r.written = httptest.ResponseRecorder{HeaderMap: make(http.Header, 1), Body: &r.writtenBody, Code: http.StatusOK}
	n.serving = r
	req := r.outgoing()
	if ctx != req.Context() {
		req = req.WithContext(ctx)
	}
	n.srv.ServeHTTP(&r.written, req)
	n.serving = nil
	out := decodeAnswer(r, r.written.Code, r.written.HeaderMap.Get("Content-Type"), r.writtenBody.Bytes())
	out.Warnings, out.RetryAfter = r.written.HeaderMap.Values("Warning"), r.written.HeaderMap.Get("Retry-After")
	return out
}

// CancelRequest exists so that client-go's transport wrappers, which forward
// the deprecated cancellation to the innermost RoundTripper, find one and do
// not log a warning; requests are cancelled through their contexts.
func (t *transport) CancelRequest(*http.Request) {}

var _ http.RoundTripper = (*transport)(nil)

func (n *network) deleteLease() error {
	return deleteLease(context.Background(), n.admin, n.c.opts)
}

func (n *network) overwriteLease(holder string) error {
	return overwriteLease(context.Background(), n.admin, n.c.opts, holder)
}

func (n *network) outside() *rest.Config { return n.srv.Config() }

func (n *network) groupResources() ([]*restmapper.APIGroupResources, error) {
	return n.srv.APIGroupResources(), nil
}

func (n *network) restart() { n.srv.Compact() }

func (n *network) simulated() bool { return true }

func (n *network) describe() (string, string) { return "simulator", "" }

func (n *network) refuses(FaultKind) string { return "" }

func (n *network) addObject(obj runtime.Object) error { return n.srv.Add(obj) }

func (n *network) object(gvr schema.GroupVersionResource, namespace, name string) (runtime.Object, error) {
	return n.srv.Get(gvr, namespace, name)
}
