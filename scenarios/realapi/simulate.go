package realapi

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/leaderlab/leaderlab/sim"
)

// LatencyModel is sim's latency for one plan, matched to what the real server
// showed: per verb, each leg (to the server and back) is uniform between half
// the 5th and half the 95th percentile of that verb's measured round trips
// (Report.RoundTrips, pooled over the plan's real trials). A verb with fewer
// than MinLatencySamples round trips uses all verbs pooled (Default). The
// rule is fixed before any comparison; the tails beyond the 5th and 95th
// percentiles are what Tolerance allows for.
type LatencyModel struct {
	// Default is the leg of every verb without a rule of its own.
	Default sim.Dist `json:"default"`
	// ByVerb is the leg per verb ("get", "update", "create").
	ByVerb map[string]sim.Dist `json:"byVerb"`
	// RoundTrips summarises the measured round trips per verb, and "all".
	RoundTrips map[string]Summary `json:"roundTrips"`
}

// MinLatencySamples is how many measured round trips a verb needs for a
// latency rule of its own.
const MinLatencySamples = 5

// NewLatencyModel builds the model from measured round trips per verb. With
// no round trip at all it is sim's default latency.
func NewLatencyModel(roundTrips map[string][]time.Duration) LatencyModel {
	m := LatencyModel{Default: sim.DefaultLatency, ByVerb: map[string]sim.Dist{}, RoundTrips: map[string]Summary{}}
	leg := func(values []time.Duration) sim.Dist {
		s := slices.Sorted(slices.Values(values))
		return sim.Dist{Min: rank(s, 0.05) / 2, Max: rank(s, 0.95) / 2}
	}
	var all []time.Duration
	for _, verb := range slices.Sorted(mapKeys(roundTrips)) {
		values := roundTrips[verb]
		all = append(all, values...)
		m.RoundTrips[verb] = Summarize(values)
		if len(values) >= MinLatencySamples {
			m.ByVerb[verb] = leg(values)
		}
	}
	if len(all) > 0 {
		m.RoundTrips["all"] = Summarize(all)
		m.Default = leg(all)
	}
	return m
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// leg is the model's leg for verb.
func (m LatencyModel) leg(verb string) sim.Dist {
	if d, ok := m.ByVerb[verb]; ok {
		return d
	}
	return m.Default
}

// SimOptions are the sim options that reproduce plan's candidates, timing,
// client timeout and ReleaseOnCancel with latency model lat, for one seed.
// The candidates are client-go LeaderElectors on locks from
// leaderelection.NewResourceLock, each run once, as on the real server: a
// candidate that loses does not join again. Overlaps are reported, not
// violations.
func SimOptions(plan Plan, lat LatencyModel, seed int64) (sim.Options, error) {
	exp, err := plan.Scenario.Expect(plan.Options)
	if err != nil {
		return sim.Options{}, err
	}
	o := plan.Options.withDefaults()
	so := sim.Options{
		Seed: seed, Candidates: o.Candidates, Timing: sim.Timing(o.Timing),
		ReleaseOnCancel: exp.ReleaseOnCancel, NoClientTimeout: o.NoClientTimeout,
		AllowOverlap: true, Latency: lat.Default,
	}
	for _, verb := range slices.Sorted(mapKeys(lat.ByVerb)) {
		d := lat.ByVerb[verb]
		so.Faults = append(so.Faults, sim.Fault{Kind: sim.FaultLatency, Verb: verb, Request: d, Response: d})
	}
	return so, so.Validate()
}

// SimTrial is one seed of a plan in sim.
type SimTrial struct {
	Seed int64 `json:"seed"`
	Measure
	// Wall is the real time the simulated trial took; Report.Duration is its
	// virtual length.
	Wall   time.Duration `json:"wall"`
	Report *sim.Report   `json:"report"`
}

// Simulate runs one trial of plan in sim, in virtual time, with the same
// steps as a real trial: elect, wait 2.2 RetryPeriod + 2 RT so every follower
// has seen the lease, inject the fault into the leader at the same point of
// its traffic as the real harness (a crash, stop or foreign write at once; a
// slow answer to its next request; a partition the instant its next write,
// or its n-th late one, is answered), then watch the expectation's window.
// The run starts where sim starts it, at a seeded instant of the virtual
// clock's first second, as a real trial starts at any instant of its second
// (client-go's renew times are whole seconds, so the phase matters).
// It must run from a test, outside any bubble, and not at the same time as
// real trials (sim seeds client-go's jitter, which is process-wide).
func Simulate(t *testing.T, plan Plan, lat LatencyModel, seed int64) (SimTrial, error) {
	t.Helper()
	exp, err := plan.Scenario.Expect(plan.Options)
	if err != nil {
		return SimTrial{}, err
	}
	so, err := SimOptions(plan, lat, seed)
	if err != nil {
		return SimTrial{}, fmt.Errorf("realapi: %s: %w", plan.Name, err)
	}
	o := plan.Options.withDefaults()
	obs := &writeObserver{}
	so.Run = func(ctx context.Context, p *sim.Process) {
		cfg := p.ElectionConfig(leaderelection.LeaderCallbacks{})
		cfg.Lock = &observedSimLock{Interface: cfg.Lock, name: p.Name, obs: obs}
		le, err := leaderelection.NewLeaderElector(cfg)
		if err != nil {
			panic("realapi: building a sim elector: " + err.Error()) // options were validated
		}
		le.Run(ctx)
	}
	var m Measure
	var bodyErr error
	start := time.Now()
	rep := sim.Test(t, so, func(c *sim.Cluster) {
		m, bodyErr = simBody(c, o, exp, lat, obs)
	})
	wall := time.Since(start)
	if rep == nil {
		return SimTrial{}, fmt.Errorf("realapi: %s seed %d: the simulation did not run", plan.Name, seed)
	}
	if bodyErr != nil {
		return SimTrial{}, fmt.Errorf("realapi: %s seed %d: %w\n%s", plan.Name, seed, bodyErr, rep.Replay)
	}
	m.Overlaps = len(rep.Overlaps)
	got := measureTerms(rep.Terms, rep.Overlaps, m.Victim, m.Fault)
	got.Victim, got.Fault = m.Victim, m.Fault
	return SimTrial{Seed: seed, Measure: got, Wall: wall, Report: rep}, nil
}

// simBody is a real trial's steps (runTrial, inject) in virtual time.
func simBody(c *sim.Cluster, o Options, exp Expectation, lat LatencyModel, obs *writeObserver) (Measure, error) {
	t, rt, poll := o.Timing, exp.RoundTrip, o.Timing.maxPoll()
	obs.init()
	c.AwaitLeader(t.LeaseDuration + 2*poll + 10*rt)
	c.Advance(poll + 2*rt)
	leaders := c.Leaders()
	if len(leaders) != 1 {
		return Measure{}, fmt.Errorf("want one leader before the fault, have %v", leaders)
	}
	victim := leaders[0]
	cycle := 2 * (t.RetryPeriod + t.maxPoll() + 2*rt)
	var fault time.Duration
	switch exp.Scenario {
	case LeaderCrash:
		fault = c.Now()
		c.Crash(victim)
	case GracefulRelease:
		fault = c.Now()
		c.Stop(victim)
	case LeaseOverwrite:
		fault = c.Now()
		c.OverwriteLease(ForeignHolder)
	case SlowRenew:
		c.SlowNextResponse(victim, "", o.SlowResponse)
		at, err := obs.await(c, victim, 0, cycle)
		if err != nil {
			return Measure{}, err
		}
		fault = at
	case LeaderPartition, PartitionWithRelease, LateRenewThenPartition:
		n, within := 1, cycle
		if exp.Scenario == LateRenewThenPartition {
			leg := lat.leg(sim.VerbUpdate)
			c.SetLatency(victim, "", leg, sim.Dist{Min: leg.Min + o.LateResponse, Max: leg.Max + o.LateResponse})
			n = o.LateRenews
			within = time.Duration(n)*(o.LateResponse+t.RetryPeriod+2*rt) + cycle
		}
		at, err := obs.await(c, victim, n, within)
		if err != nil {
			return Measure{}, err
		}
		c.Partition(victim)
		fault = at
	default:
		return Measure{}, fmt.Errorf("unknown scenario %q", exp.Scenario)
	}
	if end := fault + exp.Window; end > c.Now() {
		c.Advance(end - c.Now())
	}
	return Measure{Victim: victim, Fault: fault}, nil
}

// writeObserver tells the body of a simulation the virtual instant a
// candidate's next lease write is sent (n == 0) or its n-th successful lease
// write sent after arming is answered: the instants the real harness's
// transport fires its faults at.
type writeObserver struct {
	mu      sync.Mutex
	start   time.Time
	name    string
	n       int // 0: fire on the next send; > 0: writes still to be answered
	armedAt time.Time
	fired   chan time.Duration // made inside the bubble
}

func (o *writeObserver) init() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fired = make(chan time.Duration, 1)
}

// await arms the observer for name and waits at most within (virtual) for it
// to fire; it returns the offset it fired at.
func (o *writeObserver) await(c *sim.Cluster, name string, n int, within time.Duration) (time.Duration, error) {
	o.mu.Lock()
	o.name, o.n, o.armedAt, o.start = name, n, time.Now(), c.StartTime()
	ch := o.fired
	o.mu.Unlock()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case at := <-ch:
		return at, nil
	case <-timer.C:
		return 0, fmt.Errorf("the fault on %s's traffic did not fire within %v", name, within)
	}
}

func (o *writeObserver) sending(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.name == name && o.n == 0 {
		o.fireLocked()
	}
}

func (o *writeObserver) wrote(name string, sent time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.name == name && o.n > 0 && !sent.Before(o.armedAt) {
		o.n--
		if o.n == 0 {
			o.fireLocked()
		}
	}
}

func (o *writeObserver) fireLocked() {
	o.fired <- time.Since(o.start)
	o.name = "" // one shot
}

// observedSimLock is a sim candidate's lock, unchanged, reporting its writes
// to the observer.
type observedSimLock struct {
	resourcelock.Interface
	name string
	obs  *writeObserver
}

func (l *observedSimLock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	return l.write(func() error { return l.Interface.Create(ctx, ler) })
}

func (l *observedSimLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	return l.write(func() error { return l.Interface.Update(ctx, ler) })
}

func (l *observedSimLock) write(do func() error) error {
	sent := time.Now()
	l.obs.sending(l.name)
	err := do()
	if err == nil {
		l.obs.wrote(l.name, sent)
	}
	return err
}
