package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// errProcessGone is what a crashed process's requests see. Nobody reads it:
// the process is gone; it only lets the dead goroutines wind down.
var errProcessGone = errors.New("sim: process crashed")

// errRefused is the error of a request during an API outage.
var errRefused = errors.New("sim: connection refused (API outage)")

// request follows one request of a process from send to answer, on either
// backend: the rules decide its legs and fate, a backend moves it along its
// legs (events on the simulated network, sleeps in front of a real server)
// and serves it (the in-memory API server, or the real one).
type request struct {
	p      *process
	route  route
	body   []byte // the request's body, until it is served
	accept string
	plan   plan
	req    *http.Request // the client's request (its body is in body)
	server server        // the backend's server, at arrival
	stream *stream       // a watch's body on its way to the client
	ev     event         // the simulated network's queue entry
	served bool          // the arrival has run; the next step is the answer
	// need is the store version a lagging replica's cache must reach before
	// it serves the request, until waitEnds; watchList says it is answered
	// 504 (forged) if the cache falls short.
	need      uint64
	waitEnds  time.Time
	watchList bool
	forged    *response
	seated    bool // it has passed an overloaded server's queue

	// rep is written before reply is signalled (or, on a real server, by the
	// goroutine that reads it).
	rep   reply
	reply chan struct{}
	lost  chan struct{} // closed when the request or its answer is lost

	sent, arrived, answered time.Time
	leaseWrite              bool   // a successful write of the lease naming this process
	version                 string // the resourceVersion of the data write it made, if any
	unled                   string // the runnable without leader election that sent it, if any

	// resp, body and contentType are the HTTP response handed to the
	// client, kept here so that a request costs one allocation, not four.
	resp        http.Response
	respBody    responseBody
	contentType [1]string
	reqBody     responseBody              // the body as the server reads it
	written     httptest.ResponseRecorder // the in-memory server's answer
	writtenBody bytes.Buffer
}

// reply is what a RoundTrip waits for: a response, or a transport error.
type reply struct {
	resp response
	err  error
}

// newRequest reads req and applies the rules at its sending instant. It
// returns nil and the error to give the client when the request never leaves
// the process (gone, expired, outage), and drop true when it leaves into a
// partition: no answer will come.
func newRequest(p *process, req *http.Request) (r *request, drop bool, err error) {
	c := p.c
	if p.isGone() {
		c.cutOff(p, req)
		return nil, false, errProcessGone
	}
	if ctx := req.Context(); deadlinePassed(ctx) {
		// client-go polls and its deadline can fall on one instant (RD a
		// multiple of RP); whether it still sends this request depends on
		// goroutine scheduling. The request never leaves the process either
		// way, so it is not sent, counted or traced, nor is the error the
		// caller logs about it (see traceSink).
		<-ctx.Done()
		return nil, false, &expiredError{err: ctx.Err()}
	}
	body, err := readBody(req)
	if err != nil {
		return nil, false, err
	}
	r = &request{p: p, req: req, sent: time.Now(), reply: make(chan struct{}, 1), lost: make(chan struct{}), body: body, accept: req.Header.Get("Accept"), route: parseRoute(req)}
	c.rec.countRequest(r.route.Verb)
	if isWriteVerb(r.route.Verb) {
		r.unled, _ = req.Context().Value(unledKey{}).(string)
	}
	partitioned, outage := c.rules.admit(p.cand.name)
	if partitioned {
		r.trace("dropped: %s is partitioned", p.cand.name)
		c.rec.countDropped()
		close(r.lost)
		return r, true, nil
	}
	if outage {
		r.trace("refused: API outage")
		c.rec.countRefused()
		return nil, false, errRefused
	}
	c.rules.plan(r, c.opts.Latency, c.api.minLeg())
	if r.plan.slow != nil {
		r.plan.slow()
	}
	return r, false, nil
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

// queue takes the request through an overloaded server's queue when it
// reaches the API (FaultOverload): it returns how long the request waits
// before the server serves it, or turns it away with 429; zero when it is
// served at once. The service time is added to the response leg.
func (r *request) queue() time.Duration {
	if r.seated {
		return 0
	}
	r.seated = true
	now := time.Now()
	start, service, ok := r.p.c.rules.seat(r.route, now)
	if !ok {
		r.plan.inject = &errorRule{code: http.StatusTooManyRequests, retryAfter: r.p.c.rules.overloadRetryAfter(), message: msgTooManyRequests}
		r.trace("turned away after %v in the overloaded server's queue", start.Sub(now))
	}
	r.plan.respLeg += service
	return start.Sub(now)
}

// msgTooManyRequests is kube-apiserver's message when priority and fairness
// turns a request away.
const msgTooManyRequests = "Too many requests, please try again later."

// arrive serves the request, or not, when it reaches the API. It reports
// whether an answer goes back.
func (r *request) arrive() bool {
	c, p := r.p.c, r.p
	r.arrived = time.Now()
	unreachable, outage := c.rules.reachability(p.cand.name)
	if unreachable {
		r.trace("dropped on the way to the API: %s", c.rules.whyUnreachable(p.cand.name))
		c.rec.countDropped()
		close(r.lost)
		return false
	}
	switch {
	case outage:
		r.rep.err = errRefused
	case r.forged != nil:
		r.rep.resp = *r.forged
	case r.plan.inject != nil:
		r.rep.resp = injected(r.plan.inject, r.accept)
		c.rec.countInjected()
		r.trace("answered %d (injected)", r.rep.resp.Code)
	default:
		r.rep.resp = r.server.serve(r)
		c.observe(r)
		c.recordWrite(r)
		if src := r.rep.resp.Stream; src != nil {
			r.stream = newStream(r, src)
			c.wg.Go(r.stream.relay)
		}
	}
	r.body = nil
	return true
}

// answer is the answer's arrival back at the client, unless it is lost. It
// reports whether the client gets it, and fires the triggers a successful
// lease write sets off, at this instant.
func (r *request) answer() bool {
	c, p := r.p.c, r.p
	if unreachable, _ := c.rules.reachability(p.cand.name); unreachable {
		r.trace("response lost on the way back: %s", c.rules.whyUnreachable(p.cand.name))
		c.rec.countDropped()
		close(r.lost)
		if r.stream != nil {
			_ = r.stream.src.Close()
		}
		return false
	}
	r.answered = time.Now()
	c.sawAnswer(r)
	if r.leaseWrite && r.rep.err == nil && r.rep.resp.Code < 300 {
		p.renewed(r)
		for _, fire := range c.rules.wrote(p.cand.name, r.sent) {
			fire()
		}
	}
	return true
}

func (r *request) String() string {
	if r.route.Name == "" {
		return r.route.Verb + " " + r.route.Resource
	}
	// kube-apiserver's path order: resource/name/subresource.
	resource, sub, ok := strings.Cut(r.route.Resource, "/")
	if ok {
		return r.route.Verb + " " + resource + "/" + r.route.Name + "/" + sub
	}
	return r.route.Verb + " " + r.route.Resource + "/" + r.route.Name
}

func (r *request) trace(format string, args ...any) {
	r.p.c.rec.add(r.p.cand.name, r.String()+": "+fmt.Sprintf(format, args...))
}

// wait blocks until the reply, the request's context, or the crash of the
// process. A nil reply channel means no reply will ever come.
func (r *request) wait(req *http.Request, reply <-chan struct{}) (*http.Response, error) {
	lost := r.lost
	var health <-chan time.Time
	for {
		answered := false
		select {
		case <-reply:
			answered = true
		case <-req.Context().Done():
		case <-r.p.gone:
		case <-lost:
			// Nothing answers a lost request. One with a deadline waits for
			// it; one without (a watch) fails when the client's connection
			// health check gives up, as client-go's HTTP/2 transport does.
			lost = nil
			if _, ok := req.Context().Deadline(); !ok {
				timer := time.NewTimer(HealthCheck)
				defer timer.Stop()
				health = timer.C
			}
			continue
		case <-health:
			r.trace("no answer, connection health check failed after %v", HealthCheck)
			return nil, errConnectionLost
		}
		// More than one can be ready at an instant: a crash cancels the
		// process's context as it closes gone, and a crash set off by an
		// answer (Fault.AfterWrites) ends the process as the answer comes.
		// Decide in a fixed order, not by select's random choice, so that a
		// run replays: the process is gone, else the answer, else the context.
		if !answered {
			select {
			case <-reply:
				answered = true
			default:
			}
		}
		switch {
		case r.p.isGone():
			return nil, errProcessGone
		case answered:
			return r.deliver(req)
		}
		r.timedOut(req)
		return nil, req.Context().Err()
	}
}

// HealthCheck is how long a request without a deadline waits for a lost
// answer, and an open watch for a network that drops its packets, before the
// connection counts as lost: client-go's HTTP/2 health check, a ping after 30
// s without reads that must be answered within 15 s.
const HealthCheck = 45 * time.Second

// errConnectionLost is the error of a request whose connection failed its
// health check.
var errConnectionLost = errors.New("sim: connection lost (health check failed)")

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

// deliver hands the reply to the client as an HTTP response.
func (r *request) deliver(req *http.Request) (*http.Response, error) {
	rep := r.rep
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
	case code >= 500:
		// A server error says what went wrong: the message is the evidence.
		r.trace("%d %s: %s", code, reason(rep.resp.Err), message(rep.resp.Err))
	case code >= 300:
		if c.opts.TraceRequests || code != http.StatusNotFound {
			r.trace("%d %s", code, reason(rep.resp.Err))
		}
	case c.opts.TraceRequests:
		r.trace("%d (sent %s, applied %s)", code, c.offset(r.sent), c.offset(r.arrived))
	}
	r.contentType[0] = rep.resp.ContentType
	h := http.Header{"Content-Type": r.contentType[:]}
	if len(rep.resp.Warnings) > 0 {
		h["Warning"] = rep.resp.Warnings
	}
	if rep.resp.RetryAfter != "" {
		h.Set("Retry-After", rep.resp.RetryAfter)
	}
	r.respBody.Reset(rep.resp.Body)
	r.resp = http.Response{
		Status:        statusLine(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          &r.respBody,
		ContentLength: int64(len(rep.resp.Body)),
		Request:       req,
	}
	if r.stream != nil {
		r.resp.Body, r.resp.ContentLength = r.stream, -1
	}
	return &r.resp, nil
}

// responseBody is a body held in memory: the server's encoded answer, or
// the client's request as the server reads it.
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

// message is the message of a status error.
func message(err error) string {
	if st, ok := err.(apierrors.APIStatus); ok {
		return st.Status().Message
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// injected is the forged answer of an error rule: the status a real API
// server sends for that code, so that client-go treats it the same way.
func injected(rule *errorRule, accept string) response {
	secs := int((rule.retryAfter + time.Second - 1) / time.Second)
	var err error
	switch rule.code {
	case http.StatusTooManyRequests:
		msg := "injected by leaderlab"
		if rule.message != "" {
			msg = rule.message
		}
		err = apierrors.NewTooManyRequests(msg, secs)
	case http.StatusServiceUnavailable:
		se := apierrors.NewServiceUnavailable("injected by leaderlab")
		if secs > 0 {
			se.ErrStatus.Details = &metav1.StatusDetails{RetryAfterSeconds: int32(secs)}
		}
		err = se
	default:
		err = apierrors.NewInternalError(errors.New("injected by leaderlab"))
	}
	return statusResponse(err, accept)
}

// observe notes what a served request did to the lease.
func (c *Cluster) observe(r *request) {
	lease := r.rep.resp.Lease
	if lease == nil || lease.Name != c.opts.LeaseName || lease.Namespace != c.opts.Namespace {
		return
	}
	holder := ""
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	r.leaseWrite = holder != "" && holder == r.p.identity
	c.setHolder(holder, r.p.cand.name+" "+r.route.Verb)
}

// setHolder notes the lease holder as stored.
func (c *Cluster) setHolder(holder, by string) {
	c.holderMu.Lock()
	changed := !c.holderKnown || holder != c.holder
	c.holder, c.holderKnown = holder, true
	c.holderMu.Unlock()
	if changed {
		c.rec.holderChanged(holder, by)
	}
}

// ctxDone reports whether ctx is done without blocking.
func ctxDone(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

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
