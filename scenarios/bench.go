package scenarios

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega/gmeasure"

	"github.com/leaderlab/leaderlab/internal/stats"
	"github.com/leaderlab/leaderlab/sim"
)

// CommonTimings are timings users commonly run: LeaseDuration /
// RenewDeadline / RetryPeriod.
var CommonTimings = []sim.Timing{
	{LeaseDuration: 5 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second},        // fast failover, tests
	{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second},  // controller-runtime, kube-controller-manager
	{LeaseDuration: 30 * time.Second, RenewDeadline: 20 * time.Second, RetryPeriod: 5 * time.Second},  // doubled defaults
	{LeaseDuration: 60 * time.Second, RenewDeadline: 40 * time.Second, RetryPeriod: 10 * time.Second}, // fewer API writes
	{LeaseDuration: 137 * time.Second, RenewDeadline: 107 * time.Second, RetryPeriod: 26 * time.Second},
	{LeaseDuration: 270 * time.Second, RenewDeadline: 240 * time.Second, RetryPeriod: 60 * time.Second}, // single-node clusters
}

// BenchScenarios are the scenarios a Bench measures by default: the three
// failovers every deployment goes through.
var BenchScenarios = []Scenario{LeaderCrash, GracefulHandover, RollingRestart}

// Bench measures virtual failover times over many seeds, for each timing and
// scenario. The zero value measures BenchScenarios for CommonTimings with the
// default latency, three candidates and 200 seeds, and writes nothing.
type Bench struct {
	// Timings to measure; nil means CommonTimings.
	Timings []sim.Timing
	// Latency is each leg's latency; zero means sim.DefaultLatency.
	Latency sim.Dist
	// Candidates is the number of replicas; 0 means 3.
	Candidates int
	// Seeds is the number of runs per scenario and timing (seeds 1..Seeds);
	// 0 means 200.
	Seeds int
	// Scenarios to measure; nil means BenchScenarios. Each needs Failover.
	Scenarios []Scenario
	// Dir, when set, receives the table (failover-table.md), a histogram
	// per scenario (histogram-<id>.svg) and the timeline of one
	// representative run per scenario (timeline-<id>.svg).
	Dir string
	// Progress, when set, receives a line per quarter of the seeds.
	Progress io.Writer
	// Experiment, when set, records every failover and leaderless time as
	// gmeasure durations named "<id> <LD/RD/RP> failover" and "... leaderless".
	Experiment *gmeasure.Experiment
}

// Result is one scenario at one timing over all seeds.
type Result struct {
	Scenario   Scenario
	Timing     sim.Timing
	Candidates int
	// Window is the arithmetic's window for every failover (Scenario.Failover).
	Window Window
	// Failovers holds every failover of every run; Leaderless the leaderless
	// time of each run.
	Failovers  []time.Duration
	Leaderless []time.Duration
	// Outside counts failovers outside Window; Overlaps the runs with two
	// acting leaders at once.
	Outside, Overlaps int
	// Wall is the real time the runs took.
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

// TimingLabel is "LD/RD/RP", as in "15s/10s/2s" or "137s/107s/26s". Each
// duration is written as labelDuration writes it.
func TimingLabel(t sim.Timing) string {
	return labelDuration(t.LeaseDuration) + "/" + labelDuration(t.RenewDeadline) + "/" + labelDuration(t.RetryPeriod)
}

// labelDuration writes a whole number of seconds as seconds ("137s", not
// time.Duration's "2m17s"), because elector timings are set and compared in
// seconds and a table column of "2m17s/1m47s/26s" hides that; any other
// duration is written as time.Duration writes it ("500ms", "1.5s").
func labelDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.String()
}

// Benchmark runs the bench with t (one subtest per scenario and timing) and
// returns its results; with Bench.Dir set it also writes the table and the
// pictures there. It is the one call a downstream suite needs to measure its
// own timing and latency model:
//
//	results, err := scenarios.Benchmark(t, scenarios.Bench{
//		Timings: []sim.Timing{{LeaseDuration: 20 * time.Second, RenewDeadline: 15 * time.Second, RetryPeriod: 3 * time.Second}},
//		Latency: sim.Dist{Min: 5 * time.Millisecond, Max: 40 * time.Millisecond},
//		Dir:     "report",
//	})
func Benchmark(t *testing.T, b Bench) ([]Result, error) {
	timings, list := b.Timings, b.Scenarios
	if timings == nil {
		timings = CommonTimings
	}
	if list == nil {
		list = BenchScenarios
	}
	var results []Result
	for _, s := range list {
		if s.Failover == nil {
			return nil, fmt.Errorf("scenarios: Bench.Scenarios: %s has no Failover window to measure against", s.ID)
		}
		for _, tm := range timings {
			cfg := Config{Timing: tm, Candidates: b.Candidates, Latency: b.Latency}
			r, ok := b.measure(t, s, cfg)
			if !ok {
				return results, fmt.Errorf("scenarios: %s at %s failed (see the log of its subtest)", s.ID, TimingLabel(tm))
			}
			results = append(results, r)
		}
	}
	if b.Dir != "" {
		return results, WriteReport(b.Dir, results)
	}
	return results, nil
}

func (b Bench) seeds() int {
	if b.Seeds == 0 {
		return 200
	}
	return b.Seeds
}

// measure runs one scenario at one timing for every seed, in one subtest.
func (b Bench) measure(t *testing.T, s Scenario, cfg Config) (Result, bool) {
	p := s.Params(cfg, 0)
	r := Result{Scenario: s, Timing: p.Timing, Candidates: p.Options.Candidates, Window: s.Failover(p)}
	name := s.ID + " " + TimingLabel(p.Timing)
	var firsts []time.Duration // first failover of each run, by seed - 1
	start := time.Now()
	ok := t.Run(s.ID+"/"+strings.ReplaceAll(TimingLabel(p.Timing), "/", "-"), func(t *testing.T) {
		n := b.seeds()
		for seed := int64(1); seed <= int64(n); seed++ {
			rep := b.once(t, s, cfg, seed)
			first := time.Duration(-1)
			if len(rep.Failovers) > 0 {
				first = rep.Failovers[0].Duration
			}
			for _, f := range rep.Failovers {
				r.Failovers = append(r.Failovers, f.Duration)
				r.Outside += btoi(!r.Window.Contains(f.Duration))
				if b.Experiment != nil {
					b.Experiment.RecordDuration(name+" failover", f.Duration, gmeasure.Precision(time.Millisecond))
				}
			}
			firsts = append(firsts, first)
			r.Leaderless = append(r.Leaderless, rep.Leaderless)
			r.Overlaps += btoi(len(rep.Overlaps) > 0)
			if b.Experiment != nil {
				b.Experiment.RecordDuration(name+" leaderless", rep.Leaderless, gmeasure.Precision(time.Millisecond))
			}
			if b.Progress != nil && seed%int64(max(1, n/4)) == 0 {
				fmt.Fprintf(b.Progress, "%-32s %4d/%d seeds, %v\n", name, seed, n, time.Since(start).Round(time.Millisecond))
			}
		}
		r.Example = b.once(t, s, cfg, representative(firsts, stats.Summarize(r.Failovers).Median))
	})
	r.Wall = time.Since(start)
	return r, ok
}

// once runs one seed and fails t when the simulator cannot finish it.
func (b Bench) once(t *testing.T, s Scenario, cfg Config, seed int64) *sim.Report {
	t.Helper()
	var rep, partial *sim.Report
	if panicked := s.simulate(t, s.Params(cfg, seed), &rep, &partial); panicked != nil {
		t.Fatalf("scenarios: %s seed %d: the plan panicked: %v", s.ID, seed, panicked)
	}
	return rep
}

// representative is the seed whose first failover is nearest median.
func representative(firsts []time.Duration, median time.Duration) int64 {
	best := 0
	for i, d := range firsts {
		if d >= 0 && (firsts[best] < 0 || (d-median).Abs() < (firsts[best]-median).Abs()) {
			best = i
		}
	}
	return int64(best + 1)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// WriteTable writes results as a Markdown table: the failover distribution,
// the arithmetic's window and how many fell outside it, leaderless time per
// run, overlaps and wall time.
func WriteTable(w io.Writer, results []Result) error {
	var b strings.Builder
	b.WriteString("| scenario | LD/RD/RP | runs | failovers | min | median | p99 | max | arithmetic window | outside | leaderless median | leaderless max | overlaps | wall |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|\n")
	for _, r := range results {
		f, l := stats.Summarize(r.Failovers), stats.Summarize(r.Leaderless)
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s | %s | %s | %s .. %s | %d | %s | %s | %d | %s |\n",
			r.Scenario.ID, TimingLabel(r.Timing), len(r.Leaderless), f.N, ms(f.Min), ms(f.Median), ms(f.P99), ms(f.Max),
			ms(r.Window.Lo), ms(r.Window.Hi), r.Outside, ms(l.Median), ms(l.Max), r.Overlaps, r.Wall.Round(time.Millisecond))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ms prints a duration rounded to the millisecond.
func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// WriteReport writes the table, a histogram per scenario and a timeline per
// scenario into dir, creating it.
func WriteReport(dir string, results []Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("scenarios: report folder: %w", err)
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
		rs := byID[id]
		files["histogram-"+id+".svg"] = HistogramSVG(rs)
		// The timeline of the default timing when measured, else the first.
		ex := rs[0]
		for _, r := range rs {
			if r.Timing == (sim.Timing{}).WithDefaults() {
				ex = r
			}
		}
		if ex.Example != nil {
			files["timeline-"+id+".svg"] = ex.Example.SVG()
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("scenarios: report: %w", err)
		}
	}
	return nil
}
