package explore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/leaderlab/leaderlab/examples/operator"
	"github.com/leaderlab/leaderlab/examples/statuscounter"
	"github.com/leaderlab/leaderlab/explore"
	"github.com/leaderlab/leaderlab/sim"
)

// mirrorSearch searches examples/operator's mirror, with its outside
// changes.
func mirrorSearch(guarded bool, seed int64, schedules int) explore.Options {
	return explore.Options{
		Seed: seed, Schedules: schedules,
		Sim:    sim.Options{Candidates: 3, Run: sim.Manager(operator.Mirror{Guarded: guarded}.Setup)},
		Action: func(_ context.Context, c *sim.Cluster, i int) error { return operator.Change(c, i) },
	}
}

// failure is res's failure of check, or nil.
func failure(res *explore.Result, check string) *explore.Failure {
	for i := range res.Failures {
		if res.Failures[i].Check == check {
			return &res.Failures[i]
		}
	}
	return nil
}

// The unguarded mirror's stale write (a merge patch without a
// resourceVersion, in flight across the end of its writer's term) is found
// and shrunk to at most two faults, and the shrunk schedule fails the same
// way when run again; the guarded mirror fails nothing.
func TestSearchFindsTheUnguardedMirrorsStaleWrite(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		o := mirrorSearch(false, seed, 200)
		o.StopOnFailure = true
		res, err := explore.Search(t, o)
		if err != nil {
			t.Fatal(err)
		}
		f := failure(res, explore.CheckStale)
		if f == nil {
			t.Fatalf("seed %d: no harmful stale write in %d schedules:\n%s", seed, res.Schedules, res)
		}
		if len(f.Shrunk.Faults) > 2 {
			t.Errorf("seed %d: shrunk to %d faults, want at most 2:\n%s", seed, len(f.Shrunk.Faults), f)
		}
		if !strings.Contains(f.ShrunkMessage, "patch configmaps default/source-mirror") || !strings.Contains(f.ShrunkMessage, "harmful: set data.v from ") {
			t.Errorf("seed %d: the shrunk schedule's evidence is not the mirror's patch setting data.v back: %s", seed, f.ShrunkMessage)
		}
		again, err := o.Check(t, f.Shrunk)
		if err != nil {
			t.Fatal(err)
		}
		if !slicesContainPrefix(again, explore.CheckStale+": ") {
			t.Errorf("seed %d: the shrunk schedule run again fails %q, want %q", seed, again, explore.CheckStale)
		}
	}
}

func slicesContainPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// mirrored holds once the controller has caught up: a search of a
// controller that never ran fails it.
var mirrored = explore.Invariant{Name: "the mirror holds the source's data", Check: func(s sim.State) error {
	src, dst := s.Get("configmaps", "default", "source"), s.Get("configmaps", "default", "source-mirror")
	switch {
	case src == nil:
		return errors.New("no source")
	case dst == nil:
		return errors.New("no mirror")
	case !reflect.DeepEqual(src.Object["data"], dst.Object["data"]):
		return fmt.Errorf("mirror %v, source %v", dst.Object["data"], src.Object["data"])
	}
	return nil
}}

func TestSearchFindsNothingInTheGuardedMirror(t *testing.T) {
	o := mirrorSearch(true, 1, 100)
	o.Eventually = []explore.Invariant{mirrored}
	res, err := explore.Search(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) > 0 || res.Schedules != 100 {
		t.Errorf("guarded mirror: %d schedules run, failures:\n%s", res.Schedules, res)
	}
	if res.TermEnds == 0 || len(res.Reached) < len(explore.Everything)/2 || res.AtLeaseWrites == 0 || res.AtTermEnds == 0 {
		t.Errorf("the schedules reached too little to mean anything: %s", res)
	}
}

// statusSearch searches the ReplicaSet status pattern: the outside world
// adds the ReplicaSet and its first pods, then a pod every change.
func statusSearch(fixed bool, seed int64, schedules int) explore.Options {
	return explore.Options{
		Seed: seed, Schedules: schedules,
		Sim: sim.Options{Candidates: 3, Run: statuscounter.Controller{Fixed: fixed}.Run},
		Action: func(ctx context.Context, c *sim.Cluster, i int) error {
			if i == 0 {
				return c.AddObjects(statuscounter.ReplicaSet(), statuscounter.Pod(0), statuscounter.Pod(1), statuscounter.Pod(2))
			}
			return c.Client().Create(ctx, statuscounter.Pod(i+2))
		},
		ActionEvery: 5 * time.Second,
	}
}

// The ReplicaSet controller's reverting status write (a retry after a
// conflict, with a fresh resourceVersion and a count from the old cache)
// is found as harmful and shrunk; the fixed controller's is not.
func TestSearchFindsTheRevertingStatusWrite(t *testing.T) {
	o := statusSearch(false, 1, 300)
	o.StopOnFailure = true
	res, err := explore.Search(t, o)
	if err != nil {
		t.Fatal(err)
	}
	f := failure(res, explore.CheckStale)
	if f == nil {
		t.Fatalf("no harmful stale write in %d schedules:\n%s", res.Schedules, res)
	}
	if !strings.Contains(f.ShrunkMessage, "update replicasets/status default/web") || !strings.Contains(f.ShrunkMessage, "harmful: set status.replicas from ") {
		t.Errorf("the shrunk schedule's evidence is not the status write setting status.replicas back: %s", f.ShrunkMessage)
	}
	if len(f.Shrunk.Faults) >= len(f.Schedule.Faults) && f.Shrunk.Length >= f.Schedule.Length {
		t.Errorf("nothing was shrunk: %s", f)
	}
	fixed := statusSearch(true, 1, 1)
	again, err := fixed.Check(t, f.Shrunk)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) > 0 {
		t.Errorf("the fixed controller fails the shrunk schedule: %q", again)
	}
}

// keepsUp is false for a controller that fails over: while no candidate
// leads, the source changes every RetryPeriod and the mirror stays behind.
var keepsUp = explore.Invariant{Name: "the mirror is at most one change behind", Check: func(s sim.State) error {
	src, dst := s.Get("configmaps", "default", "source"), s.Get("configmaps", "default", "source-mirror")
	if src == nil || dst == nil {
		return nil
	}
	v := func(u *unstructured.Unstructured) int {
		n, _ := strconv.Atoi(u.Object["data"].(map[string]any)["v"].(string))
		return n
	}
	if behind := v(src) - v(dst); behind > 1 {
		return fmt.Errorf("the mirror is %d changes behind", behind)
	}
	return nil
}}

// A user invariant that is false is found and shrunk to the fault that
// breaks it.
func TestSearchFindsAFalseInvariant(t *testing.T) {
	o := mirrorSearch(true, 3, 50)
	o.StopOnFailure = true
	o.Always = []explore.Invariant{keepsUp}
	res, err := explore.Search(t, o)
	if err != nil {
		t.Fatal(err)
	}
	f := failure(res, "always: "+keepsUp.Name)
	if f == nil {
		t.Fatalf("the false invariant was not found:\n%s", res)
	}
	if n := len(f.Shrunk.Faults); n < 1 || n > 2 {
		t.Errorf("shrunk to %d faults, want one or two (a failover is needed):\n%s", n, f)
	}
	if !strings.Contains(f.ShrunkMessage, "changes behind") {
		t.Errorf("evidence %q does not carry the invariant's error", f.ShrunkMessage)
	}
	t.Log(f)
}

// The shrunk schedule of TestSearchFindsAFalseInvariant, pasted from its
// output, fails in a test of its own the same way; GoString writes exactly
// this literal.
func TestPastedScheduleFailsTheSameWay(t *testing.T) {
	s := explore.Schedule{Seed: 1468906135, Candidates: 3, Length: 7500 * time.Millisecond, Faults: []sim.Fault{
		{Kind: sim.FaultStop, At: 300 * time.Millisecond, Candidate: "c2"},
	}}
	const pasted = `explore.Schedule{Seed: 1468906135, Candidates: 3, Length: 7500 * time.Millisecond, Faults: []sim.Fault{
	{Kind: sim.FaultStop, At: 300 * time.Millisecond, Candidate: "c2"},
}}`
	if got := s.GoString(); got != pasted {
		t.Errorf("GoString:\n%s\nwant:\n%s", got, pasted)
	}
	o := mirrorSearch(true, 0, 0) // a pasted schedule needs no master seed or budget
	o.Always = []explore.Invariant{keepsUp}
	fails, err := o.Check(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if !slicesContainPrefix(fails, "always: "+keepsUp.Name+": ") {
		t.Errorf("the pasted schedule fails %q, want %q", fails, "always: "+keepsUp.Name)
	}
}

// Each schedule depends on the master seed and its index alone: two shards
// merged give the whole search's result, byte for byte.
func TestShardsMergeToTheWholeSearch(t *testing.T) {
	whole, err := explore.Search(t, mirrorSearch(false, 1, 30))
	if err != nil {
		t.Fatal(err)
	}
	var parts []*explore.Result
	for i := range 2 {
		o := mirrorSearch(false, 1, 30)
		o.Shard = explore.Shard{Index: i, Count: 2}
		part, err := explore.Search(t, o)
		if err != nil {
			t.Fatal(err)
		}
		// A shard's result goes through JSON, as between processes.
		b, _ := json.Marshal(part)
		var back explore.Result
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, &back)
	}
	a, _ := json.Marshal(whole)
	b, _ := json.Marshal(explore.Merge(parts...))
	if string(a) != string(b) {
		t.Errorf("merged shards:\n%s\nwhole search:\n%s", b, a)
	}
	if len(whole.Failures) == 0 {
		t.Errorf("the search found nothing, so the comparison shows little:\n%s", whole)
	}
}

// Bad input is a clear error before or during the search, never a hang.
func TestSearchBadInput(t *testing.T) {
	base := func() explore.Options { return mirrorSearch(true, 1, 1) }
	blocked := func(ctx context.Context, c *sim.Cluster, i int) error {
		<-ctx.Done()
		return nil
	}
	cases := map[string]struct {
		change func(*explore.Options)
		want   string
	}{
		"a budget of zero": {func(o *explore.Options) { o.Schedules = 0 }, "explore: Schedules (0) must be at least 1"},
		"an empty vocabulary": {func(o *explore.Options) { o.Vocabulary = []explore.Move{} },
			"explore: Vocabulary is empty: a schedule would have nothing to inject (nil means Everything)"},
		"bad sim options": {func(o *explore.Options) { o.Sim.Candidates = -1 },
			"explore: sim: Candidates (-1) must be at least 1"},
		"faults of its own": {func(o *explore.Options) { o.Sim.Faults = []sim.Fault{{Kind: sim.FaultAPIRestart}} },
			"explore: Sim.Seed and Sim.Faults must be zero: each schedule draws its own"},
		"an unnamed invariant": {func(o *explore.Options) {
			o.Always = []explore.Invariant{{Check: func(sim.State) error { return nil }}}
		},
			`explore: invariant "" needs a Name and a Check`},
		"an invariant that panics": {func(o *explore.Options) {
			o.Eventually = []explore.Invariant{{Name: "boom", Check: func(sim.State) error { panic("no state") }}}
		}, `explore: schedule 0: invariant "boom" panicked: no state`},
		"an action that blocks": {func(o *explore.Options) { o.Action, o.Length = blocked, 10*time.Second }, "explore: schedule 0: Action 0 at 0s blocked: it did not return within ActionTimeout (15s); an action must return when its ctx is done"},
		"an action that fails": {func(o *explore.Options) {
			o.Action = func(context.Context, *sim.Cluster, int) error {
				return apierrors.NewForbidden(corev1.Resource("configmaps"), "source", errors.New("no"))
			}
		}, `explore: schedule 0: Action 0 at 0s: configmaps "source" is forbidden: no`},
		"a bad shard": {func(o *explore.Options) { o.Shard = explore.Shard{Index: 2, Count: 2} }, "explore: Shard 2 of 2: Index must be in [0, Count)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o := base()
			tc.change(&o)
			_, err := explore.Search(t, o)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// Shards worker processes of this test binary give the same result as one
// process, also for a later call of Search whose options depend on what an
// earlier sharded call found: a worker answers the earlier calls with
// their outcomes in the parent, so the test goes the same way there.
func TestWorkerProcessesGiveTheSameResult(t *testing.T) {
	same := func(o explore.Options) *explore.Result {
		t.Helper()
		whole, err := explore.Search(t, o)
		if err != nil {
			t.Fatal(err)
		}
		o.Shards = 2
		sharded, err := explore.Search(t, o)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(whole)
		b, _ := json.Marshal(sharded)
		if string(a) != string(b) {
			t.Errorf("2 worker processes:\n%s\none process:\n%s", b, a)
		}
		return sharded
	}
	first := same(mirrorSearch(false, 1, 30))
	if len(first.Failures) == 0 {
		t.Fatalf("the search found nothing, so the next one shows little:\n%s", first)
	}
	same(mirrorSearch(false, first.Failures[0].Shrunk.Seed, 20))
}

// AtTermEnd's faults wait for a term to end: beside crashes, which end
// terms, they fire; the guarded mirror fails none of it.
func TestAtTermEndFiresAtTermEnds(t *testing.T) {
	o := mirrorSearch(true, 1, 30)
	o.Vocabulary = []explore.Move{explore.Crash, explore.AtTermEnd}
	for i := range 5 {
		s, err := o.Draw(i)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range s.Faults {
			if f.Kind != sim.FaultCrash && f.Kind != sim.FaultStart && f.AfterTermEnds != 1 {
				t.Errorf("schedule %d: %+v is not held for a term's end", i, f)
			}
		}
	}
	res, err := explore.Search(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) > 0 {
		t.Errorf("the guarded mirror failed:\n%s", res)
	}
	fired := res.Reached[sim.FaultAPIRestart] + res.Reached[sim.FaultDeleteLease] + res.Reached[sim.FaultOutage]
	if fired == 0 {
		t.Errorf("no fault held for a term's end fired in %d schedules with %d term ends: %s", res.Schedules, res.TermEnds, res)
	}
	// Every fault here but a crash is held for a term's end, and a crash is
	// held for one, for a lease write, or for neither.
	if crashes := res.AtTermEnds - fired + res.AtLeaseWrites; res.AtTermEnds < fired || crashes > res.Reached[sim.FaultCrash] || res.AtLeaseWrites == 0 {
		t.Errorf("%d faults at a term's end (%d of them not crashes), %d at a lease write, %d crashes: %s", res.AtTermEnds, fired, res.AtLeaseWrites, res.Reached[sim.FaultCrash], res)
	}
}

// With ScheduleEnv set, Search runs that one schedule, as a failure's
// replay command does, and says so instead of shrinking it.
func TestReplayRunsTheOneSchedule(t *testing.T) {
	s := explore.Schedule{Seed: 155962237, Candidates: 2, Length: 15 * time.Second, Faults: []sim.Fault{
		{Kind: sim.FaultLatency, At: 3300 * time.Millisecond, Candidate: sim.Leader, For: 8600 * time.Millisecond, Request: sim.Fixed(17600 * time.Millisecond)},
	}}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(explore.ScheduleEnv, string(js))
	res, err := explore.Search(t, mirrorSearch(false, 1, 200))
	if err != nil {
		t.Fatal(err)
	}
	if res.Schedules != 1 || len(res.Failures) != 1 {
		t.Fatalf("want one schedule and one failure:\n%s", res)
	}
	f := res.Failures[0]
	if f.Check != explore.CheckStale || f.Index != -1 || !reflect.DeepEqual(f.Schedule, s) || !reflect.DeepEqual(f.Shrunk, s) {
		t.Errorf("failure %+v, want the schedule's harmful stale write, not shrunk", f)
	}
	want := `the schedule of LEADERLAB_SCHEDULE fails "harmful stale write": ` + f.Message + "\n" + s.GoString()
	if got := f.String(); got != want {
		t.Errorf("String:\n%s\nwant:\n%s", got, want)
	}
}

// A test that calls Search with other options in its workers than in the
// parent (a ginkgo suite that orders its specs at random) gets an error
// that says so, not another search's result.
func TestWorkersOfATestThatGoesAnotherWay(t *testing.T) {
	seed := int64(1)
	if os.Getenv("LEADERLAB_EXPLORE_WORKER") != "" {
		seed = 2
	}
	o := mirrorSearch(true, seed, 4)
	o.Shards = 2
	_, err := explore.Search(t, o)
	moves := "crash stop partition black-hole outage slow-writes slow-renewals slow-requests server-errors too-many-requests overload api-restart stale-replica watch-delay delete-lease overwrite-lease rolling-update at-term-end"
	var want []string
	for i := range 2 {
		want = append(want, fmt.Sprintf("explore: worker %d/2: explore: worker: the test's call 0 of Search has other options here "+
			"(seed 2, 4 schedules, 3 candidates, length 2m0s, quiet 40s, at most 3 faults of %s) than in the parent "+
			"(seed 1, 4 schedules, 3 candidates, length 2m0s, quiet 40s, at most 3 faults of %s): a test that shards a search "+
			"must make the same calls of Search in the same order every time it runs (in a ginkgo suite, DescribeSearch runs the workers with the suite's flags and random seed)", i, moves, moves))
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("error:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}
