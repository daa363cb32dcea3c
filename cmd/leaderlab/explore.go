package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/leaderlab/leaderlab/explore"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/scenarios/benchmark"
	"github.com/leaderlab/leaderlab/sim"
)

// exploreFlags are explore's flags.
type exploreFlags struct {
	seed                   int64
	schedules, candidates  int
	maxFaults, shards      int
	timing, latency, moves string
	length, maxOverlap     string
	shard, schedule        string
	progress               string
	asJSON, merge          bool
	over                   overrideFlags
	// searchSpec is the search as flags (set by options), for partials.
	searchSpec string
}

func newExplore() *cobra.Command {
	var f exploreFlags
	cmd := &cobra.Command{
		Use:   "explore",
		Short: "Search fault schedules for one that breaks client-go's elector with a timing; shrink it; print how to replay it",
		Long: "explore runs --schedules fault schedules of the built-in elector (client-go's LeaderElector), each\n" +
			"drawn from --seed and its index: up to --max-faults moves (crash and restart, stop, partition,\n" +
			"black hole, outage, slow writes, renewals and requests, 5xx and 429 storms, overload, API\n" +
			"server restarts, a stale replica, watch delay, foreign lease deletes and overwrites, a rolling\n" +
			"update, a crash, API restart, lease delete or outage at the end of a term), aimed at the leader,\n" +
			"at its lease writes or at random instants, in a fault phase of --length, then a quiet phase.\n" +
			"Every run is checked: no request the simulated API server cannot serve, no overlap longer than\n" +
			"client-go's arithmetic allows, and with --max-overlap none longer than that. The first failure\n" +
			"of each check is shrunk and printed as Go (an explore.Schedule literal) with the command that\n" +
			"replays it. Exit status 1 when a check fails. --shards N runs N worker processes; the output is\n" +
			"the same for any N.\n\n" + presetHelp(),
		Example: "  leaderlab explore --schedules 1000 --seed 7\n" +
			"  leaderlab explore --timing 4s/3s/1s --max-overlap 0s --shards 2\n" +
			"  leaderlab explore --timing flux --moves partition,slow-renewals --json",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case f.merge && len(args) == 0:
				return usagef("--merge needs the partial results to merge, such as partials/explore-*-of-4.json")
			case !f.merge && len(args) > 0:
				return usagef("explore takes no arguments but with --merge, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(cmd, args) },
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.seed, "seed", 1, "the master seed: every schedule derives from it and its index")
	fl.IntVar(&f.schedules, "schedules", 200, "how many schedules to run")
	fl.StringVar(&f.timing, "timing", "default", "timing LD/RD/RP or a preset: "+scenarios.PresetNames())
	f.over.register(cmd)
	fl.IntVar(&f.candidates, "candidates", 3, "candidates (replicas)")
	fl.StringVar(&f.latency, "latency", sim.DefaultLatency.String(), "latency of each request leg: fixed (2ms) or uniform (1ms..3ms)")
	fl.StringVar(&f.length, "length", "2m", "each schedule's fault phase, in virtual time")
	fl.IntVar(&f.maxFaults, "max-faults", 3, "the most moves a schedule makes")
	fl.StringVar(&f.moves, "moves", "all", "the moves to draw from, comma-separated: "+moveNames())
	fl.StringVar(&f.maxOverlap, "max-overlap", "", "fail a run whose overlap (two leaders at once) is longer than this (0s: any), foreign lease writes included")
	fl.IntVar(&f.shards, "shards", 1, "worker processes to share the schedules among")
	fl.StringVar(&f.shard, "shard", "", "run shard I/N of the schedules here and print its partial result as JSON (what --shards workers do)")
	fl.BoolVar(&f.merge, "merge", false, "merge the partial results of --shard given as arguments (the same flags) and print the search's result")
	fl.StringVar(&f.schedule, "schedule", "", "run this one schedule (JSON, as a replay command gives it) instead of searching")
	fl.StringVar(&f.progress, "progress", "auto", "progress on stderr: auto, bar, lines or none")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	return cmd
}

// moveNames lists the vocabulary's moves.
func moveNames() string {
	return joinNames(explore.Everything, func(m explore.Move) (string, bool) { return m.Name, true })
}

// options turns the flags into a search.
func (f *exploreFlags) options(cmd *cobra.Command) (explore.Options, error) {
	set, err := parseTiming("--timing", f.timing, false)
	if err != nil {
		return explore.Options{}, err
	}
	set = f.over.apply(cmd, set)
	lat, err := parseLatency("--latency", f.latency)
	if err != nil {
		return explore.Options{}, err
	}
	for _, c := range []struct {
		flag   string
		v, min int
	}{{"--schedules", f.schedules, 1}, {"--candidates", f.candidates, 1}, {"--max-faults", f.maxFaults, 1}, {"--shards", f.shards, 1}} {
		if err := atLeast(c.flag, c.v, c.min); err != nil {
			return explore.Options{}, err
		}
	}
	length, err := time.ParseDuration(f.length)
	if err != nil || length < time.Second {
		return explore.Options{}, usagef("--length %q: want a duration of at least 1s, such as 2m", f.length)
	}
	o := explore.Options{Seed: f.seed, Schedules: f.schedules, Length: length, MaxFaults: f.maxFaults,
		Sim: sim.Options{Candidates: f.candidates, Timing: set.timing, Latency: lat, ReleaseOnCancel: set.releaseOnCancel, NoClientTimeout: set.noClientTimeout}}
	if f.maxOverlap != "" {
		d, err := time.ParseDuration(f.maxOverlap)
		if err != nil || d < 0 {
			return o, usagef("--max-overlap %q: want a duration such as 0s or 1.5s", f.maxOverlap)
		}
		o.MaxOverlap = max(d, time.Nanosecond) // 0s: any overlap at all
	}
	if f.moves != "all" {
		byName := map[string]explore.Move{}
		for _, m := range explore.Everything {
			byName[m.Name] = m
		}
		for _, name := range strings.Split(f.moves, ",") {
			m, ok := byName[strings.TrimSpace(name)]
			if !ok {
				return o, usagef("--moves: unknown move %q; moves: %s, or all", name, moveNames())
			}
			o.Vocabulary = append(o.Vocabulary, m)
		}
	}
	replayFlags := f.replayArgs(set, lat, length)
	f.searchSpec = fmt.Sprintf("%s --seed %d --schedules %d --candidates %d --max-faults %d --moves %s", replayFlags, f.seed, f.schedules, f.candidates, f.maxFaults, f.moves)
	o.Replay = func(s explore.Schedule) string {
		js, _ := json.Marshal(s)
		return "leaderlab explore " + replayFlags + " --schedule '" + string(js) + "'"
	}
	return o, nil
}

// replayArgs are the flags a replay command needs besides --schedule.
func (f exploreFlags) replayArgs(set setting, lat sim.Dist, length time.Duration) string {
	args := set.replayArgs() + " --latency " + lat.String() + " --length " + length.String()
	if f.maxOverlap != "" {
		args += " --max-overlap " + f.maxOverlap
	}
	return args
}

func (f *exploreFlags) run(cmd *cobra.Command, args []string) error {
	o, err := f.options(cmd)
	if err != nil {
		return err
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	switch {
	case f.merge:
		var parts [][]byte
		for _, path := range args {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			parts = append(parts, data)
		}
		return f.report(parts, stdout)
	case f.schedule != "":
		var s explore.Schedule
		if err := json.Unmarshal([]byte(f.schedule), &s); err != nil {
			return usagef("--schedule: not a schedule's JSON: %v", err)
		}
		withT(stderr, func(t *testing.T) int {
			fails, err := o.Check(t, s)
			if err != nil {
				fmt.Fprintf(stderr, "leaderlab: %v\n", err)
				return exitFailed
			}
			for _, line := range fails {
				fmt.Fprintln(stdout, "FAILED "+line)
			}
			if len(fails) > 0 {
				return exitFailed
			}
			fmt.Fprintln(stdout, "no check failed")
			return exitOK
		})
		return nil
	case f.shard != "" && f.shards != 1:
		return usagef("--shard and --shards exclude each other: --shard runs one shard here, --shards runs them all in worker processes")
	case f.shard != "":
		sh, err := parseShard("--shard", f.shard)
		if err != nil {
			return err
		}
		o.Shard = explore.Shard{Index: sh.Index - 1, Count: sh.Count}
		return f.search(o, shardSize(f.schedules, o.Shard), stderr, func(res *explore.Result) int {
			data, _ := json.Marshal(explorePartial{Kind: explorePartialKind, Search: f.searchSpec, Shard: sh.String(), Result: res})
			fmt.Fprintf(stdout, "%s\n", data)
			return exitOK
		})
	case f.shards > 1:
		parts, err := f.runShards(cmd, stderr)
		if err != nil {
			return err
		}
		return f.report(parts, stdout)
	}
	return f.search(o, f.schedules, stderr, func(res *explore.Result) int { return printExplore(res, f.asJSON, stdout) })
}

// search runs o, with progress over its total schedules, and exits with
// what done makes of the result.
func (f exploreFlags) search(o explore.Options, total int, stderr io.Writer, done func(*explore.Result) int) error {
	prog, err := newProgress(stderr, f.progress, total)
	if err != nil {
		return err
	}
	o.OnSchedule = prog.tick
	withT(stderr, func(t *testing.T) int {
		res, err := explore.Search(t, o)
		prog.done()
		if err != nil {
			fmt.Fprintf(stderr, "leaderlab: %v\n", err)
			return exitFailed
		}
		return done(res)
	})
	return nil
}

// shardSize is how many of n schedules shard sh runs.
func shardSize(n int, sh explore.Shard) int {
	return (n - sh.Index + sh.Count - 1) / sh.Count
}

// printExplore prints a search's result and returns the exit status: 1
// when a check failed.
func printExplore(res *explore.Result, asJSON bool, stdout io.Writer) int {
	if asJSON {
		data, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintf(stdout, "%s\n", data)
	} else {
		fmt.Fprint(stdout, res)
	}
	if len(res.Failures) > 0 {
		return exitFailed
	}
	return exitOK
}

// runShards runs every shard in a worker process of its own (see bench's)
// and merges their partial results.
func (f exploreFlags) runShards(cmd *cobra.Command, stderr io.Writer) ([][]byte, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("--shards: finding this program to start its workers: %w", err)
	}
	prog, err := newProgress(stderr, f.progress, f.schedules)
	if err != nil {
		return nil, err
	}
	var args []string
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if fl.Name != "shards" && fl.Name != "progress" && fl.Name != "json" {
			args = append(args, "--"+fl.Name+"="+fl.Value.String())
		}
	})
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, f.shards)
	errs := make([]error, f.shards)
	for i := range f.shards {
		sh := benchmark.Shard{Index: i + 1, Count: f.shards}
		wargs := append([]string{"explore", "--shard", sh.String(), "--progress", "ticks"}, args...)
		wg.Go(func() { errs[i] = worker(exe, wargs, sh, f.shards, prog, stderr, &outs[i]) })
	}
	wg.Wait()
	prog.done()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	parts := make([][]byte, f.shards)
	for i := range outs {
		parts[i] = outs[i].Bytes()
	}
	return parts, nil
}

// explorePartial is what explore --shard prints: the search it belongs to
// (its flags, as a replay command spells them), which shard, and the
// shard's result.
type explorePartial struct {
	Kind   string          `json:"kind"`
	Search string          `json:"search"`
	Shard  string          `json:"shard"`
	Result *explore.Result `json:"result"`
}

const explorePartialKind = "leaderlab-explore-partial"

// report merges the partial results of o's shards, checking that they are
// every shard of o once, and prints the result; an error when a check
// failed.
func (f exploreFlags) report(parts [][]byte, stdout io.Writer) error {
	search := f.searchSpec
	var results []*explore.Result
	seen := map[string]bool{}
	count := 0
	for i, data := range parts {
		var p explorePartial
		if err := json.Unmarshal(data, &p); err != nil || p.Kind != explorePartialKind || p.Result == nil {
			return usagef("partial %d: not a partial result of leaderlab explore --shard", i+1)
		}
		if p.Search != search {
			return usagef("partial %d (shard %s) is of another search: %s; these flags make %s", i+1, p.Shard, p.Search, search)
		}
		sh, err := parseShard("shard", p.Shard)
		if err != nil {
			return err
		}
		if seen[p.Shard] || (count != 0 && sh.Count != count) {
			return usagef("shard %s is given twice, or the shards are of different counts", p.Shard)
		}
		seen[p.Shard], count = true, sh.Count
		results = append(results, p.Result)
	}
	if len(seen) != count {
		return usagef("%d of %d shards given: every shard is needed once", len(seen), count)
	}
	res := explore.Merge(results...)
	if printExplore(res, f.asJSON, stdout) != exitOK {
		return fmt.Errorf("explore: %d check(s) failed", len(res.Failures))
	}
	return nil
}
