package realapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// reachBound bounds the preflight request and the lease clean-up.
const reachBound = 10 * time.Second

// ForeignHolder is the holder LeaseOverwrite writes into the lease.
const ForeignHolder = "realapi-foreign-writer"

// Measure is what one trial of a scenario measured, on a real server or in
// sim. Durations are measured from the fault; -1 means it did not happen
// before the trial ended.
type Measure struct {
	// Victim is the candidate that led when the fault was injected.
	Victim string `json:"victim"`
	// Fault is the offset of the fault in the report.
	Fault time.Duration `json:"fault"`
	// Takeover is when another candidate first started acting as leader.
	Takeover time.Duration `json:"takeover"`
	// StepDown is when the victim's term ended.
	StepDown time.Duration `json:"stepDown"`
	// VictimEnd is how the victim's term ended (Term.EndCause).
	VictimEnd string `json:"victimEnd"`
	// Overlap is the longest time two candidates acted as leader at once.
	Overlap time.Duration `json:"overlap"`
	// Overlaps counts the overlaps.
	Overlaps int `json:"overlaps"`
}

// Trial is one run of a scenario on the real server: its report and what was
// measured against the expectation.
type Trial struct {
	Index  int     `json:"index"`
	Report *Report `json:"report"`
	Measure
	// Problems lists every way the trial missed the expectation.
	Problems []string `json:"problems,omitempty"`
}

// Results are the trials of one scenario.
type Results struct {
	Scenario Scenario    `json:"scenario"`
	Options  Options     `json:"options"`
	Expect   Expectation `json:"expect"`
	Trials   []Trial     `json:"trials"`
}

// Run runs scenario opts.Trials times against the API server cfg reaches,
// each trial with opts.Candidates fresh candidates on a lease of its own, and
// measures every trial against scenario.Expect(opts). The error is for bad
// input and for trials that could not run (server unreachable, no leader
// elected, ctx done); a trial that ran but missed the expectation is in
// Results.Check. Every wait is bounded by a limit derived from the timing, and
// every goroutine ends before Run returns.
func Run(ctx context.Context, cfg *rest.Config, opts Options, scenario Scenario) (*Results, error) {
	if ctx == nil {
		return nil, errors.New("realapi: ctx must not be nil")
	}
	if cfg == nil {
		return nil, errors.New("realapi: rest config must not be nil")
	}
	exp, err := scenario.Expect(opts)
	if err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	if err := preflight(ctx, cfg, o.Namespace); err != nil {
		return nil, err
	}
	res := &Results{Scenario: scenario, Options: o, Expect: exp, Trials: make([]Trial, o.Trials)}
	errs := make([]error, o.Trials)
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i := range o.Trials {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res.Trials[i], errs[i] = runTrial(ctx, cfg, o, exp, i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	return res, nil
}

// preflight checks that the server answers and leases can be read there.
func preflight(ctx context.Context, cfg *rest.Config, namespace string) error {
	c := rest.CopyConfig(cfg)
	c.Timeout = reachBound
	client, err := kubernetes.NewForConfig(c)
	if err != nil {
		return fmt.Errorf("realapi: building a client: %w", err)
	}
	if _, err := client.CoordinationV1().Leases(namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return fmt.Errorf("realapi: cannot list leases in namespace %q on %s: %w", namespace, cfg.Host, err)
	}
	return nil
}

// runTrial runs one trial: elect, settle, inject the fault, watch until the
// expected outcome or the window ends, then close and measure.
func runTrial(ctx context.Context, cfg *rest.Config, o Options, exp Expectation, index int) (Trial, error) {
	s := exp.Scenario
	lease := fmt.Sprintf("realapi-%s-%s", s, utilrand.String(6))
	fail := func(err error) error {
		return fmt.Errorf("realapi: %s trial %d (lease %s/%s): %w", s, index, o.Namespace, lease, err)
	}
	cl, err := NewCluster(cfg, ClusterOptions{
		Timing: o.Timing, Candidates: o.Candidates, Namespace: o.Namespace, Lease: lease,
		ReleaseOnCancel: exp.ReleaseOnCancel, NoClientTimeout: o.NoClientTimeout, Latency: o.Latency,
	})
	if err != nil {
		return Trial{}, fail(err)
	}
	defer func() {
		cl.Close()
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), reachBound)
		defer cancel()
		_ = cl.DeleteLease(cleanup) // best effort; the lease name is unique
	}()
	if err := cl.Start(); err != nil {
		return Trial{}, fail(err)
	}
	t, rt, poll := o.Timing, exp.RoundTrip, o.Timing.maxPoll()
	// The lease is new: the first candidate's first poll creates it.
	if _, err := cl.AwaitLeader(ctx, t.LeaseDuration+2*poll+10*rt); err != nil {
		return Trial{}, fail(err)
	}
	// Let every follower poll once more, so all have seen the leader's lease.
	if err := sleep(ctx, poll+2*rt, nil); err != nil {
		return Trial{}, fail(err)
	}
	leaders := cl.Leaders()
	if len(leaders) != 1 {
		return Trial{}, fail(fmt.Errorf("want one leader before the fault, have %v; trace tail:\n%s", leaders, cl.traceTail(20)))
	}
	victim := leaders[0]
	fault, err := inject(ctx, cl, o, s, victim)
	if err != nil {
		return Trial{}, fail(err)
	}

	deadline := cl.rec.start.Add(fault + exp.Window)
	done := func() bool { return outcomeReached(cl, victim, fault, exp) }
	reached, err := cl.await(ctx, deadline, done)
	if err != nil {
		return Trial{}, fail(err)
	}
	if reached {
		// Watch a little longer: a second follower acting too would show now.
		if err := sleep(ctx, poll+rt, nil); err != nil {
			return Trial{}, fail(err)
		}
	}
	rep := cl.Close()
	tr := measure(rep, index, victim, fault)
	tr.Problems = exp.check(tr)
	return tr, nil
}

// inject applies the scenario's fault to victim and returns its offset.
func inject(ctx context.Context, cl *Cluster, o Options, s Scenario, victim string) (time.Duration, error) {
	t, rt := o.Timing, o.roundTrip()
	inc, err := cl.running(victim)
	if err != nil {
		return 0, err
	}
	// trigger waits for a fault that fires on the victim's own traffic.
	trigger := func(what string, within time.Duration) (time.Duration, error) {
		var at time.Duration
		ok, err := cl.await(ctx, time.Now().Add(within), func() bool {
			var fired bool
			at, fired = inc.tr.firedAt(what)
			return fired
		})
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, fmt.Errorf("the %s fault did not fire within %v; trace tail:\n%s", what, within, cl.traceTail(20))
		}
		return at, nil
	}
	// A leader writes every RetryPeriod + RT; allow two cycles.
	cycle := 2 * (t.RetryPeriod + t.maxPoll() + 2*rt)
	switch s {
	case LeaderCrash:
		return cl.crash(victim)
	case GracefulRelease:
		return cl.stop(victim)
	case SlowRenew:
		if err := cl.SlowNextResponse(victim, o.SlowResponse); err != nil {
			return 0, err
		}
		return trigger("slow", cycle)
	case LeaderPartition, PartitionWithRelease:
		if err := cl.PartitionAfterWrites(victim, 1); err != nil {
			return 0, err
		}
		return trigger("partition", cycle)
	case LateRenewThenPartition:
		late := o.Latency
		late.Response = o.LateResponse
		inc.tr.partitionAfterWrites(o.LateRenews, &late)
		cl.rec.add("harness", "answer %s's next %d writes after %v, then partition it", victim, o.LateRenews, o.LateResponse)
		return trigger("partition", time.Duration(o.LateRenews)*(o.LateResponse+t.RetryPeriod+2*rt)+cycle)
	case LeaseOverwrite:
		return cl.overwrite(ctx, ForeignHolder)
	}
	return 0, fmt.Errorf("unknown scenario %q", s)
}

// outcomeReached reports whether everything the expectation bounds has
// happened, so the trial can end before its window.
func outcomeReached(cl *Cluster, victim string, fault time.Duration, exp Expectation) bool {
	if exp.VictimEnd == "running" {
		return false // watch the whole window
	}
	victimActing, tookOver := cl.rec.since(victim, fault)
	return !victimActing && (tookOver || exp.Takeover == nil)
}

// measure reads the trial's numbers off its report.
func measure(rep *Report, index int, victim string, fault time.Duration) Trial {
	return Trial{Index: index, Report: rep, Measure: measureTerms(rep.Terms, rep.Overlaps, victim, fault)}
}

// measureTerms reads a trial's numbers off its terms and overlaps; a real
// report and a sim report give them in the same types.
func measureTerms(terms []Term, overlaps []Overlap, victim string, fault time.Duration) Measure {
	m := Measure{Victim: victim, Fault: fault, Takeover: -1, StepDown: -1, Overlaps: len(overlaps)}
	for _, term := range terms {
		if term.Candidate == victim && term.Start <= fault && (term.End >= fault || term.End < 0) {
			m.VictimEnd = term.EndCause
			if term.EndCause != "running" {
				m.StepDown = term.End - fault
			}
		}
		if term.Candidate != victim && term.Start >= fault && m.Takeover < 0 {
			m.Takeover = term.Start - fault
		}
	}
	for _, o := range overlaps {
		m.Overlap = max(m.Overlap, o.Duration)
	}
	return m
}

// check lists how tr misses e.
func (e Expectation) check(tr Trial) []string {
	var problems []string
	if tr.VictimEnd != e.VictimEnd {
		problems = append(problems, fmt.Sprintf("the leader's term ended %q, want %q", tr.VictimEnd, e.VictimEnd))
	}
	within := func(what string, got time.Duration, b *Bound) {
		switch {
		case b == nil:
		case got < 0:
			problems = append(problems, fmt.Sprintf("no %s within the window, want %s in %v", what, what, b))
		case !b.Contains(got):
			problems = append(problems, fmt.Sprintf("%s after %v, want %v", what, got, b))
		}
	}
	within("takeover", tr.Takeover, e.Takeover)
	within("step-down", tr.StepDown, e.StepDown)
	if e.Takeover == nil && tr.Takeover >= 0 {
		problems = append(problems, fmt.Sprintf("a takeover after %v, want none", tr.Takeover))
	}
	switch {
	case e.Overlap == nil && len(tr.Report.Overlaps) > 0:
		problems = append(problems, fmt.Sprintf("two leaders at once for %v (%s), want never", tr.Overlap, tr.Report.Overlaps[0].Cause))
	case e.Overlap != nil && (tr.Overlap > e.Overlap.Max || tr.Overlap < e.Overlap.Min):
		problems = append(problems, fmt.Sprintf("longest overlap %v, want %v", tr.Overlap, e.Overlap))
	}
	return problems
}

// Check returns an error listing every trial that missed the expectation,
// with the tail of its trace, or nil.
func (r *Results) Check() error {
	var errs []error
	for _, tr := range r.Trials {
		if len(tr.Problems) == 0 {
			continue
		}
		tail := ""
		if tr.Report != nil {
			rep := *tr.Report
			rep.Trace = rep.Trace[max(0, len(rep.Trace)-30):]
			tail = rep.TraceText()
		}
		errs = append(errs, fmt.Errorf("realapi: %s trial %d (victim %s, fault at %v): %s\ntrace tail:\n%s",
			r.Scenario, tr.Index, tr.Victim, tr.Fault, strings.Join(tr.Problems, "; "), tail))
	}
	return errors.Join(errs...)
}

// Text renders the expectation and one line per trial.
func (r *Results) Text() string {
	var b strings.Builder
	o, e := r.Options, r.Expect
	fmt.Fprintf(&b, "scenario %s: %s\n", r.Scenario, r.Scenario.Description())
	fmt.Fprintf(&b, "timing %v/%v/%v, request bound %v, %d candidates, round-trip allowance %v, release on cancel %v\n",
		o.Timing.LeaseDuration, o.Timing.RenewDeadline, o.Timing.RetryPeriod, e.RequestBound, o.Candidates, e.RoundTrip, e.ReleaseOnCancel)
	fmt.Fprintf(&b, "expected: leader's term ends %q; takeover %s; step-down %s; overlap %s\n", e.VictimEnd, boundText(e.Takeover, "none"), boundText(e.StepDown, "-"), boundText(e.Overlap, "never"))
	fmt.Fprintf(&b, "why: %s\n", e.Why)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "trial\tvictim\tend\ttakeover\tstep-down\toverlap\tfailovers\trequests\tproblems")
	for _, tr := range r.Trials {
		failovers, requests := 0, 0
		if tr.Report != nil {
			failovers, requests = len(tr.Report.Failovers), tr.Report.Requests.Total
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%v\t%d\t%d\t%s\n", tr.Index, tr.Victim, tr.VictimEnd, durText(tr.Takeover), durText(tr.StepDown),
			tr.Overlap.Round(time.Millisecond), failovers, requests, strings.Join(tr.Problems, "; "))
	}
	_ = w.Flush()
	return b.String()
}

func boundText(b *Bound, none string) string {
	if b == nil {
		return none
	}
	return b.String()
}

func durText(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

// Plan is one scenario with its options: one row of a fidelity run.
type Plan struct {
	// Name is short and unique within a list of plans: the scenario, then
	// "/" and what differs from the harness defaults.
	Name     string   `json:"name"`
	Scenario Scenario `json:"scenario"`
	Options  Options  `json:"options"`
}

// ValidationPlans are the plans of the fidelity run: every scenario at
// DefaultTiming, SlowRenew also without the client timeout, and the three
// partition scenarios also at OverlapTiming, where the two margin-breaking
// ones must overlap in every trial.
func ValidationPlans() []Plan {
	var plans []Plan
	for _, s := range Scenarios() {
		plans = append(plans, Plan{Name: string(s), Scenario: s})
	}
	plans = append(plans, Plan{Name: string(SlowRenew) + "/no-client-timeout", Scenario: SlowRenew, Options: Options{NoClientTimeout: true}})
	for _, s := range []Scenario{LeaderPartition, PartitionWithRelease, LateRenewThenPartition} {
		plans = append(plans, Plan{Name: string(s) + "/overlap-timing", Scenario: s, Options: Options{Timing: OverlapTiming()}})
	}
	return plans
}

// Validate is the long run on the real server alone: every plan of
// ValidationPlans trials times, each trial checked against the scenario's
// bounds. It returns all results; the error joins every failure. Up to four
// trials run at once. Compare runs the same plans against sim.
func Validate(ctx context.Context, cfg *rest.Config, trials int) ([]*Results, error) {
	if trials < 1 {
		return nil, fmt.Errorf("realapi: trials (%d) must be at least 1", trials)
	}
	var all []*Results
	var errs []error
	for _, p := range ValidationPlans() {
		p.Options.Trials, p.Options.Parallel = trials, min(trials, 4)
		res, err := Run(ctx, cfg, p.Options, p.Scenario)
		if res != nil {
			all = append(all, res)
			errs = append(errs, res.Check())
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return all, errors.Join(slices.DeleteFunc(errs, func(e error) bool { return e == nil })...)
}
