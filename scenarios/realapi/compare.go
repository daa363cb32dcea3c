package realapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/leaderlab/leaderlab/internal/stats"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// The agreement criterion of Compare, fixed before any run.
//
// A plan agrees when both hold:
//
//  1. Outcome: every real trial's outcome (how the leader's term ended,
//     whether another candidate took over, whether two acted at once) is an
//     outcome that at least one simulated seed shows.
//  2. Timing: every real takeover, step-down and overlap length lies inside
//     the simulator's envelope [sim min - Tolerance, sim max + Tolerance],
//     over CompareOptions.SimSeeds seeds.
//
// Why an envelope and not a rank test as the verdict: with the few real
// trials a CI run can afford (3 per plan) no rank test can reject at a useful
// significance, so it would pass anything; with many trials a rank test
// rejects for shifts of a few milliseconds that are the real machine's cost
// (timer wake-ups, HTTP, etcd, the race detector), not a simulator error. The
// envelope asks what matters for a fidelity claim: does the real server do
// anything the simulator never does, by more than the jitter one round trip
// allows? Many more seeds than trials (100 x by default) make the envelope the
// simulator's range rather than a sample of it: with 20 x, the error storm's
// long-tailed takeover (it depends on which requests of a random storm fail)
// left one real value of ten 0.1 s beyond the 200 seeds' range, which 1,000
// seeds covered. The Mann-Whitney p-value is
// reported next to it as a diagnostic: below ShiftSignificance it flags a
// shift to explain, with the difference of the medians.
const (
	// DefaultTolerance is the allowance for real-world jitter on each side of
	// the simulator's envelope: one round-trip allowance of the bounds
	// (scenarios.DefaultAllowance).
	DefaultTolerance = scenarios.DefaultAllowance
	// CITolerance is the tolerance of the small comparison every `go test`
	// runs, where the real trials run under the race detector on a loaded
	// two-core machine, three at once. Each compared length is set by up to
	// three requests whose real timing the latency model follows only to the
	// 95th percentile: the leader's last renew (or its release), and the
	// taking-over follower's get and update; any of them, and the timer that
	// starts it, may stall by up to one allowance beyond that.
	CITolerance = 3 * DefaultTolerance
	// ShiftSignificance is the Mann-Whitney p-value under which a metric is
	// reported as shifted.
	ShiftSignificance = 0.01
	// DefaultSimSeedsPerTrial is how many simulated seeds Compare runs per
	// real trial by default.
	DefaultSimSeedsPerTrial = 100
)

// Plan is one catalog entry with the Config it runs under: one row of a
// fidelity run. The same plan runs on both backends.
type Plan struct {
	// Name is short and unique within a list of plans: the scenario's ID,
	// then "/" and what differs from DefaultTiming.
	Name     string             `json:"name"`
	Scenario scenarios.Scenario `json:"-"`
	Config   scenarios.Config   `json:"config"`
}

// DefaultTiming is the timing of the fidelity plans: 3s/2s/500ms, client
// timeout 1s, margin LD - RD - RP = 500ms, so that a real trial takes seconds.
var DefaultTiming = sim.Timing{LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 500 * time.Millisecond}

// OverlapTiming is a timing under which client-go's arithmetic predicts an
// overlap in every trial of the two margin-breaking plans (pending release,
// late answer), while the plain partition keeps a positive margin:
// 4s/3.6s/100ms, client timeout 1.8s, margin 300ms.
var OverlapTiming = sim.Timing{LeaseDuration: 4 * time.Second, RenewDeadline: 3600 * time.Millisecond, RetryPeriod: 100 * time.Millisecond}

// ValidationPlans are the plans of the fidelity run: each catalog entry with
// a fault (server errors and outages included) at DefaultTiming with three
// candidates, and the three partition plans also at OverlapTiming.
func ValidationPlans() []Plan {
	cfg := scenarios.Config{Timing: DefaultTiming, Candidates: 3}
	overlap := cfg
	overlap.Timing = OverlapTiming
	var plans []Plan
	for _, s := range []scenarios.Scenario{
		scenarios.LeaderCrash, scenarios.GracefulHandover, scenarios.SlowRenew, scenarios.SlowRenewWithoutClientTimeout,
		scenarios.PartitionedLeader, scenarios.PartitionedLeaderWithRelease, scenarios.LateRenewsThenPartition,
		scenarios.LeaseOverwritten, scenarios.ShortOutage, scenarios.LongOutage, scenarios.ErrorStorm,
	} {
		plans = append(plans, Plan{Name: s.ID, Scenario: s, Config: cfg})
	}
	for _, s := range []scenarios.Scenario{scenarios.PartitionedLeader, scenarios.PartitionedLeaderWithRelease, scenarios.LateRenewsThenPartition} {
		plans = append(plans, Plan{Name: s.ID + "/overlap-timing", Scenario: s, Config: overlap})
	}
	return plans
}

// CompareOptions configure Compare. Zero values mean the documented defaults.
type CompareOptions struct {
	// Plans to compare; nil means ValidationPlans().
	Plans []Plan
	// Trials is the number of real trials per plan; zero means 10.
	Trials int
	// SimSeeds is the number of simulated seeds per plan; zero means
	// DefaultSimSeedsPerTrial x Trials.
	SimSeeds int
	// Parallel is how many real trials of a plan run at once (each on a
	// lease of its own); zero means min(Trials, 4).
	Parallel int
	// Tolerance widens the simulator's envelope on each side; zero means
	// DefaultTolerance.
	Tolerance time.Duration
	// Progress, when set, gets one line per plan as it completes.
	Progress io.Writer
}

func (o CompareOptions) withDefaults() CompareOptions {
	if o.Plans == nil {
		o.Plans = ValidationPlans()
	}
	o.Trials = cmp.Or(o.Trials, 10)
	o.SimSeeds = cmp.Or(o.SimSeeds, DefaultSimSeedsPerTrial*o.Trials)
	o.Parallel = cmp.Or(o.Parallel, min(o.Trials, 4))
	o.Tolerance = cmp.Or(o.Tolerance, DefaultTolerance)
	return o
}

func (o CompareOptions) validate() error {
	for name, v := range map[string]int{"Trials": o.Trials, "SimSeeds": o.SimSeeds, "Parallel": o.Parallel} {
		if v < 0 {
			return fmt.Errorf("realapi: CompareOptions.%s (%d) must not be negative", name, v)
		}
	}
	if o.Tolerance < 0 {
		return fmt.Errorf("realapi: CompareOptions.Tolerance (%v) must not be negative", o.Tolerance)
	}
	seen := map[string]bool{}
	for i, p := range o.withDefaults().Plans {
		switch {
		case p.Name == "" || seen[p.Name]:
			return fmt.Errorf("realapi: CompareOptions.Plans[%d]: Name (%q) must be set and unique", i, p.Name)
		case p.Scenario.Fault == "":
			return fmt.Errorf("realapi: CompareOptions.Plans[%d] (%s): scenario %q has no Fault to measure from", i, p.Name, p.Scenario.ID)
		}
		seen[p.Name] = true
		if err := p.Scenario.Params(p.Config, 1).Options.Validate(); err != nil {
			return fmt.Errorf("realapi: CompareOptions.Plans[%d] (%s): %w", i, p.Name, err)
		}
	}
	return nil
}

// Measure is what one trial measured, on either backend. Durations count
// from the plan's fault (the first span of Scenario.Fault); -1 means it did
// not happen before the run ended.
type Measure struct {
	// Victim is the candidate the fault hit, or that led when it began.
	Victim string `json:"victim"`
	// Fault is the offset of the fault in the report.
	Fault time.Duration `json:"fault"`
	// Takeover is when another candidate first started acting as leader.
	Takeover time.Duration `json:"takeover"`
	// StepDown is when the victim's term ended.
	StepDown time.Duration `json:"stepDown"`
	// VictimEnd is how the victim's term ended (Term.EndCause).
	VictimEnd string `json:"victimEnd"`
	// Overlap is the longest time two candidates acted as leader at once,
	// and Overlaps how many times they did.
	Overlap  time.Duration `json:"overlap"`
	Overlaps int           `json:"overlaps"`
}

// measure reads a trial's numbers off its report.
func measure(rep *sim.Report, kind sim.FaultKind) (Measure, error) {
	i := slices.IndexFunc(rep.Faults, func(f sim.FaultSpan) bool { return f.Kind == kind })
	if i < 0 {
		return Measure{}, fmt.Errorf("the run has no %s fault", kind)
	}
	f := rep.Faults[i]
	m := Measure{Victim: f.Candidate, Fault: f.Start, Takeover: -1, StepDown: -1, Overlaps: len(rep.Overlaps)}
	if m.Victim == "" {
		for _, t := range rep.Terms {
			if t.Start <= f.Start && t.End >= f.Start {
				m.Victim = t.Candidate
				break
			}
		}
	}
	for _, t := range rep.Terms {
		if t.Candidate == m.Victim && t.Start <= f.Start && t.End >= f.Start && m.VictimEnd == "" {
			m.VictimEnd = t.EndCause
			if t.EndCause != sim.EndRunning {
				m.StepDown = t.End - f.Start
			}
		}
		if t.Candidate != m.Victim && t.Start >= f.Start && m.Takeover < 0 {
			m.Takeover = t.Start - f.Start
		}
	}
	for _, o := range rep.Overlaps {
		m.Overlap = max(m.Overlap, o.Duration)
	}
	return m, nil
}

// outcome names a trial's outcome: how the leader's term ended, whether
// another candidate took over, whether two acted at once.
func outcome(m Measure) string {
	s := m.VictimEnd
	if m.Takeover >= 0 {
		s += ", takeover"
	} else {
		s += ", no takeover"
	}
	if m.Overlaps > 0 {
		s += ", overlap"
	}
	return s
}

func countOutcomes(trials []Trial) map[string]int {
	out := map[string]int{}
	for _, t := range trials {
		out[outcome(t.Measure)]++
	}
	return out
}

// Trial is one run of a plan on one backend.
type Trial struct {
	Seed int64 `json:"seed"`
	Measure
	// Wall is the real time the run took; Report.Duration its length on its
	// own clock (virtual in the simulator).
	Wall time.Duration `json:"wall"`
	// Missed says how the run missed the catalog's expectations
	// (Scenario.Expect), if it did.
	Missed string      `json:"missed,omitempty"`
	Report *sim.Report `json:"report,omitempty"`
}

// Comparison is the result of Compare.
type Comparison struct {
	// Date is when the comparison ran; Machine describes where.
	Date      time.Time         `json:"date"`
	Machine   string            `json:"machine"`
	Trials    int               `json:"trials"`
	SimSeeds  int               `json:"simSeeds"`
	Tolerance time.Duration     `json:"tolerance"`
	Plans     []*PlanComparison `json:"plans"`
}

// PlanComparison is one plan on both backends.
type PlanComparison struct {
	Plan   Plan       `json:"plan"`
	Timing sim.Timing `json:"timing"`
	// Latency is the simulator's latency, measured from the real trials.
	Latency LatencyModel `json:"latency"`
	Real    []Trial      `json:"real"`
	Sim     []Trial      `json:"sim"`
	// RealWall and SimWall sum the trials' wall times; RealElapsed is the
	// real side's wall time with Parallel trials at once.
	RealWall     time.Duration  `json:"realWall"`
	RealElapsed  time.Duration  `json:"realElapsed"`
	SimWall      time.Duration  `json:"simWall"`
	RealOutcomes map[string]int `json:"realOutcomes"`
	SimOutcomes  map[string]int `json:"simOutcomes"`
	// Metrics compares takeover, step-down and overlap length.
	Metrics []MetricComparison `json:"metrics"`
	// OutcomeAgrees is criterion 1, Agrees both criteria; Differences says
	// in words every way the sides differ, shifts the rank test flags and
	// runs that missed the catalog's expectations included.
	OutcomeAgrees bool     `json:"outcomeAgrees"`
	Agrees        bool     `json:"agrees"`
	Differences   []string `json:"differences,omitempty"`
}

// MetricComparison is one measured quantity on both sides.
type MetricComparison struct {
	// Name is "takeover", "step-down" or "overlap".
	Name       string          `json:"name"`
	Real       stats.Summary   `json:"real"`
	Sim        stats.Summary   `json:"sim"`
	RealValues []time.Duration `json:"realValues"`
	SimValues  []time.Duration `json:"simValues"`
	// Envelope is [sim min - Tolerance, sim max + Tolerance]; Outside are the
	// real values outside it.
	Envelope scenarios.Window `json:"envelope"`
	Outside  []time.Duration  `json:"outside,omitempty"`
	// MannWhitneyP is the rank test's two-sided p-value; -1 when it cannot
	// be computed (fewer than 3 values on a side, or all tied).
	MannWhitneyP float64 `json:"mannWhitneyP"`
	// Shift is the real median minus the sim median.
	Shift time.Duration `json:"shift"`
}

// Agrees reports criterion 2 for this metric.
func (m MetricComparison) Agrees() bool { return len(m.Outside) == 0 && (m.Real.N == 0 || m.Sim.N > 0) }

// Agrees reports whether every plan agrees.
func (c *Comparison) Agrees() bool {
	for _, p := range c.Plans {
		if !p.Agrees {
			return false
		}
	}
	return len(c.Plans) > 0
}

// Err is nil when every plan agrees, else an error listing the differences.
func (c *Comparison) Err() error {
	var errs []error
	for _, p := range c.Plans {
		if !p.Agrees {
			errs = append(errs, fmt.Errorf("realapi: %s: the real server and the simulator disagree: %s", p.Plan.Name, strings.Join(p.Differences, "; ")))
		}
	}
	if len(c.Plans) == 0 {
		errs = append(errs, errors.New("realapi: no plan was compared"))
	}
	return errors.Join(errs...)
}

// Compare runs every plan Trials times on the real API server cfg reaches
// and SimSeeds times in the simulator, each run the catalog entry's own plan,
// with the simulator's latency matched to the round trips the real trials
// measured (LatencyModel), and judges outcomes and failover times by the
// criterion above. Overlaps are measured, not failures, on both sides. The
// real trials of a plan run first, then its seeds, never at once: the
// simulator seeds client-go's jitter, which is process-wide. t is the test the
// simulations run in (each is a synctest bubble); an invariant violation in a
// simulation fails it. The error is for bad input and for runs that could not
// complete; disagreement is in the result (Comparison.Agrees).
func Compare(ctx context.Context, t *testing.T, cfg *rest.Config, opts CompareOptions) (*Comparison, error) {
	t.Helper()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	c := &Comparison{
		Date:    time.Now().UTC(),
		Machine: fmt.Sprintf("%d cores (GOMAXPROCS %d), %s/%s, %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version()),
		Trials:  o.Trials, SimSeeds: o.SimSeeds, Tolerance: o.Tolerance,
	}
	for _, plan := range o.Plans {
		pc, err := comparePlan(ctx, t, cfg, plan, o)
		if err != nil {
			return c, fmt.Errorf("realapi: %s: %w", plan.Name, err)
		}
		c.Plans = append(c.Plans, pc)
		if o.Progress != nil {
			verdict := "agrees"
			if !pc.Agrees {
				verdict = "DIFFERS: " + strings.Join(pc.Differences, "; ")
			}
			fmt.Fprintf(o.Progress, "realapi: %-36s real %2d trials in %6.1fs, sim %4d seeds in %5.1fs: %s\n",
				plan.Name, len(pc.Real), pc.RealElapsed.Seconds(), len(pc.Sim), pc.SimWall.Seconds(), verdict)
		}
	}
	return c, nil
}

func comparePlan(ctx context.Context, t *testing.T, cfg *rest.Config, plan Plan, o CompareOptions) (*PlanComparison, error) {
	t.Helper()
	s := plan.Scenario
	pc := &PlanComparison{Plan: plan, Timing: s.Params(plan.Config, 1).Options.Timing}
	start := time.Now()
	pc.Real = make([]Trial, o.Trials)
	errs := make([]error, o.Trials)
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i := range o.Trials {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p := s.RealParams(plan.Config, int64(i+1))
			p.Options.AllowOverlap = true
			began := time.Now()
			rep, err := sim.Real(ctx, cfg, p.Options, func(c *sim.Cluster) { s.Plan(c, p) })
			if err != nil {
				errs[i] = fmt.Errorf("real trial %d: %w", i, err)
				return
			}
			pc.Real[i], errs[i] = trial(s, p, rep, time.Since(began))
		})
	}
	wg.Wait()
	pc.RealElapsed = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var rtts []time.Duration
	for _, tr := range pc.Real {
		pc.RealWall += tr.Wall
		for _, v := range tr.Report.RoundTrips {
			rtts = append(rtts, v...)
		}
	}
	pc.Latency = NewLatencyModel(rtts)
	simCfg := plan.Config
	simCfg.Latency = pc.Latency.Leg
	for i := range o.SimSeeds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := s.Params(simCfg, int64(i+1))
		p.Options.AllowOverlap = true
		began := time.Now()
		rep := sim.Test(t, p.Options, func(c *sim.Cluster) { s.Plan(c, p) })
		if rep == nil {
			return nil, fmt.Errorf("seed %d: the simulation did not run (see the test log)", i+1)
		}
		tr, err := trial(s, p, rep, time.Since(began))
		if err != nil {
			return nil, fmt.Errorf("seed %d: %w", i+1, err)
		}
		tr.Report = nil // many times the real trials: keep the numbers only
		pc.SimWall += tr.Wall
		pc.Sim = append(pc.Sim, tr)
	}
	pc.judge(o.Tolerance)
	return pc, nil
}

// trial measures rep and checks it against the catalog's expectations.
func trial(s scenarios.Scenario, p scenarios.Params, rep *sim.Report, wall time.Duration) (Trial, error) {
	m, err := measure(rep, s.Fault)
	if err != nil {
		return Trial{}, err
	}
	tr := Trial{Seed: p.Options.Seed, Measure: m, Wall: wall, Report: rep}
	matcher := s.Expect(p)
	if ok, err := matcher.Match(rep); err != nil || !ok {
		tr.Missed = fmt.Sprint(err)
		if err == nil {
			tr.Missed = matcher.FailureMessage(rep)
		}
	}
	return tr, nil
}

// judge applies the criterion.
func (pc *PlanComparison) judge(tol time.Duration) {
	pc.RealOutcomes, pc.SimOutcomes = countOutcomes(pc.Real), countOutcomes(pc.Sim)
	pc.OutcomeAgrees = true
	for _, k := range slices.Sorted(mapKeys(pc.RealOutcomes)) {
		if pc.SimOutcomes[k] == 0 {
			pc.OutcomeAgrees = false
			pc.Differences = append(pc.Differences, fmt.Sprintf("outcome %q: %d of %d real trials, no simulated seed", k, pc.RealOutcomes[k], len(pc.Real)))
		}
	}
	crashOrStop := pc.Plan.Scenario.Fault == sim.FaultCrash || pc.Plan.Scenario.Fault == sim.FaultStop
	metrics := []struct {
		name string
		get  func(Measure) time.Duration
		use  bool
	}{
		{"takeover", func(m Measure) time.Duration { return m.Takeover }, true},
		// A crash or stop ends the term at the fault: nothing to compare.
		{"step-down", func(m Measure) time.Duration { return m.StepDown }, !crashOrStop},
		{"overlap", func(m Measure) time.Duration {
			if m.Overlaps == 0 {
				return -1
			}
			return m.Overlap
		}, true},
	}
	pc.Agrees = pc.OutcomeAgrees
	for _, mt := range metrics {
		values := func(ts []Trial) []time.Duration {
			var out []time.Duration
			for _, t := range ts {
				if v := mt.get(t.Measure); v >= 0 {
					out = append(out, v)
				}
			}
			return out
		}
		rv, sv := values(pc.Real), values(pc.Sim)
		if !mt.use || (len(rv) == 0 && len(sv) == 0) {
			continue
		}
		mc := MetricComparison{Name: mt.name, Real: stats.Summarize(rv), Sim: stats.Summarize(sv), RealValues: rv, SimValues: sv, MannWhitneyP: stats.MannWhitney(rv, sv)}
		if math.IsNaN(mc.MannWhitneyP) {
			mc.MannWhitneyP = -1
		}
		if len(sv) > 0 {
			mc.Envelope = scenarios.Window{Lo: mc.Sim.Min - tol, Hi: mc.Sim.Max + tol}
			for _, v := range rv {
				if !mc.Envelope.Contains(v) {
					mc.Outside = append(mc.Outside, v)
				}
			}
		}
		if len(rv) > 0 && len(sv) > 0 {
			mc.Shift = mc.Real.Median - mc.Sim.Median
		}
		if !mc.Agrees() {
			pc.Agrees = false
			pc.Differences = append(pc.Differences, fmt.Sprintf("%s: real %s outside the sim envelope %v", mt.name, durList(mc.Outside), mc.Envelope))
		}
		if mc.MannWhitneyP >= 0 && mc.MannWhitneyP < ShiftSignificance {
			pc.Differences = append(pc.Differences, fmt.Sprintf("%s: shifted, real median %+v against sim (Mann-Whitney p = %.2g)", mt.name, mc.Shift.Round(time.Millisecond), mc.MannWhitneyP))
		}
		pc.Metrics = append(pc.Metrics, mc)
	}
	for _, side := range []struct {
		name   string
		trials []Trial
	}{{"real trial", pc.Real}, {"simulated seed", pc.Sim}} {
		for _, t := range side.trials {
			if t.Missed != "" {
				first, _, _ := strings.Cut(t.Missed, "\n")
				pc.Differences = append(pc.Differences, fmt.Sprintf("%s %d missed the catalog's expectations: %s", side.name, t.Seed, first))
			}
		}
	}
}

// RealWall and SimWall sum the plans' trial wall times.
func (c *Comparison) RealWall() (d time.Duration) {
	for _, p := range c.Plans {
		d += p.RealWall
	}
	return d
}

func (c *Comparison) SimWall() (d time.Duration) {
	for _, p := range c.Plans {
		d += p.SimWall
	}
	return d
}

func durList(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(time.Millisecond).String()
	}
	return strings.Join(parts, ", ")
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

// Compact returns a copy without the per-trial reports: the numbers only,
// small enough to keep as JSON next to the table.
func (c *Comparison) Compact() *Comparison {
	out := *c
	out.Plans = make([]*PlanComparison, len(c.Plans))
	for i, p := range c.Plans {
		q := *p
		q.Real = slices.Clone(p.Real)
		for j := range q.Real {
			q.Real[j].Report = nil
		}
		out.Plans[i] = &q
	}
	return &out
}

// LatencyModel is the simulator's latency for one plan, matched to what the
// real server showed: each leg (to the server and back) is uniform between
// half the 5th and half the 95th percentile of the round trips the plan's
// real trials measured, all verbs pooled (Report.RoundTrips). The rule is
// fixed before any comparison; the tails beyond those percentiles are what
// the tolerance allows for.
type LatencyModel struct {
	Leg        sim.Dist      `json:"leg"`
	RoundTrips stats.Summary `json:"roundTrips"`
}

// NewLatencyModel builds the model from measured round trips; with none it
// is the simulator's default latency.
func NewLatencyModel(roundTrips []time.Duration) LatencyModel {
	if len(roundTrips) == 0 {
		return LatencyModel{Leg: sim.DefaultLatency}
	}
	s := slices.Sorted(slices.Values(roundTrips))
	return LatencyModel{Leg: sim.Dist{Min: stats.Rank(s, 0.05) / 2, Max: stats.Rank(s, 0.95) / 2}, RoundTrips: stats.Summarize(s)}
}
