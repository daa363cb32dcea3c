package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leaderlab/leaderlab/internal/gotest"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
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
	rep, _ := simulate(t, opts, body, false)
	if rep != nil && len(rep.Violations) > 0 {
		t.Errorf("sim: %d invariant violation(s):\n%s\nlast trace lines:\n%s\n%s",
			len(rep.Violations), strings.Join(rep.Violations, "\n"), tail(rep.Trace, 25), rep.Replay)
	}
	return rep
}

// Try runs one simulated cluster as Test does, but fails nothing: for a
// search over many runs (package explore), where a failing run is a finding.
// Invalid options, a failed Cluster call in body (Cluster.Fatalf, a bad
// fault, no leader in time) and invariant violations are its error; the
// report is returned whenever the run started. A panic in body other than
// a failed Cluster call is not caught.
func Try(t *testing.T, opts Options, body func(c *Cluster)) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, errors.New("sim: Try needs a body")
	}
	rep, err := simulate(t, opts, body, true)
	if rep != nil && len(rep.Violations) > 0 {
		err = errors.Join(err, fmt.Errorf("sim: %d invariant violation(s):\n%s", len(rep.Violations), strings.Join(rep.Violations, "\n")))
	}
	return rep, err
}

// simulate runs body in a bubble on the simulated network. soft makes a
// failed Cluster call end body with the returned error instead of failing t.
func simulate(t *testing.T, opts Options, body func(c *Cluster), soft bool) (rep *Report, err error) {
	name := t.Name()
	synctest.Test(t, func(bt *testing.T) {
		time.Sleep(startPhase(opts.Seed))
		c := newCluster(bt, opts.WithDefaults())
		c.soft = soft
		c.replay = replayHint(name)
		net, nerr := newNetwork(c)
		if nerr != nil {
			if soft {
				err = nerr
				return
			}
			bt.Fatal(nerr)
		}
		c.api = net
		c.wg.Go(net.loop)
		c.run = beginRun(c)
		defer func() { rep = c.finish() }()
		c.begin()
		err = c.runBody(body)
	})
	return rep, err
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

// Cluster is a cluster of candidates as the body of Test or Real sees it: in
// virtual time in the simulator, in real time on a real API server. Its
// methods must be called from the body's goroutine only. A method that fails
// (a bad fault, no leader in time) ends the body: in the simulator it fails
// the test, on a real server Real returns the error.
type Cluster struct {
	t      *testing.T      // the bubble's test; nil on a real server
	soft   bool            // a failed call ends the body with an error, not t (Try)
	ctx    context.Context // bounds a run on a real server
	opts   Options
	start  time.Time
	replay string
	rec    *recorder
	rules  *rules
	clock  storeClock // when the store reached each version (lagging replicas)
	api    backend
	cands  []*candidate
	byName map[string]*candidate
	run    *activeRun // the simulator's claim on the global math/rand
	wg     sync.WaitGroup
	// streams are the open watch streams, with their candidates' names.
	streams sync.Map

	holderMu    sync.Mutex
	holder      string // lease holder identity as last stored
	holderKnown bool

	revision int // rolling updates so far

	procsMu sync.Mutex
	procs   []*process // every process started, for the end of the run

	mapperOnce sync.Once
	mapper     meta.RESTMapper
	mapperErr  error

	clientOnce sync.Once
	client     client.Client
	clientErr  error
}

// candidate is a named replica; each start makes a new process.
type candidate struct {
	idx  int
	name string

	mu       sync.Mutex
	proc     *process
	identity string
	starts   int
	backoff  time.Duration // the last restart delay (Options.Restart)
}

// current is the candidate's latest process (nil before the first start).
func (cand *candidate) current() *process {
	cand.mu.Lock()
	defer cand.mu.Unlock()
	return cand.proc
}

func newCluster(t *testing.T, opts Options) *Cluster {
	c := &Cluster{t: t, opts: opts, start: time.Now(), rules: newRules(), byName: make(map[string]*candidate)}
	c.rec = newRecorder(c.start, opts.AllowOverlap)
	for i := range opts.Candidates {
		cand := &candidate{idx: i, name: CandidateName(i), identity: CandidateName(i)}
		c.cands = append(c.cands, cand)
		c.byName[cand.name] = cand
	}
	return c
}

// begin schedules the candidates' starts and the fault plan.
func (c *Cluster) begin() {
	simRng := rand.New(rand.NewPCG(uint64(c.opts.Seed), 0))
	for _, cand := range c.cands {
		at := c.start
		if !c.opts.SameInstantStart {
			// A few milliseconds apart, at instants drawn from the seed,
			// so that no two candidates draw client-go's jitter at once.
			at = at.Add(time.Duration(cand.idx)*time.Millisecond + time.Duration(simRng.Int64N(int64(time.Millisecond))))
		}
		c.api.schedule(at, -1, 0, func() { c.startProcess(cand, "") })
	}
	for i, f := range c.opts.Faults {
		c.api.schedule(c.start.Add(f.At), -1, 0, func() {
			switch err := c.inject(f, i+1); {
			case errors.Is(err, errNoLeader) && c.opts.SkipLeaderlessFaults:
				c.rec.add("sim", fmt.Sprintf("Faults[%d] skipped: %v", i, err))
			case err != nil:
				c.rec.violation("Faults[%d]: %v", i, err)
			}
		})
	}
}

// finish ends the run: it freezes the report, stops every process and the
// backend, and waits for all their goroutines.
func (c *Cluster) finish() *Report {
	c.rec.freeze()
	for _, cand := range c.cands {
		if p := cand.current(); p != nil {
			p.kill()
		}
	}
	c.api.stop()
	if stuck := c.awaitExits(); len(stuck) > 0 {
		c.reportStuck(stuck)
		if c.run != nil {
			c.run.end() // release the run's claim: the run is over, stuck or not
		}
		return c.Report()
	}
	c.wg.Wait()
	rep := c.Report()
	if c.run != nil {
		rep.ReplayExact, rep.ReplayNote = c.run.end()
		if rep.ReplayExact && c.opts.SameInstantStart && c.opts.Latency.Min == c.opts.Latency.Max {
			rep.ReplayExact, rep.ReplayNote = false, "SameInstantStart with a fixed Latency: candidates may draw client-go's jitter at the same instant"
		}
	}
	return rep
}

// Report returns the report of the run so far (the final one after the run).
func (c *Cluster) Report() *Report {
	rep := c.rec.snapshot()
	rep.Seed = c.opts.Seed
	rep.Options = c.opts
	rep.Options.Faults = append([]Fault(nil), c.opts.Faults...)
	rep.ReplayExact = c.run != nil
	var noReplay string
	if rep.Backend, noReplay = c.api.describe(); noReplay != "" {
		rep.ReplayNote = noReplay
	}
	rep.Replay = c.replay
	if !c.api.simulated() {
		// What the write did is not known: a stale write that did not
		// name the version it was based on may have undone anything.
		for i := range rep.StaleWrites {
			rep.StaleWrites[i].Harmful = !rep.StaleWrites[i].Write.Guarded
		}
	}
	return rep
}

// replayHint is the command that runs exactly the test named testName
// again.
func replayHint(testName string) string { return "replay: " + gotest.Command(testName) }

// Fatalf ends the body with a failure of the caller's: in the simulator it
// fails the test, and Real returns it as its error.
func (c *Cluster) Fatalf(format string, args ...any) {
	c.helper()()
	c.fatalf(format, args...)
}

// fatalf ends the body: it fails the simulator's test, or makes Real return
// the error.
func (c *Cluster) fatalf(format string, args ...any) {
	if c.t != nil && !c.soft {
		c.t.Helper()
		c.t.Fatalf(format, args...)
		return
	}
	panic(abort{fmt.Errorf(format, args...)})
}

// helper returns the test's Helper, to be called at once by the method that
// calls helper (c.helper()()), so that failures point at the body's line; a
// no-op on a real server.
func (c *Cluster) helper() func() {
	if c.t == nil {
		return func() {}
	}
	return c.t.Helper
}

// abort carries a failure of the body out of it on a real server and in
// Try.
type abort struct{ err error }

// runBody calls body and returns the failure that ended it, if one did.
func (c *Cluster) runBody(body func(c *Cluster)) (err error) {
	defer func() {
		if v := recover(); v != nil {
			a, ok := v.(abort)
			if !ok {
				panic(v)
			}
			err = a.err
		}
	}()
	body(c)
	return nil
}

// settle lets everything due at this instant happen first: in the simulator,
// until every goroutine of the bubble is blocked; on a real server there is
// no such instant and it returns at once.
func (c *Cluster) settle() {
	if c.api.simulated() {
		synctest.Wait()
	}
}

// Now is the time since the start of the run.
func (c *Cluster) Now() time.Duration { return time.Since(c.start) }

// Advance lets d pass (virtual time in the simulator), then lets everything
// due at the new instant happen before it returns.
func (c *Cluster) Advance(d time.Duration) {
	c.sleep(d)
	c.settle()
}

// sleep waits d; on a real server it ends the body when the run's context
// ends first.
func (c *Cluster) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	if c.ctx == nil {
		time.Sleep(d)
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-c.ctx.Done():
		c.fatalf("sim: the run's context ended at %s: %w", c.offset(time.Now()), c.ctx.Err())
	}
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

// Holder is the holder identity the stored lease names now ("" if none), as
// the simulator stored it or the last answer from a real server showed it.
func (c *Cluster) Holder() string {
	c.holderMu.Lock()
	defer c.holderMu.Unlock()
	return c.holder
}

// AwaitLeader waits at most within for a candidate to act as leader and
// returns it. When none does it ends the body with the trace tail.
func (c *Cluster) AwaitLeader(within time.Duration) string {
	c.helper()()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	var done <-chan struct{}
	if c.ctx != nil {
		done = c.ctx.Done()
	}
	for {
		c.settle()
		leaders, ch := c.rec.leaders()
		if len(leaders) > 0 {
			return leaders[0]
		}
		select {
		case <-ch:
		case <-done:
			c.fatalf("sim: the run's context ended while waiting for a leader: %w", c.ctx.Err())
		case <-deadline.C:
			c.settle()
			if l := c.Leader(); l != "" {
				return l
			}
			rep := c.Report()
			// A violation (a setup that failed, a request the server could not
			// serve) is usually why: say it first.
			var why string
			if len(rep.Violations) > 0 {
				why = "; invariant violations first:\n" + strings.Join(rep.Violations, "\n")
			}
			c.fatalf("sim: no leader within %v (time %v, seed %d)%s\nlast trace lines:\n%s%s",
				within, c.Now(), c.opts.Seed, why, tail(rep.Trace, 25), rep.Replay)
			return ""
		}
	}
}

// T is the bubble's *testing.T in the simulator (use it, not the outer
// test's, to fail from inside the body); nil on a real server.
func (c *Cluster) T() *testing.T { return c.t }

// Crash ends the candidate's process at once: it stops acting as leader now,
// its later requests never arrive and it cannot release the lease; requests it
// already sent still arrive. A crashed candidate stays down until Start.
// name may be Leader.
func (c *Cluster) Crash(name string) {
	c.helper()()
	c.Inject(Fault{Kind: FaultCrash, Candidate: name})
}

// Stop cancels the candidate's context, as a graceful shutdown does: with
// ReleaseOnCancel client-go releases the lease. name may be Leader.
func (c *Cluster) Stop(name string) {
	c.helper()()
	c.Inject(Fault{Kind: FaultStop, Candidate: name})
}

// Start starts a stopped or crashed candidate again with its last identity.
func (c *Cluster) Start(name string) {
	c.helper()()
	c.Inject(Fault{Kind: FaultStart, Candidate: name})
}

// StartAs starts a stopped or crashed candidate again with a new identity, as
// a replacement pod with a new name would.
func (c *Cluster) StartAs(name, identity string) {
	c.helper()()
	c.Inject(Fault{Kind: FaultStart, Candidate: name, Identity: identity})
}

// Partition cuts the candidate off from the API both ways until Heal:
// requests it sends, and answers to requests already under way, are lost.
// name may be Leader.
func (c *Cluster) Partition(name string) {
	c.helper()()
	c.Inject(Fault{Kind: FaultPartition, Candidate: name})
}

// Heal ends the candidate's partition.
func (c *Cluster) Heal(name string) {
	c.helper()()
	if !knownCandidate(name, len(c.cands)) {
		c.fatalf("sim: Heal: %v", unknownCandidate(name, len(c.cands)))
	}
	c.heal(name)
}

// SetLatency sets the legs' latency for requests from candidate (all when
// empty) with verb (all when empty). A zero Dist means Options.Latency. The
// most recently set matching rule wins.
func (c *Cluster) SetLatency(candidate, verb string, request, response Dist) {
	c.helper()()
	c.Inject(Fault{Kind: FaultLatency, Candidate: candidate, Verb: verb, Request: request, Response: response})
}

// SlowNextResponse answers the next matching request after d instead of its
// response leg. The server applies the request when it arrives, so a client
// that gives up earlier has still written.
func (c *Cluster) SlowNextResponse(candidate, verb string, d time.Duration) {
	c.helper()()
	c.Inject(Fault{Kind: FaultSlowResponse, Candidate: candidate, Verb: verb, Delay: d})
}

// SetErrors answers a rate share of matching requests with code (500, 503 or
// 429; the last two with Retry-After when retryAfter > 0) without applying
// them. Rate 0 removes the rule for that candidate and verb.
func (c *Cluster) SetErrors(candidate, verb string, code int, rate float64, retryAfter time.Duration) {
	c.helper()()
	c.Inject(Fault{Kind: FaultErrors, Candidate: candidate, Verb: verb, Code: code, Rate: rate, RetryAfter: retryAfter})
}

// Outage refuses every connection for d: requests fail fast.
func (c *Cluster) Outage(d time.Duration) {
	c.helper()()
	c.Inject(Fault{Kind: FaultOutage, For: d})
}

// BlackHole makes the API answer nothing for d: requests and responses vanish
// and clients wait for their timeouts.
func (c *Cluster) BlackHole(d time.Duration) {
	c.helper()()
	c.Inject(Fault{Kind: FaultBlackHole, For: d})
}

// DeleteLease deletes the lease, as a foreign writer would.
func (c *Cluster) DeleteLease() {
	c.helper()()
	c.Inject(Fault{Kind: FaultDeleteLease})
}

// OverwriteLease writes holder as the lease holder, unconditionally, as a
// foreign writer would.
func (c *Cluster) OverwriteLease(holder string) {
	c.helper()()
	c.Inject(Fault{Kind: FaultOverwriteLease, Identity: holder})
}

// Inject applies f now (f.At is ignored). A bad fault, or one aimed at the
// leader when none acts, ends the body with the message Options.Validate
// gives.
func (c *Cluster) Inject(f Fault) {
	c.helper()()
	f.At = 0
	if err := f.validate(len(c.cands)); err != nil {
		c.fatalf("sim: %v", err)
	}
	if why := c.api.refuses(f.Kind); why != "" {
		c.fatalf("sim: %s needs the simulated API server: %s", f.Kind, why)
	}
	if err := c.inject(f, 0); err != nil {
		c.fatalf("sim: %v", err)
	}
}

// Overload limits the API server to inFlight requests at once, each served
// for service, with a queue in which a request waits at most queueWait
// before it is answered 429, for d (0: until the end of the run); see
// FaultOverload.
func (c *Cluster) Overload(inFlight int, service, queueWait, d time.Duration) {
	c.helper()()
	c.Inject(Fault{Kind: FaultOverload, InFlight: inFlight, Service: service, QueueWait: queueWait, For: d})
}

// RestartAPIServer breaks every open watch at once and makes the server
// forget its watch history, so that clients list again; see FaultAPIRestart.
func (c *Cluster) RestartAPIServer() {
	c.helper()()
	c.Inject(Fault{Kind: FaultAPIRestart})
}

// StartTime is the wall-clock instant the run started at (virtual in the
// simulator).
func (c *Cluster) StartTime() time.Time { return c.start }

// AddObjects stores objects in the simulated API server, as if created
// before the run. On a real server it is an error: create them with a client.
func (c *Cluster) AddObjects(objs ...runtime.Object) error {
	for _, obj := range objs {
		if err := c.api.addObject(obj); err != nil {
			return fmt.Errorf("sim: AddObjects: %w", err)
		}
	}
	return nil
}

func (c *Cluster) offset(t time.Time) string { return strings.TrimSpace(formatOffset(t.Sub(c.start))) }

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
// network (no latency, no faults), for assertions in the body. On a real
// server it is an error: read it with a client.
func (c *Cluster) Object(gvr schema.GroupVersionResource, namespace, name string) (runtime.Object, error) {
	return c.api.object(gvr, namespace, name)
}

// Client is an actor outside the election, like kubectl: a
// controller-runtime client (with Options.Scheme) that reaches the API server
// directly, with no latency, faults or partitions, to create, update and
// delete the objects the candidates' controllers reconcile. Its writes are in
// Report.Writes as Outside's.
func (c *Cluster) Client() client.Client {
	c.helper()()
	c.clientOnce.Do(func() {
		cfg := c.api.outside()
		cfg.Wrap(func(next http.RoundTripper) http.RoundTripper { return outsideWrites{c: c, next: next} })
		s := c.opts.Scheme
		if s == nil {
			s = scheme.Scheme
		}
		c.client, c.clientErr = client.New(cfg, client.Options{Scheme: s})
	})
	if c.clientErr != nil {
		c.fatalf("sim: Client: %v", c.clientErr)
	}
	return c.client
}

// TerminationGrace is how long RollingUpdate waits for a stopped process to
// exit before it kills it: a pod's default terminationGracePeriodSeconds.
const TerminationGrace = 30 * time.Second

// RollingUpdate replaces the candidates' processes one by one, in order, as
// a Deployment's rolling update with maxSurge 0 and maxUnavailable 1 does:
// each is stopped (its context cancelled, so a manager with ReleaseOnCancel
// releases the lease) and, once its process has exited (killed after
// TerminationGrace), started again with a new identity, its name and the
// revision ("c0-2" for the first update); then ready passes before the next
// one is stopped. It returns when the last new process has started and ready
// has passed.
func (c *Cluster) RollingUpdate(ready time.Duration) {
	c.helper()()
	c.revision++
	for _, cand := range c.cands {
		c.Stop(cand.name)
		if p := cand.current(); p != nil {
			grace := time.NewTimer(TerminationGrace)
			select {
			case <-p.exited:
			case <-grace.C:
				// A process that exits at the grace's last instant (a
				// manager's own 30 s shutdown timeout) has exited: let the
				// instant happen first, so that select's choice does not decide.
				c.settle()
				if !chanClosed(p.exited) {
					c.rec.add("sim", fmt.Sprintf("%s did not exit within %v of its stop", cand.name, TerminationGrace))
					c.Crash(cand.name)
				}
			}
			grace.Stop()
		}
		c.StartAs(cand.name, fmt.Sprintf("%s-%d", cand.name, c.revision+1))
		c.Advance(ready)
	}
}
