package explore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/leaderlab/leaderlab/internal/gotest"
)

// workerEnv tells a worker process which call of Search in the test is
// its, its shard and where to write its result: "CALL@INDEX/COUNT:PATH".
const workerEnv = "LEADERLAB_EXPLORE_WORKER"

// workerOut is what a worker writes: its shard's result, or why it failed;
// and, for a worker, what a call of Search by its test had as options
// (Options.key) and gave in the parent.
type workerOut struct {
	Result  *Result `json:"result,omitempty"`
	Error   string  `json:"error,omitempty"`
	Options string  `json:"options,omitempty"`
}

// runWorkers runs the search in o.Shards worker processes of this test
// binary, one at a time per process (a run replays exactly only alone in
// its process), and merges their results.
func (o Options) runWorkers(call int, earlier []workerOut) (*Result, error) {
	dir, err := os.MkdirTemp("", "leaderlab-explore-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	for i, out := range append(earlier, workerOut{Options: o.key()}) {
		data, err := json.Marshal(out)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(callPath(dir, i), data, 0o600); err != nil {
			return nil, err
		}
	}
	args := []string{"-test.count=1", "-test.run=" + gotest.RunPattern(o.testName)}
	if top, _, _ := strings.Cut(o.testName, "/"); strings.HasPrefix(top, "Benchmark") {
		args = []string{"-test.count=1", "-test.run=^$", "-test.bench=" + gotest.RunPattern(top), "-test.benchtime=1x"}
	}
	args = append(args, o.workerArgs...)
	parts := make([]*Result, o.Shards)
	errs := make([]error, o.Shards)
	var wg sync.WaitGroup
	for i := range o.Shards {
		out := filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		wg.Go(func() { parts[i], errs[i] = o.worker(args, call, i, out) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return Merge(parts...), nil
}

// worker runs shard i in a process of its own and reads its result.
func (o Options) worker(args []string, call, i int, out string) (*Result, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(gotest.WorkerEnv(os.Environ(), o.Shards), fmt.Sprintf("%s=%d@%d/%d:%s", workerEnv, call, i, o.Shards, out))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if o.Progress != nil {
		cmd.Stderr = o.Progress
	}
	runErr := cmd.Run()
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("explore: worker %d/%d (%s %s) wrote no result: %v", i, o.Shards, os.Args[0], strings.Join(args, " "), errors.Join(runErr, err))
	}
	var w workerOut
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("explore: worker %d/%d: %w", i, o.Shards, err)
	}
	if w.Error != "" {
		return nil, fmt.Errorf("explore: worker %d/%d: %s", i, o.Shards, w.Error)
	}
	return w.Result, nil
}

// callPath is where a worker finds its test's call of Search number
// call in the parent: its options, and its outcome when it came before the
// one the worker takes over.
func callPath(dir string, call int) string {
	return filepath.Join(dir, fmt.Sprintf("call-%d.json", call))
}

// parentCall reads the parent's call of Search number call (spec as in
// work) and checks that o is what it had as options: a test that makes
// other calls in the worker (a ginkgo suite that orders its specs at
// random) would otherwise get another search's outcome.
func (o Options) parentCall(spec string, call int) (workerOut, error) {
	_, path, _ := strings.Cut(spec, ":")
	var out workerOut
	data, err := os.ReadFile(callPath(filepath.Dir(path), call))
	if err == nil {
		err = json.Unmarshal(data, &out)
	}
	if err != nil {
		return out, fmt.Errorf("explore: worker: the test's call %d of Search in the parent: %w", call, err)
	}
	if got := o.key(); got != out.Options {
		return out, fmt.Errorf("explore: worker: the test's call %d of Search has other options here (%s) than in the parent (%s): a test that shards a search must make the same calls of Search in the same order every time it runs (in a ginkgo suite, DescribeSearch runs the workers with the suite's flags and random seed)", call, got, out.Options)
	}
	return out, nil
}

// earlierCall answers, in a worker, a call of Search its parent made before
// the one the worker takes over: with the outcome it had.
func (o Options) earlierCall(spec string, call int) (*Result, error) {
	out, err := o.parentCall(spec, call)
	switch {
	case err != nil:
		return nil, err
	case out.Error != "":
		return out.Result, errors.New(out.Error)
	}
	return out.Result, nil
}

// key names a search's options for parentCall: the master seed, the budget
// and what each schedule is drawn from.
func (o Options) key() string {
	moves := make([]string, len(o.Vocabulary))
	for i, m := range o.Vocabulary {
		moves[i] = m.Name
	}
	return fmt.Sprintf("seed %d, %d schedules, %d candidates, length %v, quiet %v, at most %d faults of %s",
		o.Seed, o.Schedules, o.Sim.Candidates, o.Length, o.Quiet, o.MaxFaults, strings.Join(moves, " "))
}

// work is a worker process's part: it runs the shard spec names, writes
// its result and exits, since the test that called Search has nothing
// more to do here.
func (o Options) work(t *testing.T, spec string, call int) {
	var out workerOut
	shard, path, _ := strings.Cut(spec, ":")
	if _, err := fmt.Sscanf(shard, "%d/%d", &o.Shard.Index, &o.Shard.Count); err != nil {
		out.Error = fmt.Sprintf("%s %q: %v", workerEnv, spec, err)
	} else if _, err := o.parentCall(spec, call); err != nil {
		out.Error = err.Error()
	} else {
		o.Progress = nil
		res, err := o.search(t)
		out.Result = res
		if err != nil {
			out.Error = err.Error()
		}
	}
	data, _ := json.Marshal(out)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "explore: worker: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}
