// Package explore searches fault schedules for the one that breaks your
// controller, shrinks it, and hands it back as a test.
//
// A search runs Options.Schedules schedules of your candidates (your
// leader-elected Run, or controller-runtime managers with sim.Manager) in
// the simulator, one after another, each from one master seed:
//
//	res, err := explore.Search(t, explore.Options{
//		Seed: 1, Schedules: 200,
//		Sim:    sim.Options{Candidates: 3, Run: sim.Manager(myoperator.Setup)},
//		Action: func(ctx context.Context, c *sim.Cluster, i int) error { return changeMyInput(ctx, c, i) },
//		Always: []explore.Invariant{{Name: "at most replicas+1 pods", Check: atMostOneExtraPod}},
//	})
//	if err != nil {
//		t.Fatal(err)
//	}
//	if len(res.Failures) > 0 {
//		t.Fatal(res)
//	}
//
// Each schedule is a fault phase (Length, 2 minutes by default) and a quiet
// phase (Quiet) with no faults and no actions. The fault phase draws one to
// MaxFaults moves from the Vocabulary (Everything by default: crash and
// restart, graceful stop, partition, black hole, outage, slow writes, slow
// renewals and slow requests, 500/503 and 429 storms, an overloaded API
// server, API server restarts, a stale replica, watch delay, foreign lease
// deletes and overwrites, a rolling update, and a crash, API server
// restart, lease deletion or outage at the instant a term ends), each
// aimed at the leader or a named candidate, at a random instant, at the
// answer to the target's n-th lease write (sim's Fault.AfterWrites), so
// that many land in the middle of a term, or at the end of the next term
// (Fault.AfterTermEnds). Action is the outside world: it changes the
// objects the controllers reconcile at the start and every ActionEvery.
//
// Every run is checked by the simulator's oracles (unserved requests and
// server errors, harmful stale writes, lost updates, and overlaps longer
// than client-go's arithmetic allows) and by your invariants: Always on
// every state the run went through, Eventually on the state at the end of
// the quiet phase. The first failure of each check is shrunk (a fault held
// for a lease write or a term's end pinned to the instant it fired, fewer
// faults, earlier and shorter ones, a shorter fault phase, fewer
// candidates) to a smaller schedule that fails the same check, and handed
// back as a Go literal (Schedule.GoString) that Options.Check runs in a
// test of its own, with the command that replays it (ScheduleEnv). Result.String sums up:
// schedules, virtual time, failures by check, and the fault kinds and term
// ends the schedules reached.
//
// A schedule's seed and plan depend on the master seed and its index alone:
// Options.Shard splits a search across processes, and Merge gives back,
// byte for byte, the result of the whole search.
//
// # Limits
//
//   - The search is random, not guided: it does not learn where to inject
//     from what a run did. Aiming at the leader and at lease writes makes
//     term ends common, but a bug that needs three precise faults may need
//     many schedules.
//   - A run needs a *testing.T (the simulator's synctest bubble): Search is
//     called from a test, and runs its schedules one after another.
//   - Restart and SkipLeaderlessFaults are always on: an exited process is
//     started again, as its pod would be, and a fault drawn for the leader
//     at a leaderless instant does nothing.
//   - An Action must return when its ctx is done; one that ignores it
//     cannot be ended, and the simulator's bubble reports the goroutine.
//   - Shrinking halves instants and durations and drops faults and
//     candidates greedily, within ShrinkRuns runs: the result is small,
//     not necessarily the smallest.
package explore
