package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	lab "github.com/leaderlab/leaderlab/leaderelection"
)

// Test runs one simulated cluster in a testing/synctest bubble: it starts
// opts.Candidates candidates, applies opts.Faults on schedule, calls body, and
// when body returns stops everything and returns the report. Invalid options
// fail t before anything runs (Test then returns nil). Invariant violations
// fail t with the seed, the trace tail and how to replay.
//
// Test must not be called from inside a bubble, and body must only use the
// Cluster from its own goroutine.
func Test(t *testing.T, opts Options, body func(c *Cluster)) *Report {
	t.Helper()
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
		return nil
	}
	if body == nil {
		t.Fatal("sim: Test needs a body")
		return nil
	}
	seedGlobalRandOnce()
	var rep *Report
	name := t.Name()
	synctest.Test(t, func(bt *testing.T) {
		time.Sleep(startPhase(opts.Seed))
		c := newCluster(bt, name, opts.WithDefaults())
		defer func() { rep = c.finish() }()
		c.begin()
		body(c)
	})
	if rep != nil && len(rep.Violations) > 0 {
		t.Errorf("sim: %d invariant violation(s):\n%s\nlast trace lines:\n%s\n%s",
			len(rep.Violations), strings.Join(rep.Violations, "\n"), tail(rep.Trace, 25), rep.Replay)
	}
	return rep
}

// startPhase is how far into the virtual clock's first second a run starts.
// A real cluster starts at any instant of a second, and that matters: client-go
// compares lease records whose renew times have whole-second precision, so with
// a RetryPeriod under 1s where the renews fall within their seconds decides how
// late a follower notices one. Starting every run on the bubble's whole second
// would give every seed the same phase. Report offsets count from the start.
func startPhase(seed int64) time.Duration {
	return time.Duration(rand.New(rand.NewPCG(uint64(seed), 0x5ec0)).Int64N(int64(time.Second)))
}

// Cluster is the simulated cluster as the body of Test sees it. Its methods
// must be called from the body's goroutine only.
type Cluster struct {
	t        *testing.T
	testName string
	opts     Options
	start    time.Time
	rec      *recorder
	net      *network
	cands    []*candidate
	byName   map[string]*candidate
	run      *activeRun
	wg       sync.WaitGroup
}

// candidate is a named replica; each start makes a new process.
type candidate struct {
	idx  int
	name string

	rngMu sync.Mutex
	rng   *rand.Rand

	mu       sync.Mutex
	proc     *process
	identity string
	starts   int
}

func newCluster(t *testing.T, testName string, opts Options) *Cluster {
	c := &Cluster{t: t, testName: testName, opts: opts, start: time.Now(), byName: make(map[string]*candidate)}
	c.rec = newRecorder(c.start, opts.AllowOverlap)
	c.net = newNetwork(c)
	for i := range opts.Candidates {
		cand := &candidate{idx: i, name: CandidateName(i), identity: CandidateName(i),
			rng: rand.New(rand.NewPCG(uint64(opts.Seed), uint64(i)+1))}
		c.cands = append(c.cands, cand)
		c.byName[cand.name] = cand
	}
	return c
}

// begin seeds client-go's jitter, starts the network and schedules the
// candidates' starts and the fault plan.
func (c *Cluster) begin() {
	c.run = beginRun()
	seedGlobalRand(c.opts.Seed)
	c.wg.Go(c.net.loop)
	simRng := rand.New(rand.NewPCG(uint64(c.opts.Seed), 0))
	for _, cand := range c.cands {
		at := c.start
		if !c.opts.SameInstantStart {
			// A few milliseconds apart, at instants drawn from the seed,
			// so that no two candidates draw client-go's jitter at once.
			at = at.Add(time.Duration(cand.idx)*time.Millisecond + time.Duration(simRng.Int64N(int64(time.Millisecond))))
		}
		c.net.schedule(at, -1, func() { c.startProcess(cand, "") })
	}
	for _, f := range c.opts.Faults {
		c.net.schedule(c.start.Add(f.At), -1, func() { c.inject(f) })
	}
}

// finish ends the run: it freezes the report, stops every process and the
// network, and waits for all their goroutines.
func (c *Cluster) finish() *Report {
	c.rec.freeze()
	for _, cand := range c.cands {
		cand.mu.Lock()
		p := cand.proc
		cand.mu.Unlock()
		if p != nil {
			p.kill()
		}
	}
	close(c.net.stop)
	c.wg.Wait()
	rep := c.Report()
	exact, note := c.run.end()
	if exact && c.opts.SameInstantStart && c.opts.Latency.Min == c.opts.Latency.Max {
		exact, note = false, "SameInstantStart with a fixed Latency: candidates may draw client-go's jitter at the same instant"
	}
	rep.ReplayExact, rep.ReplayNote = exact, note
	return rep
}

// Report returns the report of the run so far (the final one after Test).
func (c *Cluster) Report() *Report {
	rep := c.rec.snapshot()
	rep.Seed = c.opts.Seed
	rep.Options = c.opts
	rep.Options.Faults = append([]Fault(nil), c.opts.Faults...)
	rep.ReplayExact = true
	rep.Replay = replayHint(c.testName, c.opts)
	return rep
}

func replayHint(testName string, opts Options) string {
	return fmt.Sprintf("replay: go test -run '^%s$' (seed %d), options %s", strings.ReplaceAll(testName, "'", ""), opts.Seed, optionsString(opts))
}

// Now is the virtual time since the start of the run.
func (c *Cluster) Now() time.Duration { return time.Since(c.start) }

// Advance lets d of virtual time pass, then lets everything due at the new
// instant happen before it returns.
func (c *Cluster) Advance(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
	synctest.Wait()
}

// Leaders are the candidates acting as leader now, longest-acting first.
func (c *Cluster) Leaders() []string {
	l, _ := c.rec.leaders()
	return l
}

// Leader is the candidate acting as leader now ("" if none; the longest-acting
// one if several do).
func (c *Cluster) Leader() string {
	if l := c.Leaders(); len(l) > 0 {
		return l[0]
	}
	return ""
}

// Holder is the holder identity the stored lease names now ("" if none).
func (c *Cluster) Holder() string { return c.net.heldBy() }

// AwaitLeader waits at most within of virtual time for a candidate to act as
// leader and returns it. When none does it fails the test with the trace tail.
func (c *Cluster) AwaitLeader(within time.Duration) string {
	c.t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		synctest.Wait()
		leaders, ch := c.rec.leaders()
		if len(leaders) > 0 {
			return leaders[0]
		}
		select {
		case <-ch:
		case <-deadline.C:
			synctest.Wait()
			if l := c.Leader(); l != "" {
				return l
			}
			rep := c.Report()
			c.t.Fatalf("sim: no leader within %v (virtual time %v, seed %d)\nlast trace lines:\n%s%s",
				within, c.Now(), c.opts.Seed, tail(rep.Trace, 25), rep.Replay)
			return ""
		}
	}
}

// T is the bubble's *testing.T; use it (not the outer test's) to fail from
// inside the body.
func (c *Cluster) T() *testing.T { return c.t }

func (c *Cluster) candidate(name string) *candidate {
	cand, ok := c.byName[name]
	if !ok {
		panic(fmt.Sprintf("sim: unknown candidate %q (candidates are c0..%s)", name, CandidateName(len(c.cands)-1)))
	}
	return cand
}

// Crash ends the candidate's process at once: it stops acting as leader now,
// its later requests never arrive and it cannot release the lease; requests it
// already sent still arrive. A crashed candidate stays down until Start.
func (c *Cluster) Crash(name string) { c.inject(Fault{Kind: FaultCrash, Candidate: name}) }

// Stop cancels the candidate's context, as a graceful shutdown does: with
// ReleaseOnCancel client-go releases the lease.
func (c *Cluster) Stop(name string) { c.inject(Fault{Kind: FaultStop, Candidate: name}) }

// Start starts a stopped or crashed candidate again with its last identity.
func (c *Cluster) Start(name string) { c.inject(Fault{Kind: FaultStart, Candidate: name}) }

// StartAs starts a stopped or crashed candidate again with a new identity, as
// a replacement pod with a new name would.
func (c *Cluster) StartAs(name, identity string) {
	c.inject(Fault{Kind: FaultStart, Candidate: name, Identity: identity})
}

// Partition cuts the candidate off from the API both ways until Heal:
// requests it sends, and answers to requests already under way, are lost.
func (c *Cluster) Partition(name string) { c.inject(Fault{Kind: FaultPartition, Candidate: name}) }

// Heal ends the candidate's partition.
func (c *Cluster) Heal(name string) {
	c.candidate(name)
	c.heal(name)
}

// SetLatency sets the legs' latency for requests from candidate (all when
// empty) with verb (all when empty). A zero Dist means Options.Latency. The
// most recently set matching rule wins.
func (c *Cluster) SetLatency(candidate, verb string, request, response Dist) {
	c.inject(Fault{Kind: FaultLatency, Candidate: candidate, Verb: verb, Request: request, Response: response})
}

// SlowNextResponse answers the next matching request after d instead of its
// response leg. The server applies the request when it arrives, so a client
// that gives up earlier has still written.
func (c *Cluster) SlowNextResponse(candidate, verb string, d time.Duration) {
	c.inject(Fault{Kind: FaultSlowResponse, Candidate: candidate, Verb: verb, Delay: d})
}

// SetErrors answers a rate share of matching requests with code (500, 503 or
// 429; the last two with Retry-After when retryAfter > 0) without applying
// them. Rate 0 removes the rule for that candidate and verb.
func (c *Cluster) SetErrors(candidate, verb string, code int, rate float64, retryAfter time.Duration) {
	c.inject(Fault{Kind: FaultErrors, Candidate: candidate, Verb: verb, Code: code, Rate: rate, RetryAfter: retryAfter})
}

// Outage refuses every connection for d: requests fail fast.
func (c *Cluster) Outage(d time.Duration) { c.inject(Fault{Kind: FaultOutage, For: d}) }

// BlackHole makes the API answer nothing for d: requests and responses vanish
// and clients wait for their timeouts.
func (c *Cluster) BlackHole(d time.Duration) { c.inject(Fault{Kind: FaultBlackHole, For: d}) }

// DeleteLease deletes the lease, as a foreign writer would.
func (c *Cluster) DeleteLease() { c.inject(Fault{Kind: FaultDeleteLease}) }

// OverwriteLease writes holder as the lease holder, unconditionally, as a
// foreign writer would.
func (c *Cluster) OverwriteLease(holder string) {
	c.inject(Fault{Kind: FaultOverwriteLease, Identity: holder})
}

// Inject applies f now (f.At is ignored). Bad faults fail the test.
func (c *Cluster) Inject(f Fault) {
	c.t.Helper()
	f.At = 0
	if err := f.validate(len(c.cands)); err != nil {
		c.t.Fatalf("sim: Inject: %v", err)
	}
	c.inject(f)
}

// StartTime is the virtual wall-clock instant the run started at.
func (c *Cluster) StartTime() time.Time { return c.start }

// AddObjects stores objects in the API server, as if created before the run.
func (c *Cluster) AddObjects(objs ...runtime.Object) error {
	for _, obj := range objs {
		if err := c.net.srv.Add(obj); err != nil {
			return fmt.Errorf("sim: AddObjects: %w", err)
		}
	}
	return nil
}

func (c *Cluster) offset(t time.Time) string { return strings.TrimSpace(formatOffset(t.Sub(c.start))) }

// process is one incarnation of a candidate, from start to crash or exit.
type process struct {
	c             *Cluster
	cand          *candidate
	identity      string
	clientTimeout time.Duration
	ctx           context.Context
	cancel        context.CancelFunc

	mu          sync.Mutex
	gone        chan struct{} // closed on crash and at the end of the run
	goneClosed  bool
	stopping    bool
	leading     bool
	lastRenew   *RequestTimes
	renewFailed *time.Duration
}

func (p *process) isGone() bool {
	select {
	case <-p.gone:
		return true
	default:
		return false
	}
}

// kill marks the process gone and cancels it: nothing it does from now on is
// seen by the API or the trace.
func (p *process) kill() {
	p.mu.Lock()
	if !p.goneClosed {
		p.goneClosed = true
		close(p.gone)
	}
	p.mu.Unlock()
	p.cancel()
}

func (p *process) renewed(r *request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.leading {
		return
	}
	start := p.c.start
	p.lastRenew = &RequestTimes{Sent: r.sent.Sub(start), Applied: r.arrived.Sub(start), Answered: r.answered.Sub(start)}
}

func (p *process) logged(msg string) {
	if msg != msgFailedToRenew {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.renewFailed == nil && p.leading {
		now := p.c.Now()
		p.renewFailed = &now
	}
}

// startedLeading and stoppedLeading bracket a term.
func (p *process) startedLeading() {
	if p.isGone() {
		return
	}
	p.mu.Lock()
	p.leading, p.lastRenew, p.renewFailed = true, nil, nil
	p.mu.Unlock()
	p.c.rec.termStarted(p.cand.name, p.identity)
}

func (p *process) stoppedLeading(cause string) {
	p.mu.Lock()
	if !p.leading {
		p.mu.Unlock()
		return
	}
	p.leading = false
	if cause == "" {
		cause = EndLost
		if p.stopping {
			cause = EndStop
		}
	}
	last, failed := p.lastRenew, p.renewFailed
	p.mu.Unlock()
	p.c.rec.termEnded(p.cand.name, cause, last, failed)
}

func (c *Cluster) startProcess(cand *candidate, identity string) {
	cand.mu.Lock()
	if cand.proc != nil && !cand.proc.isGone() && !ctxDone(cand.proc.ctx) {
		cand.mu.Unlock()
		c.rec.add("sim", "start "+cand.name+": already running")
		return
	}
	if identity != "" {
		cand.identity = identity
	}
	cand.starts++
	p := &process{c: c, cand: cand, identity: cand.identity, gone: make(chan struct{})}
	cand.proc = p
	cand.mu.Unlock()

	logger := klog.New(&traceSink{p: p, verbosity: c.opts.LogVerbosity})
	p.ctx, p.cancel = context.WithCancel(klog.NewContext(context.Background(), logger))
	rd := c.opts.Timing.RenewDeadline
	if c.opts.NoClientTimeout {
		rd = 0
	} else {
		p.clientTimeout = lab.ClientTimeout(rd)
	}
	cfg := &rest.Config{
		Host:      "http://" + cand.name + ".sim",
		Transport: &transport{p: p},
		QPS:       -1,
		ContentConfig: rest.ContentConfig{
			ContentType:        "application/vnd.kubernetes.protobuf",
			AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
		},
	}
	lock, err := lab.NewResourceLock(cfg, nil, lab.Options{
		LeaderElection: true, LeaderElectionID: c.opts.LeaseName, LeaderElectionNamespace: c.opts.Namespace,
		RenewDeadline: rd, Identity: p.identity,
	})
	if err != nil {
		c.rec.add(cand.name, "cannot build lock: "+err.Error())
		p.kill()
		return
	}
	c.rec.add(cand.name, fmt.Sprintf("process started (identity %s)", p.identity))
	proc := &Process{Name: cand.name, Identity: p.identity, Config: cfg, Lock: lock,
		Timing: c.opts.Timing, ReleaseOnCancel: c.opts.ReleaseOnCancel, p: p}
	run := c.opts.Run
	if run == nil {
		run = c.runElector
	}
	c.wg.Go(func() {
		run(p.ctx, proc)
		p.stoppedLeading("")
		if !p.isGone() {
			c.rec.add(cand.name, "process exited")
		}
	})
}

// runElector is the built-in candidate: client-go's LeaderElector, joining the
// election again after a loss unless ExitOnLoss.
func (c *Cluster) runElector(ctx context.Context, p *Process) {
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(p.ElectionConfig(leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {},
			OnStoppedLeading: func() {},
		}))
		if err != nil {
			c.rec.add(p.Name, "cannot build elector: "+err.Error())
			return
		}
		le.Run(ctx)
		if c.opts.ExitOnLoss || ctx.Err() != nil {
			return
		}
	}
}

// Process is one start of a candidate, as a bring-your-own candidate
// (Options.Run) receives it.
type Process struct {
	// Name is the candidate's name ("c0", ...); Identity the lease holder
	// identity of this start.
	Name     string
	Identity string
	// Config reaches the simulated API through this candidate's network
	// (latency, faults, partitions). It has no client timeout; Lock's client
	// has the one leaderelection.NewResourceLock sets.
	Config *rest.Config
	// Lock is the lease lock from leaderelection.NewResourceLock.
	Lock resourcelock.Interface
	// Timing and ReleaseOnCancel are the run's options.
	Timing          Timing
	ReleaseOnCancel bool

	p *process
}

// Callbacks wraps cb so that the simulator sees the terms: the candidate acts
// as leader from OnStartedLeading until the context handed to it is done.
// Every bring-your-own candidate must run its elector with wrapped callbacks.
func (p *Process) Callbacks(cb leaderelection.LeaderCallbacks) leaderelection.LeaderCallbacks {
	proc := p.p
	wrapped := cb
	wrapped.OnStartedLeading = func(ctx context.Context) {
		proc.startedLeading()
		context.AfterFunc(ctx, func() { proc.stoppedLeading("") })
		if cb.OnStartedLeading != nil {
			cb.OnStartedLeading(ctx)
		}
	}
	if cb.OnStoppedLeading == nil {
		wrapped.OnStoppedLeading = func() {}
	}
	return wrapped
}

// ElectionConfig is the client-go configuration the built-in candidate runs:
// the run's timing and ReleaseOnCancel, this process's lock, and cb wrapped
// by Callbacks.
func (p *Process) ElectionConfig(cb leaderelection.LeaderCallbacks) leaderelection.LeaderElectionConfig {
	return leaderelection.LeaderElectionConfig{
		Lock:            p.Lock,
		LeaseDuration:   p.Timing.LeaseDuration,
		RenewDeadline:   p.Timing.RenewDeadline,
		RetryPeriod:     p.Timing.RetryPeriod,
		ReleaseOnCancel: p.ReleaseOnCancel,
		Name:            p.Name,
		Callbacks:       p.Callbacks(cb),
	}
}

func optionsString(o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Seed:%d Candidates:%d Timing:{LD:%v RD:%v RP:%v} Latency:%v", o.Seed, o.Candidates,
		o.Timing.LeaseDuration, o.Timing.RenewDeadline, o.Timing.RetryPeriod, o.Latency)
	flags := map[string]bool{"ReleaseOnCancel": o.ReleaseOnCancel, "NoClientTimeout": o.NoClientTimeout,
		"AllowOverlap": o.AllowOverlap, "SameInstantStart": o.SameInstantStart, "ExitOnLoss": o.ExitOnLoss}
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if flags[k] {
			fmt.Fprintf(&b, " %s:true", k)
		}
	}
	if o.Run != nil {
		b.WriteString(" Run:(custom)")
	}
	for _, f := range o.Faults {
		fmt.Fprintf(&b, " Fault:%s", faultString(f))
	}
	b.WriteString("}")
	return b.String()
}

// Object reads an object from the simulated API server's store, bypassing the
// network (no latency, no faults), for assertions in the body.
func (c *Cluster) Object(gvr schema.GroupVersionResource, namespace, name string) (runtime.Object, error) {
	return c.net.srv.Get(gvr, namespace, name)
}
