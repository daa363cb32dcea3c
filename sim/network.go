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
	fn   func()   // the simulator's own events
	req  *request // a request's next step (arrival, then answer) when fn is nil
}

func (e *event) run() {
	if e.fn != nil {
		e.fn()
		return
	}
	e.req.step()
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

	// timer wakes the loop at the earliest event; draining is true while
	// the loop runs due events and will look at the queue again by itself.
	timer    *time.Timer
	draining bool
	stop     chan struct{}
}

func newNetwork(c *Cluster) *network {
	return &network{
		c:           c,
		srv:         apiserver.New(),
		partitioned: make(map[string]bool),
		timer:       stoppedTimer(),
		stop:        make(chan struct{}),
	}
}

// stoppedTimer is a timer that is not running. It must be made inside the
// bubble, like everything the loop waits on.
func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// schedule queues fn at at. cand orders events of one instant.
func (n *network) schedule(at time.Time, cand int, fn func()) {
	n.push(&event{at: at, cand: cand, fn: fn})
}

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

// loop runs events in order until stop is closed. It is the only goroutine that
// applies requests, so the store sees them in a defined order.
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
			case <-n.stop:
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
			e.run()
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
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	r := &request{p: p, n: n, sent: time.Now(), reply: make(chan struct{}, 1),
		areq: apiserver.Request{Method: req.Method, Path: req.URL.Path, ContentType: req.Header.Get("Content-Type"), Accept: req.Header.Get("Accept"), Body: body}}
	r.route, r.routeErr = apiserver.Parse(req.Method, req.URL.Path)
	n.c.rec.countRequest(r.route.Verb)
	partitioned, outage := n.admit(p.cand.name)
	if partitioned {
		r.trace("dropped: %s is partitioned", p.cand.name)
		n.c.rec.countDropped()
		return r.wait(req, false)
	}
	if outage {
		r.trace("refused: API outage")
		n.c.rec.countRefused()
		return nil, errRefused
	}
	r.plan = n.plan(p.cand, r.route.Verb)
	r.ev = event{at: r.sent.Add(r.plan.reqLeg), cand: p.cand.idx, req: r}
	n.push(&r.ev)
	return r.wait(req, true)
}

// readBody reads a request body. client-go sends its bodies from memory with
// a known length, so the buffer is allocated once, at its size.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	defer func() { _ = req.Body.Close() }()
	if n := req.ContentLength; n > 0 {
		body := make([]byte, n)
		if _, err := io.ReadFull(req.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(req.Body)
}

// admit reports whether cand is partitioned and whether an outage is in
// force, as one look at the fault state.
func (n *network) admit(cand string) (partitioned, outage bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.partitioned[cand], n.outage > 0
}

// request follows one request for the trace and the report. It is also its
// own event on the network's queue: first its arrival at the API server, then
// its answer's arrival back at the client.
type request struct {
	p        *process
	n        *network
	areq     apiserver.Request
	route    apiserver.Route
	routeErr error
	plan     plan
	ev       event
	served   bool // the arrival has run; the next step is the answer

	// rep is written by the network before it signals reply, and read by
	// the client only after.
	rep   reply
	reply chan struct{}

	sent, arrived, answered time.Time
	holder                  string // lease holder the request wrote, if a lease write
	leaseWrite              bool

	// resp, body and contentType are the HTTP response handed to the
	// client, kept here so that a request costs one allocation, not four.
	resp        http.Response
	body        responseBody
	contentType [1]string
}

// step runs the request's next event on the network's loop.
func (r *request) step() {
	if r.served {
		r.answer()
		return
	}
	r.served = true
	r.arrive()
}

// arrive applies the request at the API server, or not, when it arrives.
func (r *request) arrive() {
	n, p := r.n, r.p
	r.arrived = time.Now()
	unreachable, outage := n.reachability(p.cand.name)
	if unreachable {
		r.trace("dropped on the way to the API: %s", n.whyUnreachable(p.cand.name))
		n.c.rec.countDropped()
		return
	}
	switch {
	case outage:
		r.rep.err = errRefused
	case r.routeErr != nil:
		r.rep.resp = apiserver.ErrorResponse(r.routeErr, r.areq.Accept)
	case r.plan.inject != nil:
		r.rep.resp = injected(r.plan.inject, r.areq.Accept)
		n.c.rec.countInjected()
		r.trace("answered %d (injected)", r.rep.resp.Code)
	default:
		r.rep.resp = n.srv.ServeRoute(r.route, r.areq)
		n.observe(r, r.rep.resp)
	}
	r.areq.Body = nil
	r.ev.at = r.arrived.Add(r.plan.respLeg)
	n.push(&r.ev)
}

// answer hands the response to the waiting client, unless it is lost.
func (r *request) answer() {
	n, p := r.n, r.p
	if unreachable, _ := n.reachability(p.cand.name); unreachable {
		r.trace("response lost on the way back: %s", n.whyUnreachable(p.cand.name))
		n.c.rec.countDropped()
		return
	}
	r.answered = time.Now()
	r.reply <- struct{}{}
}

// reachability reports whether cand cannot reach the API (partition or black
// hole) and whether an outage is in force, as one look at the fault state.
func (n *network) reachability(cand string) (unreachable, outage bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.partitioned[cand] || n.blackHole > 0, n.outage > 0
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
// process. sent false means no reply will ever come.
func (r *request) wait(req *http.Request, sent bool) (*http.Response, error) {
	reply := r.reply
	if !sent {
		reply = nil
	}
	select {
	case <-reply:
		return r.deliver(req, r.rep)
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
	r.contentType[0] = rep.resp.ContentType
	h := http.Header{"Content-Type": r.contentType[:]}
	if rep.resp.Code == http.StatusTooManyRequests || rep.resp.Code == http.StatusServiceUnavailable {
		if st, ok := rep.resp.Err.(apierrors.APIStatus); ok && st.Status().Details != nil && st.Status().Details.RetryAfterSeconds > 0 {
			h.Set("Retry-After", strconv.Itoa(int(st.Status().Details.RetryAfterSeconds)))
		}
	}
	r.body.Reset(rep.resp.Body)
	r.resp = http.Response{
		Status:        statusLine(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          &r.body,
		ContentLength: int64(len(rep.resp.Body)),
		Request:       req,
	}
	return &r.resp, nil
}

// responseBody is a response's body: the server's encoded answer.
type responseBody struct{ bytes.Reader }

func (*responseBody) Close() error { return nil }

// statusLines are the HTTP status lines of the codes the server answers with.
var statusLines = func() map[int]string {
	m := make(map[int]string)
	for _, code := range []int{200, 201, 400, 404, 405, 409, 422, 429, 500, 503} {
		m[code] = strconv.Itoa(code) + " " + http.StatusText(code)
	}
	return m
}()

func statusLine(code int) string {
	if s, ok := statusLines[code]; ok {
		return s
	}
	return strconv.Itoa(code) + " " + http.StatusText(code)
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
