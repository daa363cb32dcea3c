package realapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	lab "github.com/leaderlab/leaderlab/leaderelection"
)

// ClusterOptions configure a Cluster.
type ClusterOptions struct {
	// Timing is the elector's timing; zero fields mean 3s/2s/500ms.
	Timing Timing
	// Candidates is the number of candidates, named c0, c1, ...; at least 1,
	// at most MaxCandidates.
	Candidates int
	// Namespace and Lease locate the lease; both required. Use a lease no
	// one else uses: the cluster's candidates contend for it.
	Namespace, Lease string
	// ReleaseOnCancel is client-go's option of the same name.
	ReleaseOnCancel bool
	// NoClientTimeout removes the client timeout that NewResourceLock sets.
	NoClientTimeout bool
	// Latency is added to every request of every candidate.
	Latency Latency
}

// Cluster is a set of client-go LeaderElectors contending for one lease on a
// real API server, each behind a network the harness controls. It runs in real
// time. Methods are safe for concurrent use. Close ends every goroutine the
// cluster started and returns its report.
type Cluster struct {
	base   *rest.Config
	opts   ClusterOptions
	rec    *recorder
	admin  kubernetes.Interface
	closed chan struct{}
	wg     sync.WaitGroup

	closeOnce sync.Once
	report    *Report // set once by close

	mu      sync.Mutex
	started bool
	done    bool
	names   []string
	cands   map[string]*candidate
	all     []*incarnation
}

// candidate is one named candidate; each (re)start is a new incarnation, as a
// restarted process is.
type candidate struct {
	name string
	cur  *incarnation
}

// incarnation is one process of a candidate.
type incarnation struct {
	name   string
	gen    int
	tr     *faultTransport
	cancel context.CancelFunc
	done   chan struct{} // the elector returned and its leading callback ended

	wrote    atomic.Bool   // a lease write of this process succeeded
	leadDone chan struct{} // the leading callback returned

	mu       sync.Mutex
	crashed  bool
	stopping bool
}

// NewCluster returns a cluster of candidates on cfg's API server; Start
// starts them. cfg is copied, never modified.
func NewCluster(cfg *rest.Config, opts ClusterOptions) (*Cluster, error) {
	if cfg == nil {
		return nil, errors.New("realapi: rest config must not be nil")
	}
	if err := opts.Timing.validate(); err != nil {
		return nil, err
	}
	opts.Timing = opts.Timing.withDefaults()
	if opts.Candidates < 1 || opts.Candidates > MaxCandidates {
		return nil, fmt.Errorf("realapi: Candidates (%d) must be between 1 and %d", opts.Candidates, MaxCandidates)
	}
	if err := opts.Latency.validate("Latency"); err != nil {
		return nil, err
	}
	if opts.Namespace == "" || opts.Lease == "" {
		return nil, fmt.Errorf("realapi: Namespace (%q) and Lease (%q) must be set", opts.Namespace, opts.Lease)
	}
	if _, err := lab.Resolve(lab.Options{LeaderElection: true, LeaderElectionID: opts.Lease, LeaderElectionNamespace: opts.Namespace, Identity: "x"}); err != nil {
		return nil, fmt.Errorf("realapi: Namespace or Lease: %w", err)
	}
	base := rest.CopyConfig(cfg)
	adminCfg := rest.CopyConfig(cfg)
	adminCfg.Timeout = 10 * time.Second
	admin, err := kubernetes.NewForConfig(adminCfg)
	if err != nil {
		return nil, fmt.Errorf("realapi: building the foreign writer's client: %w", err)
	}
	c := &Cluster{base: base, opts: opts, rec: newRecorder(), admin: admin, closed: make(chan struct{}), cands: make(map[string]*candidate)}
	for i := range opts.Candidates {
		name := CandidateName(i)
		c.names = append(c.names, name)
		c.cands[name] = &candidate{name: name}
	}
	return c, nil
}

// Start starts every candidate at once; time zero of the report is when the
// cluster was made.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return errors.New("realapi: Start after Close")
	}
	if c.started {
		return errors.New("realapi: Start called twice")
	}
	c.started = true
	for _, name := range c.names {
		if err := c.startLocked(c.cands[name]); err != nil {
			return err
		}
	}
	return nil
}

// Names are the candidates' names, c0, c1, ...
func (c *Cluster) Names() []string { return slices.Clone(c.names) }

// startLocked starts a new process of cand: a fresh network (healed, no
// latency faults), a fresh lock from NewResourceLock and a fresh elector.
func (c *Cluster) startLocked(cand *candidate) error {
	gen := 1
	if cand.cur != nil {
		gen = cand.cur.gen + 1
	}
	inc := &incarnation{name: cand.name, gen: gen, done: make(chan struct{}), leadDone: make(chan struct{})}
	inc.tr = newFaultTransport(cand.name, c.rec, c.closed, c.opts.Latency)

	cfg := rest.CopyConfig(c.base)
	if cfg.Transport == nil && cfg.Proxy == nil {
		// A proxy function (the default one) makes client-go build a
		// transport of this process's own instead of sharing a cached one,
		// so each process has its own connections, as a real one has.
		cfg.Proxy = http.ProxyFromEnvironment
	}
	cfg.Wrap(inc.tr.wrap)
	lockOpts := lab.Options{
		LeaderElection: true, LeaderElectionNamespace: c.opts.Namespace, LeaderElectionID: c.opts.Lease,
		RenewDeadline: c.opts.Timing.RenewDeadline, Identity: cand.name,
	}
	if c.opts.NoClientTimeout {
		lockOpts.RenewDeadline, cfg.Timeout = 0, 0
	}
	lock, err := lab.NewResourceLock(cfg, nil, lockOpts)
	if err != nil {
		return fmt.Errorf("realapi: %s: %w", cand.name, err)
	}
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          &observedLock{Interface: lock, wrote: &inc.wrote},
		LeaseDuration: c.opts.Timing.LeaseDuration, RenewDeadline: c.opts.Timing.RenewDeadline, RetryPeriod: c.opts.Timing.RetryPeriod,
		ReleaseOnCancel: c.opts.ReleaseOnCancel,
		Name:            c.opts.Lease,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { c.lead(inc, ctx) },
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return fmt.Errorf("realapi: %s: %w", cand.name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ctx = klog.NewContext(ctx, logr.New(&traceSink{rec: c.rec, inc: inc}))
	inc.cancel = cancel
	cand.cur = inc
	c.all = append(c.all, inc)
	c.rec.add(cand.name, "process %d starts", gen)

	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(inc.done)
		elector.Run(ctx)
		// Run starts OnStartedLeading in a goroutine of its own exactly when
		// a lease write succeeded; wait for it, so nothing outlives Close.
		if inc.wrote.Load() {
			<-inc.leadDone
		}
		inc.tr.closeIdle()
		c.rec.add(inc.name, "process %d: elector returned", inc.gen)
	}()
	return nil
}

// lead is OnStartedLeading: the process acts as leader until ctx is done.
func (c *Cluster) lead(inc *incarnation, ctx context.Context) {
	defer close(inc.leadDone)
	inc.mu.Lock()
	if inc.crashed || inc.stopping {
		inc.mu.Unlock()
		return // a crashed or stopping process no longer acts
	}
	c.rec.termStarted(inc.name, inc.gen)
	inc.mu.Unlock()
	<-ctx.Done()
	c.rec.termEnded(inc.name, inc.gen, "lost", inc.tr.lastWriteTimes())
}

// observedLock is the lock from NewResourceLock, unchanged, noting whether a
// write succeeded (client-go starts OnStartedLeading exactly then).
type observedLock struct {
	resourcelock.Interface
	wrote *atomic.Bool
}

func (l *observedLock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Create(ctx, ler)
	if err == nil {
		l.wrote.Store(true)
	}
	return err
}

func (l *observedLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	err := l.Interface.Update(ctx, ler)
	if err == nil {
		l.wrote.Store(true)
	}
	return err
}

// traceSink puts a candidate's Info (verbosity 0) and Error log lines in the
// trace, and notes when its elector failed to renew.
type traceSink struct {
	rec *recorder
	inc *incarnation
}

func (s *traceSink) Init(logr.RuntimeInfo)  {}
func (s *traceSink) Enabled(level int) bool { return level <= 0 }
func (s *traceSink) Info(_ int, msg string, kv ...any) {
	if msg == "Failed to renew lease" {
		s.rec.renewFailed(s.inc.name, s.inc.gen)
	}
	s.rec.add(s.inc.name, "log: %s%s", msg, formatKV(kv))
}
func (s *traceSink) Error(err error, msg string, kv ...any) {
	s.rec.add(s.inc.name, "log error: %s: %v", msg, err)
}
func (s *traceSink) WithValues(...any) logr.LogSink { return s }
func (s *traceSink) WithName(string) logr.LogSink   { return s }

func formatKV(kv []any) string {
	var out string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "lock" {
			continue
		}
		out += fmt.Sprintf(" %v=%v", kv[i], kv[i+1])
	}
	return out
}

// current returns the running process of name, or an error naming the
// problem.
func (c *Cluster) current(name string) (*incarnation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cand, ok := c.cands[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("realapi: no candidate %q (have %v)", name, c.names)
	case c.done:
		return nil, errors.New("realapi: cluster is closed")
	case cand.cur == nil:
		return nil, errors.New("realapi: cluster not started")
	}
	return cand.cur, nil
}

// running returns the process of name if it is still running: not crashed,
// not stopping, its elector not returned.
func (c *Cluster) running(name string) (*incarnation, error) {
	inc, err := c.current(name)
	if err != nil {
		return nil, err
	}
	select {
	case <-inc.done:
		return nil, fmt.Errorf("realapi: %s is not running (its elector returned)", name)
	default:
	}
	return inc, nil
}

// Crash ends name's process at once, as a kill -9 or a node loss would: its
// network is cut first (no later request, and no answer not yet delivered,
// reaches it or the server), then its elector's context is cancelled. It
// cannot release the lease. Its term, if it leads, ends now.
func (c *Cluster) Crash(name string) error {
	_, err := c.crash(name)
	return err
}

func (c *Cluster) crash(name string) (time.Duration, error) {
	return c.end(name, "crash", func(inc *incarnation) {
		inc.crashed = true
		inc.tr.blackHole("crash")
	})
}

// Stop cancels name's elector context, as a graceful shutdown does: its term,
// if it leads, ends now, and with ReleaseOnCancel the elector then releases
// the lease. Stop does not wait for the release.
func (c *Cluster) Stop(name string) error {
	_, err := c.stop(name)
	return err
}

func (c *Cluster) stop(name string) (time.Duration, error) {
	return c.end(name, "stop", func(inc *incarnation) { inc.stopping = true })
}

// end ends name's running process for cause (crash or stop): mark runs
// first, under the process's lock, so that the process cannot start a term
// afterwards; then its term ends now and its context is cancelled.
func (c *Cluster) end(name, cause string, mark func(*incarnation)) (time.Duration, error) {
	inc, err := c.running(name)
	if err != nil {
		return 0, err
	}
	inc.mu.Lock()
	if inc.crashed || inc.stopping {
		inc.mu.Unlock()
		return 0, fmt.Errorf("realapi: %s is already crashed or stopping", name)
	}
	mark(inc)
	at := c.rec.add("harness", "%s %s", cause, name)
	c.rec.termEnded(name, inc.gen, cause, inc.tr.lastWriteTimes())
	inc.mu.Unlock()
	inc.cancel()
	return at, nil
}

// Restart starts a new process of name with the same identity, on a healed
// network. The old process must be crashed, stopped or finished; a stopped
// one is given up to RenewDeadline to finish its release first.
func (c *Cluster) Restart(name string) error {
	inc, err := c.current(name)
	if err != nil {
		return err
	}
	inc.mu.Lock()
	crashed, stopping := inc.crashed, inc.stopping
	inc.mu.Unlock()
	select {
	case <-inc.done:
	default:
		if !crashed && !stopping {
			return fmt.Errorf("realapi: %s is running; Crash or Stop it before Restart", name)
		}
		if stopping {
			select {
			case <-inc.done:
			case <-time.After(c.opts.Timing.RenewDeadline + time.Second):
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return errors.New("realapi: cluster is closed")
	}
	return c.startLocked(c.cands[name])
}

// Partition black-holes name's network: requests never reach the server and
// answers not yet delivered are lost; each request waits until its context
// ends, as on a real network that drops packets.
func (c *Cluster) Partition(name string) error {
	inc, err := c.current(name)
	if err != nil {
		return err
	}
	inc.tr.blackHole("partition")
	c.rec.add("harness", "partition %s", name)
	return nil
}

// Heal ends a partition of name.
func (c *Cluster) Heal(name string) error {
	inc, err := c.current(name)
	if err != nil {
		return err
	}
	if err := inc.tr.heal(); err != nil {
		return err
	}
	c.rec.add("harness", "heal %s", name)
	return nil
}

// PartitionAfterWrites partitions name the instant the n-th successful lease
// write it sends after this call is answered (a leader's writes are its
// renews), so the write it last saw succeed is known exactly.
func (c *Cluster) PartitionAfterWrites(name string, n int) error {
	if n < 1 {
		return fmt.Errorf("realapi: PartitionAfterWrites n (%d) must be at least 1", n)
	}
	inc, err := c.current(name)
	if err != nil {
		return err
	}
	inc.tr.partitionAfterWrites(n, nil)
	c.rec.add("harness", "partition %s after %d more writes", name, n)
	return nil
}

// SetLatency sets the latency added to name's requests sent from now on.
func (c *Cluster) SetLatency(name string, l Latency) error {
	if err := l.validate("latency"); err != nil {
		return err
	}
	inc, err := c.current(name)
	if err != nil {
		return err
	}
	inc.tr.setLatency(l)
	c.rec.add("harness", "latency of %s: request %v, response %v", name, l.Request, l.Response)
	return nil
}

// SlowNextResponse answers name's next request after d instead of its
// response leg. The server applies the request at once; if the request's
// context ends first, the client gives up and the answer is lost.
func (c *Cluster) SlowNextResponse(name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("realapi: SlowNextResponse delay (%v) must be positive", d)
	}
	inc, err := c.current(name)
	if err != nil {
		return err
	}
	inc.tr.slowNextResponse(d)
	c.rec.add("harness", "next answer to %s takes %v", name, d)
	return nil
}

// OverwriteLease writes holder into the lease as a foreign writer would (a
// separate client, no faults): holder, acquire and renew time now, the
// cluster's lease duration, one more transition.
func (c *Cluster) OverwriteLease(ctx context.Context, holder string) error {
	_, err := c.overwrite(ctx, holder)
	return err
}

// overwrite returns the offset just before the successful write was sent.
func (c *Cluster) overwrite(ctx context.Context, holder string) (time.Duration, error) {
	if holder == "" {
		return 0, errors.New("realapi: OverwriteLease holder must not be empty")
	}
	leases := c.admin.CoordinationV1().Leases(c.opts.Namespace)
	var at time.Duration
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		lease, err := leases.Get(ctx, c.opts.Lease, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.NewMicroTime(time.Now())
		seconds := int32(c.opts.Timing.LeaseDuration / time.Second)
		transitions := int32(1)
		if lease.Spec.LeaseTransitions != nil {
			transitions += *lease.Spec.LeaseTransitions
		}
		lease.Spec = coordinationv1.LeaseSpec{
			HolderIdentity: &holder, LeaseDurationSeconds: &seconds,
			AcquireTime: &now, RenewTime: &now, LeaseTransitions: &transitions,
		}
		at = c.rec.now()
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("realapi: overwriting lease %s/%s: %w", c.opts.Namespace, c.opts.Lease, err)
	}
	c.rec.add("api", "lease holder overwritten with %s by a foreign writer", holder)
	return at, nil
}

// DeleteLease deletes the lease, as a foreign writer would.
func (c *Cluster) DeleteLease(ctx context.Context) error {
	err := c.admin.CoordinationV1().Leases(c.opts.Namespace).Delete(ctx, c.opts.Lease, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("realapi: deleting lease %s/%s: %w", c.opts.Namespace, c.opts.Lease, err)
	}
	c.rec.add("api", "lease deleted by a foreign writer")
	return nil
}

// Leaders are the candidates acting as leader now, oldest term first.
func (c *Cluster) Leaders() []string {
	leaders, _ := c.rec.leaders()
	return leaders
}

// Now is the offset from the start of the run.
func (c *Cluster) Now() time.Duration { return c.rec.now() }

// AwaitLeader waits until a candidate acts as leader and returns its name.
// It fails after within, or when ctx ends.
func (c *Cluster) AwaitLeader(ctx context.Context, within time.Duration) (string, error) {
	var leader string
	ok, err := c.await(ctx, time.Now().Add(within), func() bool {
		leaders := c.Leaders()
		if len(leaders) > 0 {
			leader = leaders[0]
		}
		return leader != ""
	})
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("realapi: no leader within %v on lease %s/%s; trace tail:\n%s", within, c.opts.Namespace, c.opts.Lease, c.traceTail(20))
	}
	return leader, nil
}

// await re-evaluates cond on every change of leadership and every fault
// trigger until it holds (true), the deadline passes (false) or ctx ends.
func (c *Cluster) await(ctx context.Context, deadline time.Time, cond func() bool) (bool, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		_, changed := c.rec.leaders()
		if cond() {
			return true, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return cond(), nil
		case <-ctx.Done():
			return false, fmt.Errorf("realapi: %w", ctx.Err())
		}
	}
}

func (c *Cluster) traceTail(n int) string {
	c.rec.mu.Lock()
	events := c.rec.events[max(0, len(c.rec.events)-n):]
	rep := Report{Trace: slices.Clone(events)}
	c.rec.mu.Unlock()
	return rep.TraceText()
}

// Close ends the run: open terms end as "running", every process's network
// closes (no request reaches the server any more, so nothing is released),
// every elector is cancelled, and Close waits for every goroutine the
// cluster started. It returns the report; later calls return the same one.
func (c *Cluster) Close() *Report {
	c.closeOnce.Do(c.close)
	return c.report
}

func (c *Cluster) close() {
	c.mu.Lock()
	c.done = true
	c.rec.freeze()
	close(c.closed)
	all := slices.Clone(c.all)
	c.mu.Unlock()
	for _, inc := range all {
		inc.cancel()
	}
	c.wg.Wait()
	for _, inc := range all {
		inc.tr.closeIdle()
	}
	c.report = c.rec.report(c.opts.Namespace, c.opts.Lease)
}
