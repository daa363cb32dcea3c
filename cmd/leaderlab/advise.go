package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/leaderlab/leaderlab/internal/stats"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// needs is what the user must tolerate.
type needs struct {
	outage, drift, maxFailover       time.Duration
	releaseOnCancel, noClientTimeout bool
	latency                          sim.Dist
	candidates, seeds                int
}

func (n needs) String() string {
	s := fmt.Sprintf("keep the lease through an API outage of %v; clock drift up to %v per lease duration; ", n.outage, n.drift)
	if n.maxFailover > 0 {
		s += fmt.Sprintf("crash failover at most %v; ", n.maxFailover)
	} else {
		s += "crash failover: no maximum; "
	}
	timeout := "max(RD/2, 1s)"
	if n.noClientTimeout {
		timeout = "none"
	}
	return s + fmt.Sprintf("ReleaseOnCancel %v; client timeout %s; latency %v per leg", n.releaseOnCancel, timeout, n.latency)
}

// bounds is client-go's arithmetic for t under n's latency.
func (n needs) bounds(t sim.Timing) scenarios.Bounds {
	return scenarios.BoundsFor(sim.Options{Timing: t, Latency: n.latency, ReleaseOnCancel: n.releaseOnCancel, NoClientTimeout: n.noClientTimeout})
}

// retryPeriods are the RetryPeriods derive tries, longest first: client-go's
// default, then the shortest whole second (under a second, client-go's
// whole-second renew times cost a second of margin, Bounds.Grain).
var retryPeriods = []time.Duration{2 * time.Second, time.Second}

// derive finds the timing that meets n with the shortest crash failover
// for each RetryPeriod: the shortest whole-second RenewDeadline whose
// Bounds.OutageKept covers the outage, then the LeaseDuration
// Bounds.SafeLeaseDurationWithDrift gives for it. The first whose crash
// failover (Bounds.Crash) is within the maximum wins. Every quantity comes
// from Bounds; derive only searches.
func derive(n needs) (sim.Timing, error) {
	var best sim.Timing
	for _, rp := range retryPeriods {
		t := sim.Timing{RetryPeriod: rp}
		for rd := time.Second; ; rd += time.Second {
			t.RenewDeadline, t.LeaseDuration = rd, rd+time.Second
			if (sim.Options{Candidates: 1, Timing: t}).Validate() == nil && n.bounds(t).OutageKept() >= n.outage {
				break
			}
		}
		t.LeaseDuration = n.bounds(t).SafeLeaseDurationWithDrift(n.drift)
		best = t
		if n.maxFailover == 0 || n.bounds(t).Crash().Hi <= n.maxFailover {
			return t, nil
		}
	}
	hi := n.bounds(best).Crash().Hi
	return best, usagef("--max-failover %v cannot be met: the shortest timing that keeps the lease through --outage %v with a safe margin (clock drift %v) is %s, "+
		"whose crash failover can take up to %v (LD + 4.4 RP + round trips, Bounds.Crash), %v more than --max-failover; allow a longer --max-failover or a shorter --outage",
		n.maxFailover, n.outage, n.drift, scenarios.TimingLabel(best), hi, hi-n.maxFailover)
}

func newAdvise() *cobra.Command {
	var n needs
	var timing, latency string
	var over overrideFlags
	cmd := &cobra.Command{
		Use:   "advise",
		Short: "Derive a timing from what you must tolerate, show its margins, verify it in the simulator",
		Long: "advise derives LeaseDuration / RenewDeadline / RetryPeriod (whole seconds) from client-go's\n" +
			"arithmetic (scenarios.Bounds): the shortest RenewDeadline that keeps the lease through --outage,\n" +
			"the shortest LeaseDuration whose margin LD - RD - RP covers a late answer (up to the client\n" +
			"timeout), a pending release and --clock-skew, and RetryPeriod 2s, or 1s when --max-failover needs\n" +
			"it. It shows the margins, verifies the timing in the simulator over --seeds seeds (an outage just\n" +
			"under --outage keeps the leader; crash failovers within --max-failover; no overlap in the two\n" +
			"scenarios that break the margin) and shows the well-known presets under the same analysis.\n" +
			"--timing analyses and verifies a timing of yours instead; a preset brings its ReleaseOnCancel and\n" +
			"client timeout, which --release-on-cancel and --no-client-timeout override when given.\n\n" +
			"Exit status 1 when the timing does not meet the requirements (a --timing of yours) or the simulator\n" +
			"contradicts the arithmetic, 2 when a requirement cannot be met.\n\n" + presetHelp(),
		Example: "  leaderlab advise --outage 8s --max-failover 30s\n  leaderlab advise --timing default\n  leaderlab advise --timing flux",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, d := range []struct {
				flag string
				v    time.Duration
			}{{"--outage", n.outage}, {"--clock-skew", n.drift}, {"--max-failover", n.maxFailover}} {
				if d.v < 0 {
					return usagef("%s (%v) must not be negative", d.flag, d.v)
				}
			}
			var err error
			if n.latency, err = parseLatency("--latency", latency); err != nil {
				return err
			}
			if err := atLeast("--candidates", n.candidates, 1); err != nil {
				return err
			}
			if err := atLeast("--seeds", n.seeds, 1); err != nil {
				return err
			}
			var set setting
			derived := timing == ""
			if !derived {
				if set, err = parseTiming("--timing", timing, false); err != nil {
					return err
				}
			}
			set = over.apply(cmd, set)
			n.releaseOnCancel, n.noClientTimeout = set.releaseOnCancel, set.noClientTimeout
			if derived {
				if set.timing, err = derive(n); err != nil {
					return err
				}
			}
			t := set.timing
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			writeAdvice(stdout, n, t, derived)
			withT(stderr, func(tt *testing.T) int {
				if !verify(tt, stdout, stderr, n, set) {
					return exitFailed
				}
				return exitOK
			})
			return nil
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&n.outage, "outage", 0, "the API may be unreachable (connections refused) this long without the leader losing its lease")
	fl.DurationVar(&n.drift, "clock-skew", 0, "how much the candidates' clocks may disagree about one LeaseDuration (client-go measures durations on each candidate's own clock, so only drift matters, not an offset)")
	fl.DurationVar(&n.maxFailover, "max-failover", 0, "the longest acceptable failover after a leader crashes (0: no maximum)")
	over.register(cmd)
	fl.StringVar(&timing, "timing", "", "analyse and verify this timing (LD/RD/RP or a preset: "+scenarios.PresetNames()+") instead of deriving one")
	fl.StringVar(&latency, "latency", sim.DefaultLatency.String(), "latency of each request leg: fixed (2ms) or uniform (1ms..3ms)")
	fl.IntVar(&n.candidates, "candidates", 3, "candidates (replicas) in the simulator")
	fl.IntVar(&n.seeds, "seeds", 50, "seeds per check in the simulator")
	return cmd
}

// writeAdvice prints the requirements, the timing and its margins, and the
// presets under the same analysis.
func writeAdvice(w io.Writer, n needs, t sim.Timing, derived bool) {
	fmt.Fprintf(w, "requirements: %v\n\n", n)
	if derived {
		fmt.Fprintf(w, "derived timing: LeaseDuration %v, RenewDeadline %v, RetryPeriod %v (--timing %s)\n\n", t.LeaseDuration, t.RenewDeadline, t.RetryPeriod, scenarios.TimingLabel(t))
	}
	writeMargins(w, n, t)
	fmt.Fprintf(w, "\nwell-known presets under the same analysis:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "timing\tpreset\tclient timeout\tmargin\t(a) late answers\t(b) release\toutage kept\tcrash failover\tmeets the requirements")
	row := func(name string, b scenarios.Bounds, releases bool) {
		rel := "off"
		if releases {
			rel = overlapCell(releaseOverlap(b))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%v\t%v\t%s\n", scenarios.TimingLabel(b.Timing), name, timeoutCell(b), b.Margin(),
			overlapCell(lateOverlap(b)), rel, b.OutageKept(), b.Crash().Hi, strings.Join(unmet(n, b), "; "))
	}
	row("this", n.bounds(t), n.releaseOnCancel)
	// Each preset with its own ReleaseOnCancel and client timeout, under
	// the requirements' latency.
	for _, p := range scenarios.Presets {
		row(p.Name, p.Bounds(n.latency), p.ReleaseOnCancel)
	}
	_ = tw.Flush()
}

// lateOverlap is margin-breaking case (a): the leader's last renew answered
// as late as a client accepts (Bounds.LatestAnswer), then a partition.
func lateOverlap(b scenarios.Bounds) scenarios.Window {
	return b.PartitionOverlap(sim.Fixed(b.LatestAnswer()), false)
}

// timeoutCell is the client timeout, or "none".
func timeoutCell(b scenarios.Bounds) string {
	if b.ClientTimeout == 0 {
		return "none"
	}
	return b.ClientTimeout.String()
}

// releaseOverlap is case (b): ReleaseOnCancel while the API is unreachable.
func releaseOverlap(b scenarios.Bounds) scenarios.Window {
	return b.PartitionOverlap(b.Latency, true)
}

func overlapCell(w scenarios.Window) string {
	if w.Hi <= 0 {
		return "no overlap"
	}
	return fmt.Sprintf("BREAKS: up to %v", w.Hi)
}

// unmet lists the requirements b does not meet ("yes" when it meets all).
func unmet(n needs, b scenarios.Bounds) []string {
	var out []string
	if k := b.OutageKept(); k < n.outage {
		out = append(out, fmt.Sprintf("outage %v short", n.outage-k))
	}
	if n.maxFailover > 0 && b.Crash().Hi > n.maxFailover {
		out = append(out, fmt.Sprintf("failover %v too long", b.Crash().Hi-n.maxFailover))
	}
	if safe := b.SafeLeaseDurationWithDrift(n.drift); b.Timing.LeaseDuration < safe {
		out = append(out, fmt.Sprintf("margin %v short (LD %v needed)", safe-b.Timing.LeaseDuration, safe))
	}
	if len(out) == 0 {
		return []string{"yes"}
	}
	return out
}

// writeMargins is the margin arithmetic of t, as ../DESIGN works it for the
// defaults: client timeout, margin, the two cases that break it.
func writeMargins(w io.Writer, n needs, t sim.Timing) {
	b := n.bounds(t)
	fmt.Fprintf(w, "client-go's arithmetic for %s (%v):\n", scenarios.TimingLabel(t), b)
	if b.ClientTimeout > 0 {
		fmt.Fprintf(w, "  client timeout max(RD/2, 1s) = %v: every request of the lock gives up after it\n", b.ClientTimeout)
	} else {
		fmt.Fprintf(w, "  no client timeout: a request of the lock waits until its context ends, RD (%v) after the renew or the release began\n", t.RenewDeadline)
	}
	fmt.Fprintf(w, "  margin LD - RD - RP = %v - %v - %v = %v: how much later than the leader's own give-up a follower may take over\n",
		t.LeaseDuration, t.RenewDeadline, t.RetryPeriod, b.Margin())
	late, rel := lateOverlap(b), releaseOverlap(b)
	accepted := fmt.Sprintf("the client timeout (%v)", b.ClientTimeout)
	if b.ClientTimeout == 0 {
		accepted = fmt.Sprintf("RD (%v), for want of a client timeout", t.RenewDeadline)
	}
	fmt.Fprintf(w, "  (a) late answers: the leader's last renew answered up to %s late, then a partition: %s\n",
		accepted, verdict(late, b.LatestAnswer(), b.Margin()))
	fmt.Fprintf(w, "  (b) ReleaseOnCancel with the API unreachable: the release waits up to %v before the leader stops acting: %s\n",
		b.ReleaseWait(), verdict(rel, b.ReleaseWait()+b.Leg(), b.Margin()))
	if both := b.PartitionOverlap(sim.Fixed(b.LatestAnswer()), true); both.Hi > 0 && n.releaseOnCancel {
		fmt.Fprintf(w, "      (a) and (b) at once (a late last renew, then the release's wait): overlap up to %v\n", both.Hi)
	}
	fmt.Fprintf(w, "  safe LeaseDuration for RD %v, RP %v (margin > release wait + leg + grain + clock drift %v): %v\n",
		t.RenewDeadline, t.RetryPeriod, n.drift, b.SafeLeaseDurationWithDrift(n.drift))
	fmt.Fprintf(w, "  API outage the leader keeps its lease through: up to RD - RP - 2 RT = %v\n", b.OutageKept())
	fmt.Fprintf(w, "  crash failover: %v; handover with ReleaseOnCancel: up to %v; a partitioned leader stops acting within %v of its last renew\n",
		b.Crash(), b.Handover().Hi, b.StepDown(n.releaseOnCancel))
}

// verdict says whether an overlap window breaks the margin: the wait that
// outlasts the margin and by how much.
func verdict(o scenarios.Window, wait, margin time.Duration) string {
	if o.Hi <= 0 {
		return fmt.Sprintf("within the margin (%v <= %v): no overlap", wait, margin)
	}
	return fmt.Sprintf("BREAKS the margin (%v > %v): two leaders for up to %v", wait, margin, o.Hi)
}

// simCheck is one verification in the simulator: a scenario over the
// seeds, and what each run must show besides the scenario's own
// expectations.
type simCheck struct {
	what     string
	scenario scenarios.Scenario
	ok       func(rep *sim.Report, p scenarios.Params) bool
}

// overlapsWithin holds when every overlap is within what the scenario's
// arithmetic allows (none when its window's Hi is not positive).
func overlapsWithin(rep *sim.Report, p scenarios.Params, s scenarios.Scenario) bool {
	hi := s.Overlap(p).Hi
	for _, o := range rep.Overlaps {
		if hi <= 0 || o.Duration > hi {
			return false
		}
	}
	return true
}

// verify runs the checks of tm over n.seeds seeds each and prints the
// evidence and the verdict. It returns false when tm does not meet the
// requirements or a run contradicts the arithmetic.
func verify(t *testing.T, w, stderr io.Writer, n needs, set setting) bool {
	tm := set.timing
	cfg := set.config(n.candidates, n.latency)
	var checks []simCheck
	if n.outage > 0 {
		d := max(n.outage-time.Millisecond, 0)
		checks = append(checks, simCheck{fmt.Sprintf("an API outage of %v (just under --outage) keeps the leader", d), outageScenario(d, n.releaseOnCancel),
			func(rep *sim.Report, _ scenarios.Params) bool {
				return len(rep.LostWithoutCrash) == 0 && len(rep.Terms) == 1
			}})
	}
	crashMax := n.bounds(tm).Crash().Hi
	if n.maxFailover > 0 {
		crashMax = min(crashMax, n.maxFailover)
	}
	late, rel := scenarios.LateRenewsThenPartition, scenarios.PartitionedLeaderWithRelease
	checks = append(checks,
		simCheck{fmt.Sprintf("a crashed leader is replaced within %v", crashMax), scenarios.LeaderCrash, func(rep *sim.Report, _ scenarios.Params) bool {
			return len(rep.Failovers) > 0 && rep.Failovers[0].Duration <= crashMax
		}},
		simCheck{lateCheckName(n), late, func(rep *sim.Report, p scenarios.Params) bool { return overlapsWithin(rep, p, late) }},
		simCheck{"(b) partition with ReleaseOnCancel", rel, func(rep *sim.Report, p scenarios.Params) bool { return overlapsWithin(rep, p, rel) }},
	)
	fmt.Fprintf(w, "\nverified in the simulator, %d seeds per check, %d candidates, latency %v per leg:\n", n.seeds, n.candidates, n.latency)
	agrees := true
	for _, c := range checks {
		good, first, overlapped := 0, int64(0), 0
		var failovers, overlaps []time.Duration
		for seed := int64(1); seed <= int64(n.seeds); seed++ {
			rep, p := c.scenario.Run(t, cfg, seed)
			ok := rep != nil && c.ok(rep, p)
			if ok && c.scenario.Expect != nil {
				ok, _ = c.scenario.Expect(p).Match(rep)
			}
			if ok {
				good++
			} else if first == 0 {
				first = seed
			}
			if rep == nil {
				continue
			}
			for _, f := range rep.Failovers {
				failovers = append(failovers, f.Duration)
			}
			for _, o := range rep.Overlaps {
				overlaps = append(overlaps, o.Duration)
			}
			overlapped += btoi(len(rep.Overlaps) > 0)
		}
		mark := "ok  "
		if good < n.seeds {
			mark, agrees = "FAIL", false
		}
		fmt.Fprintf(w, "  %s %s: %d of %d runs as the arithmetic says", mark, c.what, good, n.seeds)
		switch {
		case c.scenario.Overlap != nil:
			allowed := c.scenario.Overlap(c.scenario.Params(cfg, 1)).Hi
			if o := stats.Summarize(overlaps); o.N > 0 {
				fmt.Fprintf(w, "; %d overlapped, longest %v (the arithmetic allows up to %v): the margin breaks", overlapped, o.Max.Round(time.Millisecond), allowed)
			} else if allowed > 0 {
				fmt.Fprintf(w, "; none overlapped, though the arithmetic allows up to %v", allowed)
			} else {
				fmt.Fprintf(w, "; no overlap")
			}
		case len(failovers) > 0:
			f := stats.Summarize(failovers)
			fmt.Fprintf(w, "; failovers min %v, median %v, max %v", f.Min.Round(time.Millisecond), f.Median.Round(time.Millisecond), f.Max.Round(time.Millisecond))
		}
		fmt.Fprintln(w)
		if first != 0 {
			fmt.Fprintf(w, "       first failing run: %s\n", runCommand(c.scenario.ID, first, set, n.candidates, n.latency))
		}
	}
	if n.drift > 0 {
		fmt.Fprintf(w, "  (clock drift is arithmetic only: the simulated candidates share one clock)\n")
	}
	miss := unmet(n, n.bounds(tm))
	meets := len(miss) == 1 && miss[0] == "yes"
	switch {
	case !agrees:
		fmt.Fprintf(w, "\nverdict: the simulator contradicts the arithmetic for %s (FAIL above)\n", scenarios.TimingLabel(tm))
		fmt.Fprintln(stderr, "leaderlab: the simulator contradicts client-go's arithmetic; replay the first failing run to see why")
	case !meets:
		fmt.Fprintf(w, "\nverdict: %s does not meet the requirements: %s\n", scenarios.TimingLabel(tm), strings.Join(miss, "; "))
	default:
		fmt.Fprintf(w, "\nverdict: %s meets every requirement, and the simulator agrees with the arithmetic\n", scenarios.TimingLabel(tm))
	}
	return agrees && meets
}

// lateCheckName names the check of case (a), which is (a) and (b) at once
// when the candidates release on cancel.
func lateCheckName(n needs) string {
	if n.releaseOnCancel {
		return "(a) late renews, then a partition, with ReleaseOnCancel: (a) and (b) at once"
	}
	return "(a) late renews, then a partition"
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// outageScenario is an API outage of d at a seeded point of the leader's
// renew cycle, after the first leader settled.
func outageScenario(d time.Duration, releaseOnCancel bool) scenarios.Scenario {
	s := scenarios.ShortOutage
	s.ID, s.Name = "outage", fmt.Sprintf("keeps leadership through an API outage of %v", d)
	s.Setup = func(o *sim.Options) { o.ReleaseOnCancel = releaseOnCancel }
	s.Expect = nil // the check is the requirement's, not ShortOutage's length
	s.Plan = func(c *sim.Cluster, p scenarios.Params) {
		c.AwaitLeader(p.Crash().Hi)
		c.Advance(p.Timing.LeaseDuration + time.Duration(p.Rand.Int64N(int64(p.MaxPoll()))))
		c.Outage(d)
		c.Advance(d + p.Crash().Hi)
	}
	return s
}
