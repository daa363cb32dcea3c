package realapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// errClosed is what a request gets once its cluster is closed: it never
// reaches the server.
var errClosed = errors.New("realapi: cluster closed")

// faultTransport is one candidate process's network to the API server. It
// sits outermost in the candidate's client (rest.Config.Wrap), so everything
// client-go does per request (timeouts, retries, throttling) runs above it,
// exactly as without it.
type faultTransport struct {
	name   string
	rec    *recorder
	closed <-chan struct{}

	mu        sync.Mutex
	latency   Latency
	slowNext  time.Duration
	hole      string // "" reachable, else why requests vanish: "partition" or "crash"
	armed     int    // > 0: partition when this many more writes, sent after arming, are answered
	armGen    int    // bumps on every arming, so requests sent before it do not count
	lastWrite RequestTimes
	fired     map[string]time.Duration // one-shot triggers: "slow", "partition"
	nexts     []http.RoundTripper
}

func newFaultTransport(name string, rec *recorder, closed <-chan struct{}, latency Latency) *faultTransport {
	return &faultTransport{
		name: name, rec: rec, closed: closed, latency: latency,
		lastWrite: RequestTimes{Sent: -1, Applied: -1, Answered: -1},
		fired:     make(map[string]time.Duration),
	}
}

// wrap is the candidate's rest.Config WrapTransport.
func (t *faultTransport) wrap(next http.RoundTripper) http.RoundTripper {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nexts = append(t.nexts, next)
	return &faultRoundTripper{t: t, next: next}
}

type faultRoundTripper struct {
	t    *faultTransport
	next http.RoundTripper
}

func (w *faultRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return w.t.roundTrip(req, w.next)
}

// WrappedRoundTripper lets client-go and apimachinery reach the transport
// below (to close idle connections, for example).
func (w *faultRoundTripper) WrappedRoundTripper() http.RoundTripper { return w.next }

var _ utilnet.RoundTripperWrapper = &faultRoundTripper{}

// closeIdle closes the idle connections of the candidate's own transport.
func (t *faultTransport) closeIdle() {
	t.mu.Lock()
	nexts := append([]http.RoundTripper(nil), t.nexts...)
	t.mu.Unlock()
	for _, n := range nexts {
		utilnet.CloseIdleConnectionsFor(n)
	}
}

func verbOf(method string) string {
	switch method {
	case http.MethodGet:
		return "get"
	case http.MethodPut:
		return "update"
	case http.MethodPost:
		return "create"
	case http.MethodDelete:
		return "delete"
	case http.MethodPatch:
		return "patch"
	}
	return method
}

func (t *faultTransport) roundTrip(req *http.Request, next http.RoundTripper) (*http.Response, error) {
	ctx := req.Context()
	verb := verbOf(req.Method)
	sent := t.rec.now()

	t.mu.Lock()
	if t.hole != "" {
		t.mu.Unlock()
		return t.drop(ctx, verb, "request")
	}
	legs, gen := t.latency, t.armGen
	if t.slowNext > 0 {
		legs.Response, t.slowNext = t.slowNext, 0
		t.fireLocked("slow", sent)
		t.rec.add(t.name, "%s sent; its answer will take %v", verb, legs.Response)
	}
	t.mu.Unlock()

	if err := t.sleep(ctx, legs.Request); err != nil {
		return nil, t.failed(ctx, verb, err)
	}
	if t.unreachable() {
		return t.drop(ctx, verb, "request")
	}
	serverStart := time.Now()
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, t.failed(ctx, verb, err)
	}
	// Read the answer whole before the response leg, so that "answered"
	// means the client has it all.
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, t.failed(ctx, verb, err)
	}
	// The server's own round trip, without the legs the harness adds: what
	// a latency model of this server must reproduce.
	t.rec.roundTrip(verb, time.Since(serverStart))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := t.sleep(ctx, legs.Response); err != nil {
		return nil, t.failed(ctx, verb, err)
	}

	t.mu.Lock()
	if t.hole != "" {
		t.mu.Unlock()
		return t.drop(ctx, verb, "answer")
	}
	answered := t.rec.now()
	if (verb == "update" || verb == "create") && resp.StatusCode/100 == 2 {
		t.lastWrite = RequestTimes{Sent: sent, Applied: -1, Answered: answered}
		if t.armed > 0 && gen == t.armGen {
			t.armed--
			if t.armed == 0 {
				t.hole = "partition"
				t.fireLocked("partition", answered)
				t.rec.add("harness", "%s partitioned as its %s was answered", t.name, verb)
			}
		}
	}
	t.mu.Unlock()

	outcome := outcomeAnswered
	if resp.StatusCode == http.StatusConflict {
		outcome = outcomeConflict
		t.rec.add(t.name, "%s answered 409 Conflict", verb)
	}
	t.rec.request(verb, outcome)
	return resp, nil
}

// drop black-holes a request or its answer: it waits, like a client whose
// packets vanish, until the request's context ends or the cluster closes.
func (t *faultTransport) drop(ctx context.Context, verb, what string) (*http.Response, error) {
	t.rec.request(verb, outcomeDropped)
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("realapi: %s: %s %s lost (%s): %w", t.name, verb, what, t.why(), ctx.Err())
	case <-t.closed:
		return nil, errClosed
	}
}

// failed counts a request that ended without an answer.
func (t *faultTransport) failed(ctx context.Context, verb string, err error) error {
	outcome := outcomeAnswered
	if ctx.Err() != nil {
		outcome = outcomeTimeout
		t.rec.add(t.name, "%s gave up: %v", verb, ctx.Err())
	}
	t.rec.request(verb, outcome)
	return err
}

// sleep waits d, or until ctx ends or the cluster closes.
func (t *faultTransport) sleep(ctx context.Context, d time.Duration) error {
	return sleep(ctx, d, t.closed)
}

// sleep waits d, or until ctx ends (its error) or closed closes (errClosed;
// a nil closed never does).
func sleep(ctx context.Context, d time.Duration, closed <-chan struct{}) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-closed:
		return errClosed
	}
}

func (t *faultTransport) fireLocked(what string, at time.Duration) {
	if _, ok := t.fired[what]; !ok {
		t.fired[what] = at
	}
	t.rec.poke()
}

// firedAt is when the one-shot trigger what fired.
func (t *faultTransport) firedAt(what string) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.fired[what]
	return at, ok
}

func (t *faultTransport) unreachable() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hole != ""
}

func (t *faultTransport) why() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hole
}

// blackHole makes every later request, and every answer not yet delivered,
// vanish.
func (t *faultTransport) blackHole(why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hole != "crash" {
		t.hole = why
	}
}

// heal ends a partition; a crash is never healed.
func (t *faultTransport) heal() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hole == "crash" {
		return fmt.Errorf("realapi: %s crashed; Restart it instead of healing it", t.name)
	}
	t.hole, t.armed = "", 0
	return nil
}

func (t *faultTransport) setLatency(l Latency) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latency = l
}

func (t *faultTransport) slowNextResponse(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.slowNext = d
}

// partitionAfterWrites partitions the candidate the instant the n-th
// successful lease write sent after this call is answered; latency, when not
// nil, applies to every request sent after this call.
func (t *faultTransport) partitionAfterWrites(n int, latency *Latency) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.armed = n
	t.armGen++
	if latency != nil {
		t.latency = *latency
	}
}

func (t *faultTransport) lastWriteTimes() *RequestTimes {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lastWrite.Answered < 0 {
		return nil
	}
	l := t.lastWrite
	return &l
}
