package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	"github.com/leaderlab/leaderlab/internal/gotest"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/scenarios/benchmark"
	"github.com/leaderlab/leaderlab/sim"
)

// benchFlags are the flags of bench.
type benchFlags struct {
	outputFlags
	timing, latency, scenarios, shard, progress string
	candidates, seeds, shards                   int
}

// spec is what a bench measures, as partial results record it so that merge
// can check that the shards measured the same and run the representative
// runs again.
type spec struct {
	Timings    []sim.Timing `json:"timings"`
	Candidates int          `json:"candidates"`
	Latency    sim.Dist     `json:"latency"`
	Seeds      int          `json:"seeds"`
	Scenarios  []string     `json:"scenarios"`
}

func (s spec) bench() benchmark.Spec {
	b := benchmark.Spec{Timings: s.Timings, Candidates: s.Candidates, Latency: s.Latency, Seeds: s.Seeds}
	for _, id := range s.Scenarios {
		sc, _ := scenarios.Lookup(id)
		b.Scenarios = append(b.Scenarios, sc)
	}
	return b
}

// runs is the number of runs of a whole bench.
func (s spec) runs() int { return len(s.Timings) * len(s.Scenarios) * s.Seeds }

// partial is the file a shard writes and merge reads.
type partial struct {
	Kind    string             `json:"kind"`
	Spec    spec               `json:"spec"`
	Shard   benchmark.Shard    `json:"shard"`
	Results []benchmark.Result `json:"results"`
}

const partialKind = "leaderlab-bench-partial"

func partialName(sh benchmark.Shard) string {
	return fmt.Sprintf("partial-%d-of-%d.json", sh.Index, sh.Count)
}

func newBench() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure failover times over many seeds; table on stdout, report in --out",
		Long: "bench runs each scenario at each timing for seeds 1..--seeds and measures every failover in\n" +
			"virtual time against the window client-go's arithmetic allows. It prints the table and writes\n" +
			"--out: failover-table.md and .json, an SVG histogram per scenario, the timeline of a\n" +
			"representative run per scenario, and index.html showing them all.\n\n" +
			"--shards N runs N worker processes and merges their results (the same output as one process);\n" +
			"--shard I/N runs one slice of the seeds and writes --out/partial-I-of-N.json for leaderlab merge.\n\n" +
			"A preset gives bench its timing only: bench's scenarios do not depend on ReleaseOnCancel or the\n" +
			"client timeout (handover and rolling-restart set ReleaseOnCancel themselves, a crashed leader\n" +
			"cannot release, and no request hangs). leaderlab run and advise use all of a preset.\n\n" + presetHelp(),
		Example: "  leaderlab bench --timing default,openshift --seeds 100 --out report\n" +
			"  leaderlab bench --timing 20s/15s/3s --latency 5ms..40ms --shards 2\n" +
			"  leaderlab bench --shard 2/8 --out /partials && leaderlab merge /partials/*.json --out report",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.timing, "timing", "common", "timings LD/RD/RP, comma-separated, or presets: "+scenarios.PresetNames()+", common (all of scenarios.CommonTimings)")
	fl.IntVar(&f.candidates, "candidates", 3, "candidates (replicas) per run")
	fl.StringVar(&f.latency, "latency", sim.DefaultLatency.String(), "latency of each request leg: fixed (2ms) or uniform (1ms..3ms)")
	fl.StringVar(&f.scenarios, "scenarios", scenarioList(benchmark.Scenarios), "scenarios to measure: "+scenarioIDs(true))
	fl.IntVar(&f.seeds, "seeds", 200, "seeds per scenario and timing (seeds 1..N)")
	fl.IntVar(&f.shards, "shards", 1, "worker processes to share the seeds among")
	fl.StringVar(&f.shard, "shard", "", "run only slice I/N of the seeds and write a partial result for merge")
	fl.StringVar(&f.progress, "progress", "auto", "progress on stderr: auto (a bar on a terminal, lines otherwise), bar, lines or none")
	f.register(cmd)
	return cmd
}

// noArgs rejects positional arguments as bad usage.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.Name(), args)
	}
	return nil
}

// parse checks every flag and returns the bench's spec.
func (f benchFlags) parse() (spec, error) {
	timings, err := parseTimings("--timing", f.timing)
	if err != nil {
		return spec{}, err
	}
	lat, err := parseLatency("--latency", f.latency)
	if err != nil {
		return spec{}, err
	}
	list, err := parseScenarios("--scenarios", f.scenarios)
	if err != nil {
		return spec{}, err
	}
	for _, c := range []struct {
		flag   string
		v, min int
	}{{"--candidates", f.candidates, 1}, {"--seeds", f.seeds, 1}, {"--shards", f.shards, 1}} {
		if err := atLeast(c.flag, c.v, c.min); err != nil {
			return spec{}, err
		}
	}
	if f.shard != "" && f.shards != 1 {
		return spec{}, usagef("--shard and --shards exclude each other: --shard runs one slice here, --shards runs them all in worker processes")
	}
	if f.shards > f.seeds {
		return spec{}, usagef("--shards (%d) must not exceed --seeds (%d): every worker needs a seed", f.shards, f.seeds)
	}
	if _, err := newProgress(io.Discard, f.progress, 0); err != nil {
		return spec{}, err
	}
	s := spec{Timings: timings, Candidates: f.candidates, Latency: lat, Seeds: f.seeds}
	for _, sc := range list {
		s.Scenarios = append(s.Scenarios, sc.ID)
	}
	return s, nil
}

func (f benchFlags) run(cmd *cobra.Command) error {
	s, err := f.parse()
	if err != nil {
		return err
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.shard != "" {
		sh, err := parseShard("--shard", f.shard)
		if err != nil {
			return err
		}
		if sh.Count > s.Seeds {
			return usagef("--shard %v: N (%d) must not exceed --seeds (%d): every shard needs a seed", sh, sh.Count, s.Seeds)
		}
		return f.runShard(s, sh, stderr)
	}
	if f.shards > 1 {
		return f.runShards(s, stdout, stderr)
	}
	prog, _ := newProgress(stderr, f.progress, s.runs())
	withT(stderr, func(t *testing.T) int {
		b := s.bench()
		b.OnRun = func(scenarios.Scenario, sim.Timing, benchmark.SeedRun) { prog.tick() }
		results, err := benchmark.Run(t, b)
		prog.done()
		if err != nil {
			fmt.Fprintf(stderr, "leaderlab: %v\n", err)
			return exitFailed
		}
		return report(results, s, f.out, f.json, stdout, stderr)
	})
	return nil
}

// runShard runs one slice of the seeds and writes its partial result.
func (f benchFlags) runShard(s spec, sh benchmark.Shard, stderr io.Writer) error {
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	lo, hi := sh.Seeds(s.Seeds)
	prog, _ := newProgress(stderr, f.progress, len(s.Timings)*len(s.Scenarios)*int(hi-lo+1))
	withT(stderr, func(t *testing.T) int {
		b := s.bench()
		b.Shard = sh
		b.OnRun = func(scenarios.Scenario, sim.Timing, benchmark.SeedRun) { prog.tick() }
		results, err := benchmark.Run(t, b)
		prog.done()
		if err != nil {
			fmt.Fprintf(stderr, "leaderlab: shard %v: %v\n", sh, err)
			return exitFailed
		}
		path := filepath.Join(f.out, partialName(sh))
		data, err := json.Marshal(partial{Kind: partialKind, Spec: s, Shard: sh, Results: results})
		if err == nil {
			err = writeAtOnce(path, append(data, '\n'))
		}
		if err != nil {
			fmt.Fprintf(stderr, "leaderlab: shard %v: %v\n", sh, err)
			return exitFailed
		}
		if f.progress != "ticks" {
			fmt.Fprintf(stderr, "shard %v (seeds %d..%d) written to %s\n", sh, lo, hi, path)
		}
		return exitOK
	})
	return nil
}

// writeAtOnce writes data to path through a temporary file and a rename, so
// that a reader that waits for the file (a merge step) never sees part of it.
func writeAtOnce(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// runShards runs every shard in a worker process of its own (the simulator
// replays exactly only with one run at a time per process: client-go's
// jitter draws from the process's global math/rand), then merges.
func (f benchFlags) runShards(s spec, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--shards: finding this program to start its workers: %w", err)
	}
	tmp, err := os.MkdirTemp("", "leaderlab-shards-")
	if err != nil {
		return err
	}
	prog, _ := newProgress(stderr, f.progress, s.runs())
	var wg sync.WaitGroup
	errs := make([]error, f.shards)
	for i := range f.shards {
		sh := benchmark.Shard{Index: i + 1, Count: f.shards}
		args := []string{"bench", "--shard", sh.String(), "--out", tmp, "--progress", "ticks",
			"--timing", timingLabels(s.Timings), "--candidates", strconv.Itoa(s.Candidates),
			"--latency", s.Latency.String(), "--scenarios", strings.Join(s.Scenarios, ","), "--seeds", strconv.Itoa(s.Seeds)}
		wg.Go(func() { errs[i] = worker(exe, args, sh, f.shards, prog, stderr, nil) })
	}
	wg.Wait()
	prog.done()
	if err := errors.Join(errs...); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	var parts []partial
	for i := range f.shards {
		p, err := readPartial(filepath.Join(tmp, partialName(benchmark.Shard{Index: i + 1, Count: f.shards})))
		if err != nil {
			_ = os.RemoveAll(tmp)
			return err
		}
		parts = append(parts, p)
	}
	_ = os.RemoveAll(tmp)
	return mergeAndReport(parts, f.out, f.json, stdout, stderr)
}

// worker runs one shard's process, counting its ticks into prog and passing
// its other lines of standard error on, prefixed with the shard; its
// standard output goes to stdout (nil: discarded).
func worker(exe string, args []string, sh benchmark.Shard, shards int, prog *progress, stderr, stdout io.Writer) error {
	cmd := exec.Command(exe, args...)
	cmd.Stdout = stdout
	cmd.Env = gotest.WorkerEnv(os.Environ(), shards)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("shard %v: %w", sh, err)
	}
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		if sc.Text() == tickLine {
			prog.tick()
			continue
		}
		prog.println(stderr, fmt.Sprintf("shard %v: %s", sh, sc.Text()))
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("shard %v: worker %s: %w", sh, exe, err)
	}
	return nil
}

// readPartial reads a shard's partial result.
func readPartial(path string) (partial, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return partial{}, err
	}
	var p partial
	if err := json.Unmarshal(data, &p); err != nil {
		return partial{}, usagef("%s: not a partial result of leaderlab bench --shard: %v", path, err)
	}
	if p.Kind != partialKind {
		return partial{}, usagef("%s: not a partial result of leaderlab bench --shard (kind %q, want %q)", path, p.Kind, partialKind)
	}
	return p, nil
}
