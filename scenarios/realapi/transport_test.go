package realapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer stands in for the API server below the fault transport.
type countingServer struct {
	calls  atomic.Int32
	status int
}

func (s *countingServer) RoundTrip(*http.Request) (*http.Response, error) {
	s.calls.Add(1)
	return &http.Response{StatusCode: s.status, Body: io.NopCloser(strings.NewReader("{}"))}, nil
}

func newTestTransport(status int) (*faultTransport, *countingServer, http.RoundTripper, chan struct{}) {
	closed := make(chan struct{})
	server := &countingServer{status: status}
	tr := newFaultTransport("c0", newRecorder(), closed, Latency{})
	return tr, server, tr.wrap(server), closed
}

func request(t *testing.T, ctx context.Context, method string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, "http://api.invalid/apis/coordination.k8s.io/v1/namespaces/default/leases/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// A partitioned candidate's request never reaches the server and waits until
// its context ends, as a request into a black hole does.
func TestPartitionBlocksUntilContextEnds(t *testing.T) {
	tr, server, rt, _ := newTestTransport(http.StatusOK)
	tr.blackHole("partition")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := rt.RoundTrip(request(t, ctx, http.MethodGet))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("returned after %v, before the context ended", waited)
	}
	if server.calls.Load() != 0 {
		t.Errorf("the server saw %d requests, want none", server.calls.Load())
	}
	if err := tr.heal(); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.RoundTrip(request(t, context.Background(), http.MethodGet)); err != nil || server.calls.Load() != 1 {
		t.Errorf("after heal: err %v, %d server calls, want the request through", err, server.calls.Load())
	}
}

// Closing the cluster frees a black-holed request at once, so that Close never
// waits for a context that has no deadline.
func TestCloseFreesBlackHoledRequests(t *testing.T) {
	tr, _, rt, closed := newTestTransport(http.StatusOK)
	tr.blackHole("crash")
	done := make(chan error)
	go func() {
		_, err := rt.RoundTrip(request(t, context.Background(), http.MethodGet))
		done <- err
	}()
	close(closed)
	if err := <-done; !errors.Is(err, errClosed) {
		t.Fatalf("err = %v, want errClosed", err)
	}
	if err := tr.heal(); err == nil {
		t.Error("heal of a crash succeeded, want an error")
	}
}

// A response leg longer than the request's context is cut at the context's
// end: the server applied the request, the client sees its deadline.
func TestSlowResponseHonoursContext(t *testing.T) {
	tr, server, rt, _ := newTestTransport(http.StatusOK)
	tr.slowNextResponse(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := rt.RoundTrip(request(t, ctx, http.MethodPut)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if server.calls.Load() != 1 {
		t.Errorf("the server saw %d requests, want the slow one applied", server.calls.Load())
	}
	if _, ok := tr.firedAt("slow"); !ok {
		t.Error("the slow trigger did not fire")
	}
	// Only the next response is slow.
	if _, err := rt.RoundTrip(request(t, context.Background(), http.MethodPut)); err != nil {
		t.Fatalf("second request: %v", err)
	}
}

// PartitionAfterWrites cuts the candidate the instant its n-th successful
// write is answered: that answer is delivered, the next request is not.
func TestPartitionAfterWrites(t *testing.T) {
	tr, server, rt, _ := newTestTransport(http.StatusOK)
	tr.partitionAfterWrites(2, nil)
	for i := range 3 { // a Get does not count
		method := []string{http.MethodPut, http.MethodGet, http.MethodPut}[i]
		if _, err := rt.RoundTrip(request(t, context.Background(), method)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if _, ok := tr.firedAt("partition"); !ok {
		t.Fatal("no partition after the second write")
	}
	if w := tr.lastWriteTimes(); w == nil || w.Applied != -1 || w.Answered < w.Sent {
		t.Errorf("last write %+v, want the second write's times with Applied -1", w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := rt.RoundTrip(request(t, ctx, http.MethodPut)); err == nil || server.calls.Load() != 3 {
		t.Errorf("after the partition: err %v, %d server calls, want the request lost", err, server.calls.Load())
	}
}

// A conflict answer is not a successful write: it does not count towards
// the partition.
func TestConflictDoesNotCountAsWrite(t *testing.T) {
	tr, _, rt, _ := newTestTransport(http.StatusConflict)
	tr.partitionAfterWrites(1, nil)
	if _, err := rt.RoundTrip(request(t, context.Background(), http.MethodPut)); err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.firedAt("partition"); ok {
		t.Error("a 409 answer triggered the partition")
	}
	if tr.lastWriteTimes() != nil {
		t.Error("a 409 answer was recorded as a successful write")
	}
}
