package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/leaderlab/leaderlab/internal/stats"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// operatorsCandidates and the default latency are the page's model: a
// Deployment of three replicas, an API answering in a few milliseconds.
const operatorsCandidates = 3

func newOperators() *cobra.Command {
	var seeds int
	cmd := &cobra.Command{
		Use:   "operators",
		Short: "Print docs/operators.md: what widely used controllers' leader-election settings do under faults",
		Long: "operators prints, as Markdown, the page docs/operators.md: for every preset (scenarios.Presets)\n" +
			"its settings and where they come from, client-go's arithmetic for them (scenarios.Bounds), what the\n" +
			"simulator measured over seeds 1..--seeds (crash failovers; the longest overlap of a partitioned\n" +
			"leader with ReleaseOnCancel and of one whose renews were answered late, with the seed that replays\n" +
			"it) and what advise would change. The simulator is deterministic per seed, so the same --seeds\n" +
			"prints the same page. Exit status 1 when a run contradicts the arithmetic (the page says which).\n\n" +
			"  leaderlab operators > docs/operators.md",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := atLeast("--seeds", seeds, 1); err != nil {
				return err
			}
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			withT(stderr, func(t *testing.T) int {
				if !writeOperators(t, stdout, seeds) {
					fmt.Fprintln(stderr, "leaderlab: the simulator contradicts client-go's arithmetic for a preset; the page names the first run that does")
					return exitFailed
				}
				return exitOK
			})
			return nil
		},
	}
	cmd.Flags().IntVar(&seeds, "seeds", 200, "seeds per preset and scenario (seeds 1..N)")
	return cmd
}

// presetSweep is what the page keeps of one scenario over the seeds.
type presetSweep struct {
	// runs is the number of runs; disagree those that contradict the
	// scenario's expectations or an invariant, the first at firstBad.
	runs, disagree int
	firstBad       int64
	// failovers are every run's failovers; slowest is the seed of the
	// longest.
	failovers []time.Duration
	slowest   int64
	// overlapped is the number of runs with an overlap; longest is the
	// longest overlap, in run seed.
	overlapped int
	longest    time.Duration
	seed       int64
	// allowed is the longest overlap the scenario's arithmetic allows.
	allowed time.Duration
}

// sweeper runs scenarios over seeds 1..seeds, once per distinct run
// options: presets that share settings share their runs.
type sweeper struct {
	t     *testing.T
	seeds int
	done  map[string]*presetSweep
}

func (sw *sweeper) run(s scenarios.Scenario, cfg scenarios.Config) *presetSweep {
	p := s.Params(cfg, 0)
	key := fmt.Sprintf("%s %+v", s.ID, p.Options)
	if r, ok := sw.done[key]; ok {
		return r
	}
	r := &presetSweep{}
	var slowest time.Duration
	if s.Overlap != nil {
		r.allowed = s.Overlap(p).Hi
	}
	for seed := int64(1); seed <= int64(sw.seeds); seed++ {
		rep, p := s.Run(sw.t, cfg, seed)
		r.runs++
		ok := rep != nil && len(rep.Violations) == 0
		if ok {
			ok, _ = s.Expect(p).Match(rep)
		}
		if !ok {
			r.disagree++
			if r.firstBad == 0 {
				r.firstBad = seed
			}
		}
		if rep == nil {
			continue
		}
		for _, f := range rep.Failovers {
			if r.slowest == 0 || f.Duration > slowest {
				r.slowest, slowest = seed, f.Duration
			}
			r.failovers = append(r.failovers, f.Duration)
		}
		if len(rep.Overlaps) > 0 {
			r.overlapped++
		}
		for _, o := range rep.Overlaps {
			if o.Duration > r.longest {
				r.longest, r.seed = o.Duration, seed
			}
		}
	}
	sw.done[key] = r
	return r
}

// row is one preset's arithmetic and measurements.
type row struct {
	p                    scenarios.Preset
	b                    scenarios.Bounds
	crash, release, late *presetSweep
}

// writeOperators writes the page for seeds 1..seeds. It returns false when
// a run contradicts the arithmetic.
func writeOperators(t *testing.T, w io.Writer, seeds int) bool {
	sw := &sweeper{t: t, seeds: seeds, done: map[string]*presetSweep{}}
	var rows []row
	agrees := true
	for _, p := range scenarios.Presets {
		cfg := p.Config(scenarios.Config{Candidates: operatorsCandidates})
		r := row{p: p, b: p.Bounds(sim.DefaultLatency),
			crash:   sw.run(scenarios.LeaderCrash, cfg),
			release: sw.run(scenarios.PartitionedLeaderWithRelease, cfg),
			late:    sw.run(scenarios.LateRenewsThenPartition, cfg)}
		for _, s := range []*presetSweep{r.crash, r.release, r.late} {
			agrees = agrees && s.disagree == 0
		}
		rows = append(rows, r)
	}
	writeOperatorsPage(w, rows, seeds)
	return agrees
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func writeOperatorsPage(w io.Writer, rows []row, seeds int) {
	fmt.Fprintf(w, `# What widely used controllers' leader-election settings do under faults

<!-- Generated by "leaderlab operators --seeds %d > docs/operators.md"; do not edit.
     TestOperatorsPageIsWhatTheCommandPrints fails when this page and the command disagree. -->

Every controller below elects its leader with client-go's elector. What it does when the leader
crashes, is cut off from the API, or gets its answers late follows from three settings: the
timing (LeaseDuration, RenewDeadline, RetryPeriod), whether the leader releases the lease when it
stops (ReleaseOnCancel), and the timeout of the lock's requests. This page gives, for each
controller as it ships: the settings and where they come from; client-go's arithmetic for them
(scenarios.Bounds, the one place it lives); what leaderlab's simulator measured with %d candidates,
latency %v per leg, seeds 1..%d, running real client-go electors; and what `+"`leaderlab advise`"+` would
change. Each controller is a preset: `+"`leaderlab run SCENARIO --timing PRESET --seed N`"+` replays a
figure, `+"`leaderlab advise --timing PRESET`"+` shows the whole analysis.

## Settings

| preset | controller | LD / RD / RP | ReleaseOnCancel | client timeout | source | version | not verified |
|---|---|---|---|---|---|---|---|
`, seeds, operatorsCandidates, sim.DefaultLatency, seeds)
	for _, r := range rows {
		p := r.p
		verified := p.Verified
		if verified == "" {
			verified = "(all checked)"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", p.Name, p.Controller, scenarios.TimingLabel(p.Timing),
			onOff(p.ReleaseOnCancel), timeoutCell(r.b), p.Source, p.Version, verified)
	}
	fmt.Fprintf(w, `
A client timeout of "none" is what a client-go lock built with resourcelock.New on a client whose
rest.Config has no Timeout gets: a request waits until its context ends, RenewDeadline after the
renew (or the release) began. Every other timeout in the table is max(RD/2, 1s), the one
controller-runtime (v0.20 and later) and resourcelock.NewFromKubeconfig set; the simulator models
both and no other.

## The arithmetic

The margin LD - RD - RP is how much later than the leader's own give-up a follower may take over.
(a) is the leader's last renew answered as late as its client accepts (the client timeout, or RD
without one), then a partition: the leader counts its deadline from the answer, followers count
the lease from the write. (b) is ReleaseOnCancel with the API unreachable: the leader acts on
while its release waits. Each overlaps the next leader for up to the figure given, or not at all
("none"); (a)+(b) is both at once, which a controller with ReleaseOnCancel can meet. The outage
kept is the longest API outage the leader keeps its lease through; the crash window is when a
follower takes over after the leader's process dies.

| preset | margin | (a) late answer | (b) release | (a)+(b) | outage kept | crash failover |
|---|---|---|---|---|---|---|
`)
	for _, r := range rows {
		b := r.b
		rel, both := "off", "off"
		if r.p.ReleaseOnCancel {
			rel = windowCell(releaseOverlap(b))
			both = windowCell(b.PartitionOverlap(sim.Fixed(b.LatestAnswer()), true))
		}
		fmt.Fprintf(w, "| %s | %v | %s | %s | %s | %v | %v |\n", r.p.Name, b.Margin(), windowCell(lateOverlap(b)), rel, both, b.OutageKept(), b.Crash())
	}
	fmt.Fprintf(w, `
## Measured in the simulator

Crash: the leader's process dies at a seeded point of its renew cycle (scenario crash).
Partition with release: the leader is cut off from the API and releases on cancel (scenario
partition-release, ReleaseOnCancel on whatever the preset says). Late renews: the leader's renews
are answered after 90%% of the latest answer its client accepts, then it is cut off (scenario
late-renews-partition, with the preset's ReleaseOnCancel: (a)+(b) when it is on). Each cell gives
how many of the %d runs overlapped, the longest overlap with its seed, and what the arithmetic
allows for that scenario; "agrees" is whether every run met the scenario's expectations.

| preset | crash failover median / max (seed) | partition-release: overlapped, longest (seed) / allowed | late-renews-partition: overlapped, longest (seed) / allowed | agrees |
|---|---|---|---|---|
`, seeds)
	for _, r := range rows {
		f := stats.Summarize(r.crash.failovers)
		fmt.Fprintf(w, "| %s | %v / %v (%d) | %s | %s | %s |\n", r.p.Name, f.Median.Round(time.Millisecond), f.Max.Round(time.Millisecond), r.crash.slowest,
			overlapMeasured(r.release), overlapMeasured(r.late), agreeCell(r))
	}
	fmt.Fprintf(w, `
## What advise would change

`+"`leaderlab advise --timing PRESET`"+` keeps RD and RP and raises LeaseDuration to the shortest whole
second whose margin covers the latest accepted answer (or the release's wait) and one leg
(Bounds.SafeLeaseDuration): that closes (a) and (b) each. With ReleaseOnCancel on, (a) and (b) at
once can still overlap with that LeaseDuration by what the last column says (advise prints it
too); turning ReleaseOnCancel off removes (b), and with it the combination.

| preset | LD / RD / RP now | advise's timing | (a)+(b) with advise's timing |
|---|---|---|---|
`)
	for _, r := range rows {
		b := r.b
		fixed := b
		fixed.Timing.LeaseDuration = max(b.SafeLeaseDuration(), r.p.Timing.LeaseDuration)
		advised := scenarios.TimingLabel(fixed.Timing)
		if fixed.Timing == r.p.Timing {
			advised += " (unchanged: the margin holds)"
		}
		both := "off"
		if r.p.ReleaseOnCancel {
			both = windowCell(fixed.PartitionOverlap(sim.Fixed(fixed.LatestAnswer()), true))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.p.Name, scenarios.TimingLabel(r.p.Timing), advised, both)
	}
	fmt.Fprintf(w, "\n## Notes\n\n")
	for _, r := range rows {
		if r.p.Note != "" {
			fmt.Fprintf(w, "- %s: %s.\n", r.p.Name, r.p.Note)
		}
	}
	fmt.Fprintf(w, "- Prometheus Operator and external-dns do not elect a leader.\n")
}

// windowCell is the longest overlap an overlap window allows, or "none".
func windowCell(o scenarios.Window) string {
	if o.Hi <= 0 {
		return "none"
	}
	return fmt.Sprintf("up to %v", o.Hi)
}

// overlapMeasured is a presetSweep's overlaps against what its scenario allows.
func overlapMeasured(s *presetSweep) string {
	allowed := "none"
	if s.allowed > 0 {
		allowed = s.allowed.String()
	}
	if s.overlapped == 0 {
		return fmt.Sprintf("0 of %d / %s", s.runs, allowed)
	}
	return fmt.Sprintf("%d of %d, %v (%d) / %s", s.overlapped, s.runs, s.longest.Round(time.Millisecond), s.seed, allowed)
}

// agreeCell says whether every run of the row met its scenario's
// expectations, and names the first that did not.
func agreeCell(r row) string {
	var bad []string
	for _, c := range []struct {
		id string
		s  *presetSweep
	}{{scenarios.LeaderCrash.ID, r.crash}, {scenarios.PartitionedLeaderWithRelease.ID, r.release}, {scenarios.LateRenewsThenPartition.ID, r.late}} {
		if c.s.disagree > 0 {
			bad = append(bad, fmt.Sprintf("NO: %d runs of %s, first seed %d", c.s.disagree, c.id, c.s.firstBad))
		}
	}
	if len(bad) == 0 {
		return "yes"
	}
	return strings.Join(bad, "; ")
}
