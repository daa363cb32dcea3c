package leaderelection_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"

	"github.com/leaderlab/leaderlab/internal/testenv"
	ll "github.com/leaderlab/leaderlab/leaderelection"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// apiServer is a real kube-apiserver and etcd shared by this package's tests.
var apiServer *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, func(env *testenv.Env) { apiServer = env }) }

// Short whole-second timings keep the real-time tests quick while keeping
// client-go's rule RenewDeadline > 1.2 * RetryPeriod.
const (
	leaseDuration = 3 * time.Second
	renewDeadline = 2 * time.Second
	retryPeriod   = 500 * time.Millisecond
)

// candidate is one client-go LeaderElector on a lock from NewResourceLock,
// recording when it acted as leader.
type candidate struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	started []time.Time // OnStartedLeading
	stopped []time.Time // the leading context done
}

func startCandidate(t *testing.T, namespace, id string, releaseOnCancel bool, leading *counter) *candidate {
	t.Helper()
	lock, err := ll.NewResourceLock(apiServer.Config, nil, ll.Options{
		LeaderElection: true, LeaderElectionID: "test-lease", LeaderElectionNamespace: namespace,
		RenewDeadline: renewDeadline, Identity: id, LeaderLabels: map[string]string{"leader-of": "test-lease"},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &candidate{id: id, done: make(chan struct{})}
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod,
		ReleaseOnCancel: releaseOnCancel,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				c.mark(&c.started)
				leading.add(1)
				<-ctx.Done()
				leading.add(-1)
				c.mark(&c.stopped)
			},
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { defer close(c.done); elector.Run(ctx) }()
	t.Cleanup(c.stop)
	return c
}

func (c *candidate) mark(times *[]time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*times = append(*times, time.Now())
}

func (c *candidate) startedAt() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.started...)
}

// stop cancels the candidate and waits for its elector (and release) to finish.
func (c *candidate) stop() { c.cancel(); <-c.done }

// counter tracks how many candidates act as leader and the most at once.
type counter struct {
	mu       sync.Mutex
	now, max int
}

func (c *counter) add(d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now += d
	c.max = max(c.max, c.now)
}

func (c *counter) maxAtOnce() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.max
}

func newNamespace(t *testing.T) string {
	t.Helper()
	client := kubernetes.NewForConfigOrDie(apiServer.Config)
	ns, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "le-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// waitFor polls cond every 50ms until it holds or the real-time limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func leaderOf(cands []*candidate) []*candidate {
	var leaders []*candidate
	for _, c := range cands {
		if len(c.startedAt()) > 0 {
			leaders = append(leaders, c)
		}
	}
	return leaders
}

func TestLeaseCreatedWithHolderDurationAndLabels(t *testing.T) {
	ns := newNamespace(t)
	leading := &counter{}
	c := startCandidate(t, ns, "replica-0", false, leading)
	waitFor(t, 10*time.Second, "the only candidate to lead", func() bool { return len(c.startedAt()) > 0 })

	lease, err := kubernetes.NewForConfigOrDie(apiServer.Config).CoordinationV1().Leases(ns).Get(context.Background(), "test-lease", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := lease.Spec.HolderIdentity; got == nil || *got != "replica-0" {
		t.Errorf("holderIdentity = %v, want replica-0", got)
	}
	if got := lease.Spec.LeaseDurationSeconds; got == nil || *got != int32(leaseDuration/time.Second) {
		t.Errorf("leaseDurationSeconds = %v, want %d", got, int32(leaseDuration/time.Second))
	}
	if got := lease.Labels["leader-of"]; got != "test-lease" {
		t.Errorf("lease labels = %v, want leader-of=test-lease", lease.Labels)
	}
}

func TestThreeElectorsElectExactlyOneLeader(t *testing.T) {
	ns := newNamespace(t)
	leading := &counter{}
	var cands []*candidate
	for i := range 3 {
		cands = append(cands, startCandidate(t, ns, fmt.Sprintf("replica-%d", i), false, leading))
	}
	waitFor(t, 10*time.Second, "a leader", func() bool { return len(leaderOf(cands)) > 0 })
	// Two full lease durations: long enough for a follower to take over if the
	// leader's renewals were not landing.
	time.Sleep(2 * leaseDuration)

	leaders := leaderOf(cands)
	if len(leaders) != 1 || len(leaders[0].startedAt()) != 1 {
		t.Fatalf("candidates that led: %d (want exactly 1, once)", len(leaders))
	}
	if got := leading.maxAtOnce(); got != 1 {
		t.Errorf("%d candidates acted as leader at once", got)
	}
	// Read the lease with a client of its own: the candidates' locks belong to their electors.
	lease, err := kubernetes.NewForConfigOrDie(apiServer.Config).CoordinationV1().Leases(ns).Get(context.Background(), "test-lease", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := lease.Spec.HolderIdentity; got == nil || *got != leaders[0].id {
		t.Errorf("lease holder %v, but %q is acting as leader", got, leaders[0].id)
	}
}

func TestReleaseOnCancelHandsOverWithinTwoRetryPeriods(t *testing.T) {
	ns := newNamespace(t)
	leading := &counter{}
	first := startCandidate(t, ns, "replica-0", true, leading)
	waitFor(t, 10*time.Second, "replica-0 to lead", func() bool { return len(first.startedAt()) > 0 })
	second := startCandidate(t, ns, "replica-1", true, leading)
	// Let replica-1 observe the held lease before the handover.
	time.Sleep(2 * retryPeriod)

	released := time.Now()
	first.stop() // ReleaseOnCancel: the elector writes an empty holder before returning
	waitFor(t, 10*time.Second, "replica-1 to lead", func() bool { return len(second.startedAt()) > 0 })
	took := second.startedAt()[0].Sub(released)

	// client-go's handover bound (scenarios.Bounds.Handover): a follower
	// takes an empty-holder lease at its next poll, at most 2.2 RetryPeriod
	// later, plus round trips on a real server.
	bounds := scenarios.Bounds{
		Timing:    sim.Timing{LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod},
		Allowance: scenarios.DefaultAllowance,
	}
	if w := bounds.Handover(); !w.Contains(took) {
		t.Errorf("handover took %v, want within %v", took, w)
	}
	if got := leading.maxAtOnce(); got != 1 {
		t.Errorf("%d candidates acted as leader at once", got)
	}
}

// slowTransport delays the responses to requests that match, honouring the
// request's context as a real network stack does.
type slowTransport struct {
	next  http.RoundTripper
	delay time.Duration
	match func(*http.Request) bool

	mu         sync.Mutex
	userAgents []string
}

func (s *slowTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.userAgents = append(s.userAgents, req.UserAgent())
	s.mu.Unlock()
	resp, err := s.next.RoundTrip(req)
	if err != nil || !s.match(req) {
		return resp, err
	}
	select {
	case <-time.After(s.delay):
		return resp, nil
	case <-req.Context().Done():
		resp.Body.Close()
		return nil, req.Context().Err()
	}
}

func TestSlowResponseAbandonedAtClientTimeout(t *testing.T) {
	ns := newNamespace(t)
	cfg := rest.CopyConfig(apiServer.Config)
	cfg.UserAgent = "my-operator"
	slow := &slowTransport{delay: 6 * time.Second, match: func(r *http.Request) bool { return r.Method == http.MethodGet }}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { slow.next = rt; return slow })

	const deadline = 4 * time.Second // client timeout max(4s/2, 1s) = 2s, well under the 6s delay
	lock, err := ll.NewResourceLock(cfg, nil, ll.Options{
		LeaderElection: true, LeaderElectionID: "slow", LeaderElectionNamespace: ns, RenewDeadline: deadline, Identity: "replica-0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != 0 || cfg.UserAgent != "my-operator" {
		t.Errorf("caller's config changed: Timeout %v, UserAgent %q", cfg.Timeout, cfg.UserAgent)
	}

	now := metav1.NewTime(time.Now())
	if err := lock.Create(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "replica-0", LeaseDurationSeconds: 3, AcquireTime: now, RenewTime: now}); err != nil {
		t.Fatal(err) // a POST: not delayed
	}
	start := time.Now()
	_, _, err = lock.Get(context.Background()) // no context deadline: only the client timeout bounds it
	took := time.Since(start)
	if err == nil {
		t.Fatal("Get answered after the slow response; want it abandoned at the client timeout")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Errorf("Get error = %v, want a client timeout", err)
	}
	const want = 2 * time.Second // the client timeout: max(deadline/2, 1s)
	if took < want || took >= slow.delay {
		t.Errorf("Get gave up after %v, want at the client timeout %v (before the %v response)", took, want, slow.delay)
	}

	slow.mu.Lock()
	defer slow.mu.Unlock()
	// Like controller-runtime, the lock's client identifies itself as the default
	// Kubernetes user agent plus "/leader-election" (rest.AddUserAgent), on a copy.
	wantUA := rest.DefaultKubernetesUserAgent() + "/leader-election"
	for _, ua := range slow.userAgents {
		if ua != wantUA {
			t.Errorf("request User-Agent %q, want %q", ua, wantUA)
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func TestEventsGoToTheProvidersRecorder(t *testing.T) {
	ns := newNamespace(t)
	provider := &recordingProvider{recorder: record.NewFakeRecorder(4)}
	lock, err := ll.NewResourceLock(apiServer.Config, provider, ll.Options{
		LeaderElection: true, LeaderElectionID: "events", LeaderElectionNamespace: ns, Identity: "replica-0",
	})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.NewTime(time.Now())
	if err := lock.Create(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "replica-0", LeaseDurationSeconds: 3, AcquireTime: now, RenewTime: now}); err != nil {
		t.Fatal(err)
	}
	lock.RecordEvent("became leader")
	select {
	case got := <-provider.recorder.Events:
		if want := "Normal LeaderElection replica-0 became leader"; got != want {
			t.Errorf("event %q, want %q", got, want)
		}
	default:
		t.Fatal("no event recorded")
	}
}
