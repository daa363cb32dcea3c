package explore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/internal/gotest"
	"github.com/leaderlab/leaderlab/sim"
)

// Options configure a search.
type Options struct {
	// Seed is the master seed: every schedule's seed and plan derive from
	// it and the schedule's index alone.
	Seed int64
	// Schedules is the budget: how many schedules to run (at least 1).
	Schedules int
	// Sim is the run each schedule starts from: the candidates (Run, such
	// as sim.Manager(setup); nil is client-go's elector alone), Candidates,
	// Timing, Latency, Scheme and CRDs.
	// Its Seed and Faults must be zero: they are the search's. Restart is
	// always on: a process that exits (a manager that lost its lease) is
	// started again, as its pod would be; so is SkipLeaderlessFaults: a
	// fault drawn for the leader at a leaderless instant does nothing.
	Sim sim.Options
	// Length is each schedule's fault phase, in virtual time (default 2
	// minutes); Quiet the phase after it with no faults and no actions, at
	// whose end the Eventually invariants must hold (default 2 LD + RD).
	Length, Quiet time.Duration
	// Vocabulary is what a schedule is drawn from (nil: Everything).
	Vocabulary []Move
	// MaxFaults is the most moves a schedule makes (default 3).
	MaxFaults int
	// Action is the outside world: it makes the i-th change the controllers
	// must act on, through c.Client(), at the start of the fault phase and
	// every ActionEvery (default RetryPeriod) until it ends. It must return
	// when ctx is done: an action that does not return within
	// ActionTimeout (default one LeaseDuration of virtual time) fails the
	// search. Nil makes no change.
	Action                     func(ctx context.Context, c *sim.Cluster, i int) error
	ActionEvery, ActionTimeout time.Duration
	// Always must hold in every state of every run (sim.History.Always);
	// Eventually in the state at the end of the quiet phase.
	Always, Eventually []Invariant
	// Shard runs only the schedules of one shard (schedule i belongs to
	// shard i mod Count); the zero value runs them all.
	Shard Shard
	// Shards, above 1, runs the search in that many worker processes of the
	// running test binary, each running the calling test (or, for a test
	// named after a benchmark, that benchmark once) with one shard, and
	// merges their results: the same result as one process, sooner on
	// several cores. OnSchedule is not called for the workers' schedules.
	Shards int
	// ShrinkRuns bounds the runs spent shrinking each failure (default
	// 200).
	ShrinkRuns int
	// MaxOverlap, when positive, is the user's own limit on an overlap
	// (two candidates acting as leader at once), foreign lease writes
	// included: a longer one fails CheckMaxOverlap.
	MaxOverlap time.Duration
	// StopOnFailure ends the search at the first schedule that fails a
	// check, once its failures are shrunk.
	StopOnFailure bool
	// OnSchedule, when set, is called after each schedule the search runs
	// (not the shrinking runs): a progress bar's tick.
	OnSchedule func()
	// Replay, when set, writes the command that replays a schedule; by
	// default it is the go test command of the running test with
	// ScheduleEnv set.
	Replay func(Schedule) string
	// Progress, when set, gets a line every tenth of the budget.
	Progress io.Writer

	testName string // the test Search runs in, for the replay command
	// workerArgs are more arguments for worker processes: a ginkgo
	// suite's flags and seed, so that they run its specs in its order.
	workerArgs []string
}

// Invariant is a named condition over the data objects of a run.
type Invariant struct {
	Name  string
	Check func(sim.State) error
}

// Shard is one of Count shards of a search (Index from 0).
type Shard struct{ Index, Count int }

// The checks a run can fail, besides the invariants ("always: NAME",
// "eventually: NAME").
const (
	// CheckUnserved: a request the simulated API server could not serve,
	// one of its own server errors, or a failed run.
	CheckUnserved = "unserved or failed"
	// CheckStale: a harmful stale write (sim.StaleWrite.Harmful).
	CheckStale = "harmful stale write"
	// CheckLost: a lost update (sim.LostUpdate).
	CheckLost = "lost update"
	// CheckOverlap: two candidates acted as leader at once for longer than
	// client-go's arithmetic allows (scenarios.Bounds.MaxOverlap), with no
	// foreign writer of the lease in the schedule.
	CheckOverlap = "overlap beyond the arithmetic"
	// CheckMaxOverlap: an overlap longer than Options.MaxOverlap.
	CheckMaxOverlap = "overlap longer than MaxOverlap"
)

// Failure is a schedule that failed a check, and the smallest schedule the
// search found that fails it the same way.
type Failure struct {
	Check   string `json:"check"`
	Message string `json:"message"`
	// Index is the schedule's place in the search; -1 for the one schedule
	// run from ScheduleEnv, which is not shrunk.
	Index    int      `json:"index"`
	Schedule Schedule `json:"schedule"`
	Shrunk   Schedule `json:"shrunk"`
	// ShrunkMessage is the shrunk schedule's evidence.
	ShrunkMessage string `json:"shrunkMessage"`
	// Replay is the command that runs the shrunk schedule again.
	Replay string `json:"replay"`
	// Rank is the failure's place among its schedule's failures, for Merge.
	Rank int `json:"rank"`
}

func (f Failure) String() string {
	if f.Index < 0 {
		return fmt.Sprintf("the schedule of %s fails %q: %s\n%s", ScheduleEnv, f.Check, f.Message, f.Schedule.GoString())
	}
	return fmt.Sprintf("schedule %d fails %q: %s\nshrunk to %d fault(s), %v long, %d candidate(s): %s\n%s\n%s",
		f.Index, f.Check, f.Message, len(f.Shrunk.Faults), f.Shrunk.Length, f.Shrunk.Candidates, f.ShrunkMessage, f.Shrunk.GoString(), f.Replay)
}

// Result is what a search did and found.
type Result struct {
	Seed      int64         `json:"seed"`
	Schedules int           `json:"schedules"`
	Virtual   time.Duration `json:"virtual"`
	// Failures are the first failure of each check, in the order found,
	// each shrunk.
	Failures []Failure `json:"failures"`
	// Failed counts the schedules that failed, by check.
	Failed map[string]int `json:"failed"`
	// Reached counts the faults injected, by kind, and TermEnds the terms
	// that ended during the schedules: what the search exercised. Of the
	// faults, AtLeaseWrites were applied as the target's lease write was
	// answered (Fault.AfterWrites), and AtTermEnds as a term ended
	// (Fault.AfterTermEnds).
	Reached       map[sim.FaultKind]int `json:"reached"`
	TermEnds      int                   `json:"termEnds"`
	AtLeaseWrites int                   `json:"atLeaseWrites"`
	AtTermEnds    int                   `json:"atTermEnds"`
}

// String is the summary: schedules, virtual time, failures by check with
// their shrunk plans, and what the schedules reached: faults by kind, term
// ends, and faults applied at a lease write's answer or a term's end.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "explore: seed %d, %d schedules, %v of virtual time\n", r.Seed, r.Schedules, r.Virtual)
	if len(r.Failures) == 0 {
		b.WriteString("no check failed\n")
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "FAILED %q in %d schedule(s); first: %s\n", f.Check, r.Failed[f.Check], f)
	}
	kinds := make([]string, 0, len(r.Reached))
	for k, n := range r.Reached {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(kinds)
	fmt.Fprintf(&b, "reached: %s; %d term ends; %d faults at a lease write, %d at a term's end\n",
		strings.Join(kinds, ", "), r.TermEnds, r.AtLeaseWrites, r.AtTermEnds)
	return b.String()
}

// ScheduleEnv names the environment variable that makes Search run one
// schedule (its JSON) instead of searching: the replay command sets it.
const ScheduleEnv = "LEADERLAB_SCHEDULE"

// Search runs o.Schedules schedules with t, one after another, checks each
// run, shrinks the first failure of each check and returns what it found.
// It fails nothing itself: the caller decides (a search that must find
// nothing fails the test on len(Failures) > 0). With ScheduleEnv set it
// runs that schedule alone. The error is for bad options and for an
// invariant that panics or an action that blocks.
func Search(t *testing.T, o Options) (*Result, error) {
	o.testName = t.Name()
	if o.Schedules < 1 {
		return nil, fmt.Errorf("explore: Schedules (%d) must be at least 1", o.Schedules)
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	call, earlier := searchCall(t)
	var res *Result
	w := os.Getenv(workerEnv)
	n, spec, _ := strings.Cut(w, "@")
	target, _ := strconv.Atoi(n)
	switch {
	case w != "" && call == target:
		o.work(t, spec, call) // never returns
	case w != "" && call < target:
		res, err = o.earlierCall(spec, call)
	case o.Shards > 1:
		res, err = o.runWorkers(call, earlier)
	default:
		res, err = o.search(t)
	}
	recordCall(t, o, res, err)
	return res, err
}

// search runs the search in this process.
func (o Options) search(t *testing.T) (*Result, error) {
	res := &Result{Seed: o.Seed, Failed: map[string]int{}, Reached: map[sim.FaultKind]int{}}
	if js := os.Getenv(ScheduleEnv); js != "" {
		var s Schedule
		if err := json.Unmarshal([]byte(js), &s); err != nil {
			return nil, fmt.Errorf("explore: %s: %w", ScheduleEnv, err)
		}
		fails, err := o.check(t, s, res)
		if err != nil {
			return nil, err
		}
		for i, f := range fails {
			res.Failed[f.check]++
			res.Failures = append(res.Failures, Failure{Check: f.check, Message: f.message, Index: -1, Schedule: s, Shrunk: s, ShrunkMessage: f.message, Rank: i})
		}
		return res, nil
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "explore: seed %d, %d schedules\n", o.Seed, o.Schedules)
	}
	start := time.Now()
	for i := range o.Schedules {
		if o.Shard.Count > 1 && i%o.Shard.Count != o.Shard.Index {
			continue
		}
		s := o.draw(i)
		fails, err := o.check(t, s, res)
		if err != nil {
			return res, fmt.Errorf("explore: schedule %d: %w", i, err)
		}
		for rank, f := range fails {
			res.Failed[f.check]++
			if res.Failed[f.check] > 1 {
				continue
			}
			shrunk, msg, err := o.shrink(t, s, f)
			if err != nil {
				return res, fmt.Errorf("explore: shrinking schedule %d: %w", i, err)
			}
			res.Failures = append(res.Failures, Failure{Check: f.check, Message: f.message, Index: i, Schedule: s, Shrunk: shrunk, ShrunkMessage: msg,
				Replay: "replay: " + o.Replay(shrunk), Rank: rank})
		}
		if o.OnSchedule != nil {
			o.OnSchedule()
		}
		if len(fails) > 0 && o.StopOnFailure {
			break
		}
		if o.Progress != nil && (i+1)%max(1, o.Schedules/10) == 0 {
			fmt.Fprintf(o.Progress, "explore: %d/%d schedules, %d failed, %v\n", i+1, o.Schedules, sum(res.Failed), time.Since(start).Round(time.Millisecond))
		}
	}
	return res, nil
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Vocabulary != nil && len(o.Vocabulary) == 0:
		return o, errors.New("explore: Vocabulary is empty: a schedule would have nothing to inject (nil means Everything)")
	case o.Sim.Seed != 0 || len(o.Sim.Faults) > 0:
		return o, errors.New("explore: Sim.Seed and Sim.Faults must be zero: each schedule draws its own")
	case o.Length < 0 || o.Quiet < 0 || o.ActionEvery < 0 || o.ActionTimeout < 0 || o.MaxFaults < 0 || o.ShrinkRuns < 0:
		return o, errors.New("explore: Length, Quiet, ActionEvery, ActionTimeout, MaxFaults and ShrinkRuns must not be negative")
	case o.Shards < 0:
		return o, fmt.Errorf("explore: Shards (%d) must not be negative", o.Shards)
	case o.Shard.Count < 0 || (o.Shard.Count > 0 && (o.Shard.Index < 0 || o.Shard.Index >= o.Shard.Count)):
		return o, fmt.Errorf("explore: Shard %d of %d: Index must be in [0, Count)", o.Shard.Index, o.Shard.Count)
	}
	for _, inv := range append(slices.Clip(o.Always), o.Eventually...) {
		if inv.Name == "" || inv.Check == nil {
			return o, fmt.Errorf("explore: invariant %q needs a Name and a Check", inv.Name)
		}
	}
	if err := o.Sim.Validate(); err != nil {
		return o, fmt.Errorf("explore: %w", err)
	}
	o.Sim.Restart, o.Sim.SkipLeaderlessFaults, o.Sim.AllowOverlap = true, true, true
	t := o.Sim.WithDefaults().Timing
	if o.Sim.Candidates == 0 {
		o.Sim.Candidates = o.Sim.WithDefaults().Candidates
	}
	if o.Vocabulary == nil {
		o.Vocabulary = Everything
	}
	if o.Length == 0 {
		o.Length = 2 * time.Minute
	}
	if o.Quiet == 0 {
		o.Quiet = 2*t.LeaseDuration + t.RenewDeadline
	}
	if o.MaxFaults == 0 {
		o.MaxFaults = 3
	}
	if o.ActionEvery == 0 {
		o.ActionEvery = t.RetryPeriod
	}
	if o.ActionTimeout == 0 {
		o.ActionTimeout = t.LeaseDuration
	}
	if o.ShrinkRuns == 0 {
		o.ShrinkRuns = 200
	}
	if o.Replay == nil {
		o.Replay = func(s Schedule) string {
			js, _ := json.Marshal(s)
			return fmt.Sprintf("%s='%s' %s", ScheduleEnv, js, gotest.Command(o.testName))
		}
	}
	return o, nil
}

// Draw returns schedule i of the search o describes, as Search runs it.
func (o Options) Draw(i int) (Schedule, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Schedule{}, err
	}
	return o.draw(i), nil
}

// draw is schedule i: a pure function of the master seed and i, so that
// every shard draws the same schedules.
func (o Options) draw(i int) Schedule {
	rng := rand.New(rand.NewPCG(uint64(o.Seed), uint64(i)))
	s := Schedule{Seed: rng.Int64N(1 << 31), Candidates: o.Sim.Candidates, Length: o.Length}
	env := drawEnv{rng: rng, timing: o.Sim.WithDefaults().Timing, candidates: o.Sim.Candidates, length: o.Length}
	for range 1 + rng.IntN(o.MaxFaults) {
		move := o.Vocabulary[rng.IntN(len(o.Vocabulary))]
		s.Faults = append(s.Faults, move.draw(&env)...)
	}
	slices.SortStableFunc(s.Faults, func(a, b sim.Fault) int { return int(a.At - b.At) })
	return s
}

// Merge combines the results of a search's shards (Options.Shard) into the
// result of the whole search: the same, byte for byte, whatever the number
// of shards, since every schedule and its shrinking depend on the master
// seed and its index alone.
func Merge(parts ...*Result) *Result {
	out := &Result{Failed: map[string]int{}, Reached: map[sim.FaultKind]int{}}
	var all []Failure
	for _, p := range parts {
		out.Seed = p.Seed
		out.Schedules += p.Schedules
		out.Virtual += p.Virtual
		out.TermEnds += p.TermEnds
		out.AtLeaseWrites += p.AtLeaseWrites
		out.AtTermEnds += p.AtTermEnds
		for k, n := range p.Failed {
			out.Failed[k] += n
		}
		for k, n := range p.Reached {
			out.Reached[k] += n
		}
		all = append(all, p.Failures...)
	}
	slices.SortStableFunc(all, func(a, b Failure) int {
		if a.Index != b.Index {
			return a.Index - b.Index
		}
		return a.Rank - b.Rank
	})
	seen := map[string]bool{}
	for _, f := range all {
		if !seen[f.Check] {
			seen[f.Check] = true
			out.Failures = append(out.Failures, f)
		}
	}
	return out
}

var (
	callsMu sync.Mutex
	calls   = map[*testing.T][]workerOut{}
)

// searchCall numbers the calls of Search by one run of a test, from 0, and
// returns the outcomes of the earlier ones: a worker process runs the test
// again, and takes over the call its parent made after answering the
// earlier calls with their outcomes in the parent, so that the test goes
// the same way there.
func searchCall(t *testing.T) (int, []workerOut) {
	callsMu.Lock()
	defer callsMu.Unlock()
	if _, ok := calls[t]; !ok {
		calls[t] = nil
		t.Cleanup(func() {
			callsMu.Lock()
			defer callsMu.Unlock()
			delete(calls, t)
		})
	}
	return len(calls[t]), slices.Clone(calls[t])
}

// recordCall notes the outcome of t's latest call of Search.
func recordCall(t *testing.T, o Options, res *Result, err error) {
	out := workerOut{Result: res, Options: o.key()}
	if err != nil {
		out.Error = err.Error()
	}
	callsMu.Lock()
	defer callsMu.Unlock()
	calls[t] = append(calls[t], out)
}
