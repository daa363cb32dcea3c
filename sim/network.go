package sim

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leaderlab/leaderlab/sim/internal/apiserver"
)

// errProcessGone is what a crashed process's requests see. Nobody reads it:
// the process is gone; it only lets the dead goroutines wind down.
var errProcessGone = errors.New("sim: process crashed")

// errRefused is the error of a request during an API outage.
var errRefused = errors.New("sim: connection refused (API outage)")

// event is something the network does at one instant: a request arrives, a
// response is delivered, a planned fault starts or ends. Events of one instant
// run in (candidate, seq) order, which makes runs replayable.
type event struct {
	at   time.Time
	cand int // -1 for the simulator's own events, which go first
	seq  uint64
	fn   func()
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

// latencyRule, errorRule and slowRule are the fault state for requests. A rule
// matches a candidate and a verb; empty matches all.
type scope struct{ cand, verb string }

func (s scope) matches(cand, verb string) bool {
	return (s.cand == "" || s.cand == cand) && (s.verb == "" || s.verb == verb)
}

type latencyRule struct {
	scope
	req, resp Dist
}

type errorRule struct {
	scope
	code       int
	rate       float64
	retryAfter time.Duration
}

type slowRule struct {
	scope
	delay time.Duration
}

// network sits between the candidates' REST clients and the API server.
type network struct {
	c   *Cluster
	srv *apiserver.Server

	mu          sync.Mutex
	events      eventHeap
	seq         uint64
	partitioned map[string]bool
	outage      int // nesting count of outages in force
	blackHole   int
	latency     []latencyRule // newest last; the newest match wins
	errs        []errorRule
	slow        []slowRule
	holder      string // lease holder identity as last stored
	holderKnown bool

	wake chan struct{}
	stop chan struct{}
}

func newNetwork(c *Cluster) *network {
	return &network{
		c:           c,
		srv:         apiserver.New(),
		partitioned: make(map[string]bool),
		wake:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
	}
}

// schedule queues fn at at. cand orders events of one instant.
func (n *network) schedule(at time.Time, cand int, fn func()) {
	n.mu.Lock()
	n.seq++
	heap.Push(&n.events, &event{at: at, cand: cand, seq: n.seq, fn: fn})
	first := n.events[0].seq == n.seq
	n.mu.Unlock()
	if first {
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
}

// loop runs events in order until stop is closed. It is the only goroutine that
// applies requests, so the store sees them in a defined order.
func (n *network) loop() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		n.mu.Lock()
		var due []*event
		now := time.Now()
		for len(n.events) > 0 && !n.events[0].at.After(now) {
			due = append(due, heap.Pop(&n.events).(*event))
		}
		var next time.Duration = -1
		if len(n.events) > 0 {
			next = n.events[0].at.Sub(now)
		}
		n.mu.Unlock()
		for _, e := range due {
			e.fn()
		}
		if len(due) > 0 {
			continue // running events may have queued more at this instant
		}
		var tc <-chan time.Time
		if next >= 0 {
			timer.Reset(next)
			tc = timer.C
		}
		select {
		case <-tc:
		case <-n.wake:
			timer.Stop()
		case <-n.stop:
			timer.Stop()
			return
		}
	}
}

// reply is what a RoundTrip waits for: a response, or a transport error.
type reply struct {
	resp apiserver.Response
	err  error
}

// plan is everything drawn for one request when it is sent, from the sending
// candidate's own random stream.
type plan struct {
	reqLeg, respLeg time.Duration
	inject          *errorRule
}

func draw(rng *rand.Rand, d Dist) time.Duration {
	v := d.Min
	if d.Max > d.Min {
		v += time.Duration(rng.Int64N(int64(d.Max-d.Min) + 1))
	}
	return max(v, MinLeg)
}

func (n *network) plan(c *candidate, verb string) plan {
	n.mu.Lock()
	req, resp := n.c.opts.Latency, n.c.opts.Latency
	for i := len(n.latency) - 1; i >= 0; i-- {
		if r := n.latency[i]; r.matches(c.name, verb) {
			if !r.req.isZero() {
				req = r.req
			}
			if !r.resp.isZero() {
				resp = r.resp
			}
			break
		}
	}
	slow := time.Duration(-1)
	for i, r := range n.slow {
		if r.matches(c.name, verb) {
			slow = r.delay
			n.slow = append(n.slow[:i:i], n.slow[i+1:]...)
			break
		}
	}
	var rule *errorRule
	for i := len(n.errs) - 1; i >= 0; i-- {
		if r := n.errs[i]; r.matches(c.name, verb) {
			rule = &r
			break
		}
	}
	n.mu.Unlock()

	c.rngMu.Lock()
	defer c.rngMu.Unlock()
	p := plan{reqLeg: draw(c.rng, req), respLeg: draw(c.rng, resp)}
	if slow >= 0 {
		p.respLeg = max(slow, MinLeg)
	}
	if rule != nil && c.rng.Float64() < rule.rate {
		p.inject = rule
	}
	return p
}

// transport is one process's RoundTripper: the network as that process sees it.
type transport struct {
	p *process
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := t.p
	n := p.c.net
	if p.isGone() {
		return nil, errProcessGone
	}
	if ctx := req.Context(); deadlinePassed(ctx) {
		// client-go polls and its deadline can fall on one instant (RD a
		// multiple of RP); whether it still sends this request depends on
		// goroutine scheduling. The request never leaves the process either
		// way, so it is not sent, counted or traced, nor is the error the
		// caller logs about it (see traceSink).
		<-ctx.Done()
		return nil, &expiredError{err: ctx.Err()}
	}
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	areq := apiserver.Request{Method: req.Method, Path: req.URL.Path, ContentType: req.Header.Get("Content-Type"), Accept: req.Header.Get("Accept"), Body: body}
	route, routeErr := apiserver.Parse(req.Method, req.URL.Path)
	r := &request{p: p, route: route, sent: time.Now()}
	n.c.rec.countRequest(route.Verb)
	if n.partitionedNow(p.cand.name) {
		r.trace("dropped: %s is partitioned", p.cand.name)
		n.c.rec.countDropped()
		return r.wait(req, nil)
	}
	n.mu.Lock()
	outage := n.outage > 0
	n.mu.Unlock()
	if outage {
		r.trace("refused: API outage")
		n.c.rec.countRefused()
		return nil, errRefused
	}
	pl := n.plan(p.cand, route.Verb)
	ch := make(chan reply, 1)
	n.schedule(r.sent.Add(pl.reqLeg), p.cand.idx, func() {
		r.arrived = time.Now()
		if n.unreachable(p.cand.name) {
			r.trace("dropped on the way to the API: %s", n.whyUnreachable(p.cand.name))
			n.c.rec.countDropped()
			return
		}
		var rep reply
		switch {
		case n.outageNow():
			rep.err = errRefused
		case routeErr != nil:
			rep.resp = apiserver.ErrorResponse(routeErr, areq.Accept)
		case pl.inject != nil:
			rep.resp = injected(pl.inject, areq.Accept)
			n.c.rec.countInjected()
			r.trace("answered %d (injected)", rep.resp.Code)
		default:
			rep.resp = n.srv.ServeRoute(route, areq)
			n.observe(r, rep.resp)
		}
		n.schedule(r.arrived.Add(pl.respLeg), p.cand.idx, func() {
			if n.unreachable(p.cand.name) {
				r.trace("response lost on the way back: %s", n.whyUnreachable(p.cand.name))
				n.c.rec.countDropped()
				return
			}
			r.answered = time.Now()
			ch <- rep
		})
	})
	return r.wait(req, ch)
}

// request follows one request for the trace and the report.
type request struct {
	p                       *process
	route                   apiserver.Route
	sent, arrived, answered time.Time
	holder                  string // lease holder the request wrote, if a lease write
	leaseWrite              bool
}

func (r *request) String() string {
	if r.route.Name == "" {
		return r.route.Verb + " " + r.route.Resource.Resource
	}
	return r.route.Verb + " " + r.route.Resource.Resource + "/" + r.route.Name
}

func (r *request) trace(format string, args ...any) {
	r.p.c.rec.add(r.p.cand.name, r.String()+": "+fmt.Sprintf(format, args...))
}

// wait blocks until the reply, the request's context, or the crash of the
// process. ch nil means no reply will ever come.
func (r *request) wait(req *http.Request, ch chan reply) (*http.Response, error) {
	select {
	case rep := <-ch:
		return r.deliver(req, rep)
	case <-req.Context().Done():
		r.timedOut(req)
		return nil, req.Context().Err()
	case <-r.p.gone:
		return nil, errProcessGone
	}
}

func (r *request) timedOut(req *http.Request) {
	c := r.p.c
	c.rec.countTimeout()
	r.trace("no answer, client gave up after %v (%v)", time.Since(r.sent), req.Context().Err())
	// http.Client's own timeout fires at the same instant as the REST
	// client's context when both come from rest.Config.Timeout; let it mark
	// the request timed out before returning, so that the error text (and
	// with it the trace) does not depend on which goroutine ran first.
	if timeout := r.p.clientTimeout; timeout > 0 && !time.Now().Before(r.sent.Add(timeout)) && req.Cancel != nil { //nolint:staticcheck // http.Client still closes Request.Cancel on its timeout.
		<-req.Cancel //nolint:staticcheck // see above
	}
}

func (r *request) deliver(req *http.Request, rep reply) (*http.Response, error) {
	if rep.err != nil {
		r.trace("%v", rep.err)
		return nil, rep.err
	}
	c := r.p.c
	code := rep.resp.Code
	switch {
	case code == http.StatusConflict:
		c.rec.countConflict()
		r.trace("409 %s", reason(rep.resp.Err))
	case code >= 300:
		if c.opts.TraceRequests || code != http.StatusNotFound {
			r.trace("%d %s", code, reason(rep.resp.Err))
		}
	case c.opts.TraceRequests:
		r.trace("%d (sent %s, applied %s)", code, c.offset(r.sent), c.offset(r.arrived))
	}
	if r.leaseWrite && code < 300 {
		r.p.renewed(r)
	}
	h := http.Header{"Content-Type": []string{rep.resp.ContentType}}
	if rep.resp.Code == http.StatusTooManyRequests || rep.resp.Code == http.StatusServiceUnavailable {
		if st, ok := rep.resp.Err.(apierrors.APIStatus); ok && st.Status().Details != nil && st.Status().Details.RetryAfterSeconds > 0 {
			h.Set("Retry-After", strconv.Itoa(int(st.Status().Details.RetryAfterSeconds)))
		}
	}
	return &http.Response{
		Status:        strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(rep.resp.Body)),
		ContentLength: int64(len(rep.resp.Body)),
		Request:       req,
	}, nil
}

func reason(err error) string {
	if err == nil {
		return ""
	}
	return string(apierrors.ReasonForError(err))
}

func injected(rule *errorRule, accept string) apiserver.Response {
	secs := int((rule.retryAfter + time.Second - 1) / time.Second)
	var err error
	switch rule.code {
	case http.StatusTooManyRequests:
		err = apierrors.NewTooManyRequests("injected by the simulator", secs)
	case http.StatusServiceUnavailable:
		se := apierrors.NewServiceUnavailable("injected by the simulator")
		if secs > 0 {
			se.ErrStatus.Details = &metav1.StatusDetails{RetryAfterSeconds: int32(secs)}
		}
		err = se
	default:
		err = apierrors.NewInternalError(errors.New("injected by the simulator"))
	}
	return apiserver.ErrorResponse(err, accept)
}

// observe notes what a served request did to the lease.
func (n *network) observe(r *request, resp apiserver.Response) {
	lease, ok := resp.Object.(*coordinationv1.Lease)
	if !ok || r.route.Verb == apiserver.VerbGet || r.route.Verb == apiserver.VerbList || lease.Name != n.c.opts.LeaseName || lease.Namespace != n.c.opts.Namespace {
		return
	}
	holder := ""
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	if holder != "" && holder == r.p.identity {
		r.leaseWrite = true
		r.holder = holder
	}
	n.setHolder(holder, r.p.cand.name+" "+r.route.Verb)
}

func (n *network) setHolder(holder, by string) {
	n.mu.Lock()
	changed := !n.holderKnown || holder != n.holder
	n.holder, n.holderKnown = holder, true
	n.mu.Unlock()
	if changed {
		n.c.rec.holderChanged(holder, by)
	}
}

func (n *network) partitionedNow(cand string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.partitioned[cand]
}

func (n *network) outageNow() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.outage > 0
}

func (n *network) unreachable(cand string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.partitioned[cand] || n.blackHole > 0
}

func (n *network) whyUnreachable(cand string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.partitioned[cand] {
		return cand + " is partitioned"
	}
	return "API black hole"
}

// heldBy is the lease holder as stored.
func (n *network) heldBy() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.holder
}

var _ http.RoundTripper = (*transport)(nil)

// ctxDone reports whether ctx is done without blocking.
func ctxDone(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// CancelRequest exists so that client-go's transport wrappers, which forward
// the deprecated cancellation to the innermost RoundTripper, find one and do
// not log a warning; requests are cancelled through their contexts.
func (t *transport) CancelRequest(*http.Request) {}

// expiredError is the error of a request whose context expired before it was
// sent. Log lines about it are left out of the trace (see traceSink).
type expiredError struct{ err error }

func (e *expiredError) Error() string { return e.err.Error() }
func (e *expiredError) Unwrap() error { return e.err }

// deadlinePassed reports whether ctx's deadline is now or earlier.
func deadlinePassed(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}
