package benchmark

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega/gmeasure"

	"github.com/leaderlab/leaderlab/internal/stats"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// Scenarios are the scenarios a Spec measures by default: the three
// failovers every deployment goes through.
var Scenarios = []scenarios.Scenario{scenarios.LeaderCrash, scenarios.GracefulHandover, scenarios.RollingRestart}

// Spec measures virtual failover times over many seeds, for each timing and
// scenario. The zero value measures Scenarios for scenarios.CommonTimings with the
// default latency, three candidates and 200 seeds, and writes nothing.
type Spec struct {
	// Timings to measure; nil means scenarios.CommonTimings.
	Timings []sim.Timing
	// Latency is each leg's latency; zero means sim.DefaultLatency.
	Latency sim.Dist
	// Candidates is the number of replicas; 0 means 3.
	Candidates int
	// Seeds is the number of runs per scenario and timing (seeds 1..Seeds);
	// 0 means 200.
	Seeds int
	// Scenarios to measure; nil means Scenarios. Each needs Failover.
	Scenarios []scenarios.Scenario
	// Dir, when set, receives the table (failover-table.md), a histogram
	// per scenario (histogram-<id>.svg) and the timeline of one
	// representative run per scenario (timeline-<id>.svg).
	Dir string
	// Progress, when set, receives a line per quarter of the seeds.
	Progress io.Writer
	// OnRun, when set, is called after every run, for a progress bar.
	OnRun func(s scenarios.Scenario, t sim.Timing, run SeedRun)
	// Shard, when its Count is above 1, measures only its slice of the seeds
	// and returns partial results (no Example, nothing written): Merge
	// combines the partials of every shard into what one Benchmark returns,
	// the same report included.
	Shard Shard
	// Experiment, when set, records every failover and leaderless time as
	// gmeasure durations named "<id> <LD/RD/RP> failover" and "... leaderless".
	Experiment *gmeasure.Experiment
}

// Shard is slice Index (1-based) of Count contiguous slices of a bench's
// seeds, equal within a seed, so that separate processes or machines can
// share a sweep: each seed replays exactly wherever it runs, so the merged
// results are the same as those of one process. The zero Shard is the whole
// range.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Seeds is the shard's slice of the seeds 1..n: [lo, hi], empty when
// lo > hi (more shards than seeds).
func (sh Shard) Seeds(n int) (lo, hi int64) {
	if sh.Count <= 1 {
		return 1, int64(n)
	}
	return int64((sh.Index-1)*n/sh.Count) + 1, int64(sh.Index * n / sh.Count)
}

// Validate reports a shard outside 1..Count.
func (sh Shard) Validate() error {
	if sh == (Shard{}) {
		return nil
	}
	if sh.Count < 1 || sh.Index < 1 || sh.Index > sh.Count {
		return fmt.Errorf("benchmark: shard %d/%d: the index must lie in 1..%d", sh.Index, sh.Count, max(sh.Count, 1))
	}
	return nil
}

func (sh Shard) String() string { return fmt.Sprintf("%d/%d", sh.Index, sh.Count) }

// SeedRun is what one run of a Result measured.
type SeedRun struct {
	Seed int64 `json:"seed"`
	// Failovers in the order they happened.
	Failovers  []time.Duration `json:"failovers"`
	Leaderless time.Duration   `json:"leaderless"`
	// Overlap is whether two candidates acted as leader at once.
	Overlap bool `json:"overlap,omitempty"`
}

// Result is one scenario at one timing over all seeds.
type Result struct {
	Scenario   scenarios.Scenario
	Timing     sim.Timing
	Candidates int
	// Window is the arithmetic's window for every failover (Scenario.Failover).
	Window scenarios.Window
	// Failovers holds every failover of every run; Leaderless the leaderless
	// time of each run.
	Failovers  []time.Duration
	Leaderless []time.Duration
	// Outside counts failovers outside Window; Overlaps the runs with two
	// acting leaders at once.
	Outside, Overlaps int
	// Runs are the runs by seed, from which the fields above are derived.
	Runs []SeedRun
	// Wall is the real time the runs took in this process (the progress
	// lines show it; the table does not, so that tables of the same seeds
	// compare byte for byte wherever they ran).
	Wall time.Duration
	// Example is a representative run: the seed whose first failover is
	// nearest the median, run again (replay is exact, so it is the same run).
	Example *sim.Report
}

// Summary is the nearest-rank distribution of a set of durations: N, Min,
// Median, P90, P99 and Max, each a value that was measured.
type Summary = stats.Summary

// FailoverSummary is the distribution of r's failovers.
func (r Result) FailoverSummary() Summary { return stats.Summarize(r.Failovers) }

// Benchmark runs the bench with t (one subtest per scenario and timing) and
// returns its results; with Spec.Dir set (and no Spec.Shard) it also
// writes the table and the pictures there. It is the one call a downstream suite needs to measure its
// own timing and latency model:
//
//	results, err := benchmark.Run(t, benchmark.Spec{
//		Timings: []sim.Timing{{LeaseDuration: 20 * time.Second, RenewDeadline: 15 * time.Second, RetryPeriod: 3 * time.Second}},
//		Latency: sim.Dist{Min: 5 * time.Millisecond, Max: 40 * time.Millisecond},
//		Dir:     "report",
//	})
func Run(t *testing.T, b Spec) ([]Result, error) {
	timings, list := b.Timings, b.Scenarios
	if timings == nil {
		timings = scenarios.CommonTimings
	}
	if list == nil {
		list = Scenarios
	}
	if err := b.Shard.Validate(); err != nil {
		return nil, err
	}
	var results []Result
	for _, s := range list {
		if s.Failover == nil {
			return nil, fmt.Errorf("benchmark: Spec.Scenarios: %s has no Failover window to measure against", s.ID)
		}
		for _, tm := range timings {
			cfg := scenarios.Config{Timing: tm, Candidates: b.Candidates, Latency: b.Latency}
			r, ok := b.measure(t, s, cfg)
			if !ok {
				return results, fmt.Errorf("benchmark: %s at %s failed (see the log of its subtest)", s.ID, scenarios.TimingLabel(tm))
			}
			results = append(results, r)
		}
	}
	if b.Dir != "" && b.Shard.Count <= 1 {
		return results, WriteReport(b.Dir, results)
	}
	return results, nil
}

func (b Spec) seeds() int {
	if b.Seeds == 0 {
		return 200
	}
	return b.Seeds
}

// measure runs one scenario at one timing for every seed of the bench's
// shard, in one subtest.
func (b Spec) measure(t *testing.T, s scenarios.Scenario, cfg scenarios.Config) (Result, bool) {
	p := s.Params(cfg, 0)
	r := Result{Scenario: s, Timing: p.Timing, Candidates: p.Options.Candidates, Window: s.Failover(p)}
	name := s.ID + " " + scenarios.TimingLabel(p.Timing)
	start := time.Now()
	ok := t.Run(s.ID+"/"+strings.ReplaceAll(scenarios.TimingLabel(p.Timing), "/", "-"), func(t *testing.T) {
		lo, hi := b.Shard.Seeds(b.seeds())
		for seed := lo; seed <= hi; seed++ {
			run := runOf(b.once(t, s, cfg, seed))
			r.add(run)
			if b.Experiment != nil {
				for _, f := range run.Failovers {
					b.Experiment.RecordDuration(name+" failover", f, gmeasure.Precision(time.Millisecond))
				}
				b.Experiment.RecordDuration(name+" leaderless", run.Leaderless, gmeasure.Precision(time.Millisecond))
			}
			if b.OnRun != nil {
				b.OnRun(s, r.Timing, run)
			}
			if n := hi - lo + 1; b.Progress != nil && (seed-lo+1)%max(1, n/4) == 0 {
				fmt.Fprintf(b.Progress, "%-32s %4d/%d seeds, %v\n", name, seed-lo+1, n, time.Since(start).Round(time.Millisecond))
			}
		}
		if b.Shard.Count <= 1 {
			r.Example = b.once(t, s, cfg, r.representative())
		}
	})
	r.Wall = time.Since(start)
	return r, ok
}

// runOf is what a bench keeps of one run.
func runOf(rep *sim.Report) SeedRun {
	run := SeedRun{Seed: rep.Seed, Leaderless: rep.Leaderless, Overlap: len(rep.Overlaps) > 0}
	for _, f := range rep.Failovers {
		run.Failovers = append(run.Failovers, f.Duration)
	}
	return run
}

// add counts one run into r.
func (r *Result) add(run SeedRun) {
	r.Runs = append(r.Runs, run)
	for _, f := range run.Failovers {
		r.Failovers = append(r.Failovers, f)
		r.Outside += btoi(!r.Window.Contains(f))
	}
	r.Leaderless = append(r.Leaderless, run.Leaderless)
	r.Overlaps += btoi(run.Overlap)
}

// Merge combines the partial results of a bench's shards (Spec.Shard) into
// the results one Benchmark of the whole seed range returns: the runs of
// each scenario and timing in seed order, and the representative runs that
// a report draws (Drawn), run again here; the other results have no
// Example. b must be the bench the shards ran, without its Shard; every
// seed must be there exactly once. With b.Dir set it writes the report too.
func (b Spec) Merge(t *testing.T, parts ...[]Result) ([]Result, error) {
	type key struct {
		id     string
		timing sim.Timing
	}
	var order []key
	runs := map[key][]SeedRun{}
	first := map[key]Result{}
	for _, part := range parts {
		for _, r := range part {
			k := key{r.Scenario.ID, r.Timing}
			if _, seen := first[k]; !seen {
				order = append(order, k)
				first[k] = r
			}
			runs[k] = append(runs[k], r.Runs...)
		}
	}
	var results []Result
	for _, k := range order {
		f := first[k]
		cfg := scenarios.Config{Timing: k.timing, Candidates: b.Candidates, Latency: b.Latency}
		p := f.Scenario.Params(cfg, 0)
		if f.Scenario.Failover == nil {
			return nil, fmt.Errorf("benchmark: merge: %s has no Failover window to measure against", k.id)
		}
		all := slices.SortedFunc(slices.Values(runs[k]), func(a, b SeedRun) int { return cmp.Compare(a.Seed, b.Seed) })
		for i, run := range all {
			if run.Seed != int64(i+1) {
				return nil, fmt.Errorf("benchmark: merge: %s at %s: expected seed %d, found seed %d: every seed 1..%d exactly once (a shard missing or given twice?)",
					k.id, scenarios.TimingLabel(k.timing), i+1, run.Seed, b.seeds())
			}
		}
		if len(all) != b.seeds() {
			return nil, fmt.Errorf("benchmark: merge: %s at %s: %d of %d seeds (a shard missing?)", k.id, scenarios.TimingLabel(k.timing), len(all), b.seeds())
		}
		r := Result{Scenario: f.Scenario, Timing: p.Timing, Candidates: p.Options.Candidates, Window: f.Scenario.Failover(p)}
		for _, run := range all {
			r.add(run)
		}
		results = append(results, r)
	}
	// Only the examples a report draws run again: they are what the merge
	// must do alone, after every shard, so they are kept few.
	for _, i := range Drawn(results) {
		r := &results[i]
		start := time.Now()
		ok := t.Run(r.Scenario.ID+"/"+strings.ReplaceAll(scenarios.TimingLabel(r.Timing), "/", "-")+"/example", func(t *testing.T) {
			cfg := scenarios.Config{Timing: r.Timing, Candidates: b.Candidates, Latency: b.Latency}
			r.Example = b.once(t, r.Scenario, cfg, r.representative())
		})
		if !ok {
			return results, fmt.Errorf("benchmark: %s at %s: the representative run failed (see the log of its subtest)", r.Scenario.ID, scenarios.TimingLabel(r.Timing))
		}
		r.Wall = time.Since(start)
	}
	if b.Dir != "" {
		return results, WriteReport(b.Dir, results)
	}
	return results, nil
}

// once runs one seed and fails t when the simulator cannot finish it.
func (b Spec) once(t *testing.T, s scenarios.Scenario, cfg scenarios.Config, seed int64) *sim.Report {
	t.Helper()
	return s.Simulate(t, cfg, seed)
}

// representative is the seed whose first failover is nearest the median of
// all failovers (the first seed when no run failed over; 0 without runs).
func (r Result) representative() int64 {
	if len(r.Runs) == 0 {
		return 0
	}
	median := stats.Summarize(r.Failovers).Median
	best := -1
	for i, run := range r.Runs {
		if len(run.Failovers) > 0 && (best < 0 || (run.Failovers[0]-median).Abs() < (r.Runs[best].Failovers[0]-median).Abs()) {
			best = i
		}
	}
	if best < 0 {
		return r.Runs[0].Seed
	}
	return r.Runs[best].Seed
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// WriteTable writes results as a Markdown table: the failover distribution,
// the arithmetic's window and how many fell outside it, leaderless time per
// run and overlaps. It has no wall time, so that the tables of the same seeds
// are byte-identical wherever and however they ran.
func WriteTable(w io.Writer, results []Result) error {
	var b strings.Builder
	b.WriteString("| scenario | LD/RD/RP | runs | failovers | min | median | p99 | max | arithmetic window | outside | leaderless median | leaderless max | overlaps |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|\n")
	for _, r := range results {
		f, l := stats.Summarize(r.Failovers), stats.Summarize(r.Leaderless)
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s | %s | %s | %s .. %s | %d | %s | %s | %d |\n",
			r.Scenario.ID, scenarios.TimingLabel(r.Timing), len(r.Leaderless), f.N, ms(f.Min), ms(f.Median), ms(f.P99), ms(f.Max),
			ms(r.Window.Lo), ms(r.Window.Hi), r.Outside, ms(l.Median), ms(l.Max), r.Overlaps)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ms prints a duration rounded to the millisecond.
func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// Drawn returns the indexes of the results whose representative run
// WriteReport draws as a timeline, one per scenario in the order of results:
// the result at the default timing when it was measured, else the
// scenario's first.
func Drawn(results []Result) []int {
	var out []int
	at := map[string]int{} // scenario ID -> its place in out
	for i, r := range results {
		k, seen := at[r.Scenario.ID]
		switch {
		case !seen:
			at[r.Scenario.ID] = len(out)
			out = append(out, i)
		case r.Timing == (sim.Timing{}).WithDefaults():
			out[k] = i
		}
	}
	return out
}

// WriteReport writes the table, a histogram per scenario and a timeline per
// scenario into dir, creating it.
func WriteReport(dir string, results []Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("benchmark: report folder: %w", err)
	}
	var table strings.Builder
	if err := WriteTable(&table, results); err != nil {
		return err
	}
	files := map[string][]byte{"failover-table.md": []byte(table.String())}
	var order []string
	byID := map[string][]Result{}
	for _, r := range results {
		if _, seen := byID[r.Scenario.ID]; !seen {
			order = append(order, r.Scenario.ID)
		}
		byID[r.Scenario.ID] = append(byID[r.Scenario.ID], r)
	}
	for _, id := range order {
		files["histogram-"+id+".svg"] = HistogramSVG(byID[id])
	}
	for _, i := range Drawn(results) {
		if ex := results[i].Example; ex != nil {
			files["timeline-"+results[i].Scenario.ID+".svg"] = ex.SVG()
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("benchmark: report: %w", err)
		}
	}
	return nil
}
