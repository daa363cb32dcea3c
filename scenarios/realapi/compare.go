package realapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
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
// allows? Many more seeds than trials (20 x by default) make the envelope the
// simulator's range rather than a sample of it: with as many seeds as trials,
// two of K real values from the very same distribution would fall outside it
// on average. The Mann-Whitney p-value is reported next to it as a
// diagnostic: below ShiftSignificance it flags a shift to explain, with the
// difference of the medians.
const (
	// DefaultTolerance is the allowance for real-world jitter on each side of
	// the simulator's envelope: one round-trip allowance of the bounds
	// (DefaultAllowance).
	DefaultTolerance = DefaultAllowance
	// CITolerance is the tolerance of the small comparison every `go test`
	// runs (TestValidate without -validate.trials), where the real trials
	// run under the race detector on a loaded two-core CI machine, three
	// trials at once. Each compared length is set by up to three requests
	// whose real timing sim's latency model follows only to the 95th
	// percentile measured in the same run: the leader's last renew (or its
	// release), and the taking-over follower's get and update. Under those
	// conditions any of them, and the timer that starts it, may stall by up
	// to one round-trip allowance (DefaultAllowance) beyond that, so three
	// allowances. Outcomes are judged exactly as in the long form. A
	// simulator error smaller than this, such as the 170-180ms of the
	// start-phase error the long form found (see the package doc), is left to
	// `make validate`, which uses DefaultTolerance on a quiet run without
	// the race detector.
	CITolerance = 3 * DefaultAllowance
	// ShiftSignificance is the Mann-Whitney p-value under which a metric is
	// reported as shifted.
	ShiftSignificance = 0.01
	// DefaultSimSeedsPerTrial is how many simulated seeds Compare runs per
	// real trial by default.
	DefaultSimSeedsPerTrial = 20
)

// CompareOptions configure Compare. Zero values mean the documented defaults.
type CompareOptions struct {
	// Plans to compare; nil means ValidationPlans(). Each plan's Options
	// give its timing, candidates and faults; Trials and Parallel there are
	// ignored.
	Plans []Plan
	// Trials is the number of real trials per plan; zero means 10.
	Trials int
	// SimSeeds is the number of simulated seeds per plan; zero means
	// DefaultSimSeedsPerTrial x Trials.
	SimSeeds int
	// FirstSeed is the first simulated seed; seeds are FirstSeed,
	// FirstSeed+1, ...; zero means 1.
	FirstSeed int64
	// Parallel is how many real trials of a plan run at once; zero means
	// min(Trials, 4).
	Parallel int
	// Tolerance widens the simulator's envelope on each side; zero means
	// DefaultTolerance.
	Tolerance time.Duration
	// Namespace and Allowance are passed to every plan's Options (see
	// Options); empty and zero keep the plan's own.
	Namespace string
	Allowance time.Duration
	// Progress, when set, gets one line per plan as it completes.
	Progress io.Writer
}

func (o CompareOptions) withDefaults() CompareOptions {
	if o.Plans == nil {
		o.Plans = ValidationPlans()
	}
	if o.Trials == 0 {
		o.Trials = 10
	}
	if o.SimSeeds == 0 {
		o.SimSeeds = DefaultSimSeedsPerTrial * o.Trials
	}
	if o.FirstSeed == 0 {
		o.FirstSeed = 1
	}
	if o.Parallel == 0 {
		o.Parallel = min(o.Trials, 4)
	}
	if o.Tolerance == 0 {
		o.Tolerance = DefaultTolerance
	}
	return o
}

func (o CompareOptions) validate() error {
	if err := nonNegative[int]("CompareOptions.", "Trials", o.Trials, "SimSeeds", o.SimSeeds, "Parallel", o.Parallel); err != nil {
		return err
	}
	if err := nonNegative[time.Duration]("CompareOptions.", "Tolerance", o.Tolerance, "Allowance", o.Allowance); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, p := range o.withDefaults().Plans {
		if p.Name == "" || seen[p.Name] {
			return fmt.Errorf("realapi: CompareOptions.Plans[%d]: Name (%q) must be set and unique", i, p.Name)
		}
		seen[p.Name] = true
		if _, err := p.Scenario.Expect(p.Options); err != nil {
			return fmt.Errorf("realapi: CompareOptions.Plans[%d] (%s): %w", i, p.Name, err)
		}
	}
	return nil
}

// Comparison is the result of Compare: one PlanComparison per plan, and the
// wall time of both sides.
type Comparison struct {
	// Date is when the comparison ran; Machine describes where (Compare sets
	// cores, GOMAXPROCS, OS and architecture; callers may replace it).
	Date    time.Time `json:"date"`
	Machine string    `json:"machine"`
	// Trials, SimSeeds and Tolerance are the resolved options.
	Trials    int               `json:"trials"`
	SimSeeds  int               `json:"simSeeds"`
	Tolerance time.Duration     `json:"tolerance"`
	Plans     []*PlanComparison `json:"plans"`
}

// PlanComparison is one plan on both sides.
type PlanComparison struct {
	Plan   Plan        `json:"plan"`
	Expect Expectation `json:"expect"`
	// Latency is sim's latency model, measured from the real trials.
	Latency LatencyModel `json:"latency"`
	Real    *Results     `json:"real"`
	// RealWall is the summed wall time of the real trials, RealElapsed the
	// wall time of the real side with its trials run Parallel at once.
	RealWall     time.Duration  `json:"realWall"`
	RealElapsed  time.Duration  `json:"realElapsed"`
	RealOutcomes map[string]int `json:"realOutcomes"`
	// Sim is the simulated side: the plan's seeds in sim, as sim ships.
	Sim SimSide `json:"sim"`
	// Agrees and Differences are Sim's verdict.
	Agrees      bool     `json:"agrees"`
	Differences []string `json:"differences,omitempty"`
}

// SimSide is one plan's simulated seeds, judged against the real trials.
type SimSide struct {
	Trials []SimTrial `json:"trials"`
	// Wall is the summed wall time of the simulated trials (each the same
	// steps as a real trial, in virtual time).
	Wall time.Duration `json:"wall"`
	// Outcomes counts the seeds per outcome.
	Outcomes map[string]int `json:"outcomes"`
	// Metrics compares takeover, step-down and overlap length.
	Metrics []MetricComparison `json:"metrics"`
	// OutcomeAgrees is criterion 1, Agrees both criteria.
	OutcomeAgrees bool `json:"outcomeAgrees"`
	Agrees        bool `json:"agrees"`
	// Differences says, in words, every way the sides differ: criterion
	// failures and shifts flagged by the rank test.
	Differences []string `json:"differences,omitempty"`
}

// MetricComparison is one measured quantity on both sides.
type MetricComparison struct {
	// Name is "takeover", "step-down" or "overlap".
	Name string  `json:"name"`
	Real Summary `json:"real"`
	Sim  Summary `json:"sim"`
	// RealValues and SimValues are the samples (trials where it happened).
	RealValues []time.Duration `json:"realValues"`
	SimValues  []time.Duration `json:"simValues"`
	// Envelope is [sim min - Tolerance, sim max + Tolerance]; Outside are the
	// real values outside it.
	Envelope Bound           `json:"envelope"`
	Outside  []time.Duration `json:"outside,omitempty"`
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

// RealWall and SimWall sum the plans' trial wall times.
func (c *Comparison) RealWall() (d time.Duration) {
	for _, p := range c.Plans {
		d += p.RealWall
	}
	return d
}

func (c *Comparison) SimWall() (d time.Duration) {
	for _, p := range c.Plans {
		d += p.Sim.Wall
	}
	return d
}

// Compare runs every plan K = Trials times on the real server cfg reaches and
// SimSeeds times in sim, with sim's latency matched to the round trips the
// real trials measured (LatencyModel), and compares the outcomes and the
// failover times by the criterion above (see DefaultTolerance). The real
// trials of a plan run first, then its simulated seeds, never at once: sim
// seeds client-go's jitter, which is process-wide. t is the test the
// simulations run in (sim needs one); an invariant violation inside a
// simulation fails it. The error is for bad input and for trials that could
// not run; disagreement is in the result (Comparison.Agrees).
func Compare(t *testing.T, ctx context.Context, cfg *rest.Config, opts CompareOptions) (*Comparison, error) {
	t.Helper()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	cmp := &Comparison{
		Date:      time.Now().UTC(),
		Machine:   fmt.Sprintf("%d cores (GOMAXPROCS %d), %s/%s, %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version()),
		Trials:    o.Trials,
		SimSeeds:  o.SimSeeds,
		Tolerance: o.Tolerance,
	}
	for _, plan := range o.Plans {
		if o.Namespace != "" {
			plan.Options.Namespace = o.Namespace
		}
		if o.Allowance != 0 {
			plan.Options.Allowance = o.Allowance
		}
		pc, err := comparePlan(t, ctx, cfg, plan, o)
		if pc != nil {
			cmp.Plans = append(cmp.Plans, pc)
		}
		if err != nil {
			return cmp, err
		}
		if o.Progress != nil {
			verdict := "agrees"
			if !pc.Agrees {
				verdict = "DIFFERS: " + strings.Join(pc.Differences, "; ")
			}
			fmt.Fprintf(o.Progress, "realapi: %-42s real %2d trials in %6.1fs, sim %4d seeds in %5.1fs: %s\n",
				plan.Name, len(pc.Real.Trials), pc.RealElapsed.Seconds(), len(pc.Sim.Trials), pc.Sim.Wall.Seconds(), verdict)
		}
	}
	return cmp, nil
}

func comparePlan(t *testing.T, ctx context.Context, cfg *rest.Config, plan Plan, o CompareOptions) (*PlanComparison, error) {
	t.Helper()
	exp, err := plan.Scenario.Expect(plan.Options)
	if err != nil {
		return nil, err
	}
	ro := plan.Options
	ro.Trials, ro.Parallel = o.Trials, o.Parallel
	start := time.Now()
	res, err := Run(ctx, cfg, ro, plan.Scenario)
	pc := &PlanComparison{Plan: plan, Expect: exp, Real: res, RealElapsed: time.Since(start)}
	if err != nil {
		return nil, fmt.Errorf("realapi: %s: %w", plan.Name, err)
	}
	rtts := map[string][]time.Duration{}
	var real []Measure
	for _, tr := range res.Trials {
		pc.RealWall += tr.Report.Duration
		real = append(real, tr.Measure)
		for verb, values := range tr.Report.RoundTrips {
			rtts[verb] = append(rtts[verb], values...)
		}
	}
	pc.Latency = NewLatencyModel(rtts)
	pc.RealOutcomes = countOutcomes(real)
	side := &pc.Sim
	var simulated []Measure
	for i := range o.SimSeeds {
		if err := ctx.Err(); err != nil {
			return pc, fmt.Errorf("realapi: %s: %w", plan.Name, err)
		}
		st, err := Simulate(t, plan, pc.Latency, o.FirstSeed+int64(i))
		if err != nil {
			return pc, err
		}
		side.Wall += st.Wall
		side.Trials = append(side.Trials, st)
		simulated = append(simulated, st.Measure)
	}
	side.judge(exp, real, simulated, o.Tolerance)
	pc.Agrees, pc.Differences = side.Agrees, side.Differences
	return pc, nil
}

func countOutcomes(ms []Measure) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[outcome(m)]++
	}
	return out
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

// judge applies the criterion to real and simulated measures.
func (pc *SimSide) judge(e Expectation, real, simulated []Measure, tol time.Duration) {
	realOutcomes := countOutcomes(real)
	pc.Outcomes = countOutcomes(simulated)
	pc.OutcomeAgrees = true
	for _, k := range slices.Sorted(mapKeys(realOutcomes)) {
		if pc.Outcomes[k] == 0 {
			pc.OutcomeAgrees = false
			pc.Differences = append(pc.Differences, fmt.Sprintf("outcome %q: %d of %d real trials, no simulated seed", k, realOutcomes[k], len(real)))
		}
	}
	metrics := []struct {
		name string
		get  func(Measure) time.Duration
		use  bool
	}{
		{"takeover", func(m Measure) time.Duration { return m.Takeover }, true},
		// A crash or stop ends the term at the fault: nothing to compare.
		{"step-down", func(m Measure) time.Duration { return m.StepDown }, e.VictimEnd != "crash" && e.VictimEnd != "stop"},
		{"overlap", func(m Measure) time.Duration {
			if m.Overlaps == 0 {
				return -1
			}
			return m.Overlap
		}, true},
	}
	pc.Agrees = pc.OutcomeAgrees
	for _, mt := range metrics {
		values := func(ms []Measure) []time.Duration {
			var out []time.Duration
			for _, m := range ms {
				if v := mt.get(m); v >= 0 {
					out = append(out, v)
				}
			}
			return out
		}
		rv, sv := values(real), values(simulated)
		if !mt.use || (len(rv) == 0 && len(sv) == 0) {
			continue
		}
		mc := MetricComparison{Name: mt.name, Real: Summarize(rv), Sim: Summarize(sv), RealValues: rv, SimValues: sv, MannWhitneyP: MannWhitney(rv, sv)}
		if math.IsNaN(mc.MannWhitneyP) {
			mc.MannWhitneyP = -1
		}
		if len(sv) > 0 {
			mc.Envelope = Bound{Min: mc.Sim.Min - tol, Max: mc.Sim.Max + tol}
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
}

func durList(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(time.Millisecond).String()
	}
	return strings.Join(parts, ", ")
}

// Err is nil when every plan agrees, else an error listing the differences.
func (c *Comparison) Err() error {
	var errs []error
	for _, p := range c.Plans {
		if !p.Agrees {
			errs = append(errs, fmt.Errorf("realapi: %s: the real server and sim disagree: %s", p.Plan.Name, strings.Join(p.Differences, "; ")))
		}
	}
	if len(c.Plans) == 0 {
		errs = append(errs, errors.New("realapi: no plan was compared"))
	}
	return errors.Join(errs...)
}

// Compact returns a copy without the per-trial reports and traces: the
// numbers only, small enough to keep as JSON next to the table.
func (c *Comparison) Compact() *Comparison {
	out := *c
	out.Plans = make([]*PlanComparison, len(c.Plans))
	for i, p := range c.Plans {
		q := *p
		if p.Real != nil {
			real := *p.Real
			real.Trials = slices.Clone(p.Real.Trials)
			for j := range real.Trials {
				real.Trials[j].Report = nil
			}
			q.Real = &real
		}
		q.Sim.Trials = slices.Clone(p.Sim.Trials)
		for j := range q.Sim.Trials {
			q.Sim.Trials[j].Report = nil
		}
		out.Plans[i] = &q
	}
	return &out
}
