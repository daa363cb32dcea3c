package scenarios_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

const sec = time.Second

// healthy is a run in which c0 leads, crashes at 20s and c1 takes over at 36s.
func healthy() *sim.Report {
	return &sim.Report{
		Seed: 7, Replay: "replay: go test -run '^TestX$' (seed 7)", Duration: 60 * sec, FirstLeader: sec, Leaderless: 16 * sec,
		Terms: []sim.Term{
			{Candidate: "c0", Identity: "c0", Start: sec, End: 20 * sec, EndCause: "crash"},
			{Candidate: "c1", Identity: "c1", Start: 36 * sec, End: 60 * sec, EndCause: "running"},
		},
		Failovers: []sim.Failover{{From: "c0", To: "c1", Cause: "crash", Start: 20 * sec, End: 36 * sec, Duration: 16 * sec}},
		Faults:    []sim.FaultSpan{{Kind: sim.FaultOutage, Start: 10 * sec, End: 12 * sec}},
		Trace: []sim.Event{
			{At: 20 * sec, Who: "sim", What: "crash c0"},
			{At: 36 * sec, Who: "c1", What: "started leading (acting leader)"},
		},
	}
}

// splitBrain is a run in which c0, partitioned, acts on while c1 leads.
func splitBrain() *sim.Report {
	r := healthy()
	renew := &sim.RequestTimes{Sent: 9 * sec, Applied: 9*sec + 2*time.Millisecond, Answered: 13*sec + 500*time.Millisecond}
	r.Terms = []sim.Term{
		{Candidate: "c0", Start: sec, End: 27 * sec, EndCause: "lost", LastRenew: renew},
		{Candidate: "c1", Start: 25 * sec, End: 60 * sec, EndCause: "running"},
	}
	r.LostWithoutCrash = r.Terms[:1]
	r.Failovers = nil
	r.Leaderless = 0
	r.Overlaps = []sim.Overlap{{Old: "c0", New: "c1", Start: 25 * sec, End: 27 * sec, Duration: 2 * sec, Cause: "late renew answer"}}
	r.Trace = append(r.Trace, sim.Event{At: 26 * sec, Who: "c0", What: "log: Failed to renew lease"})
	return r
}

// staleWrite is healthy with a patch c0 sent at 19s that a slow network
// applied at 40s, after its crash and after c1 began to lead, setting back
// what c1 wrote at 38s.
func staleWrite() *sim.Report {
	r := healthy()
	w := sim.Write{Candidate: "c0", Start: 1, Verb: sim.VerbPatch, Resource: "configmaps", Namespace: "default", Name: "out",
		Kind: sim.WriteData, Sent: 19 * sec, Applied: 40 * sec, LeaderAtSend: true}
	r.Writes = []sim.Write{w}
	r.StaleWrites = []sim.StaleWrite{{Write: w, Cause: sim.StaleInFlight, TermEnd: 20 * sec, NewLeader: "c1", NewLeaderStart: 36 * sec,
		Harmful: true, Undid: []sim.Undo{{Field: "data.v", From: `"3"`, To: `"2"`, By: "c1", Controller: "mirror", At: 38 * sec, ResourceVersion: "16"}}}}
	return r
}

// harmlessStaleWrite is staleWrite, but its patch changed nothing anybody
// had set since c0's term ended.
func harmlessStaleWrite() *sim.Report {
	r := staleWrite()
	r.StaleWrites[0].Harmful, r.StaleWrites[0].Undid = false, nil
	return r
}

// lostUpdate is healthy with a patch of c1's that set data.v back to what it
// was before the outside actor changed it, a change c1 had never been sent.
func lostUpdate() *sim.Report {
	r := healthy()
	w := sim.Write{Candidate: "c1", Start: 1, Verb: sim.VerbPatch, Resource: "configmaps", Namespace: "default", Name: "out",
		Kind: sim.WriteData, Sent: 41 * sec, Applied: 42 * sec, LeaderAtSend: true, LeaderAtApply: true, ResourceVersion: "20"}
	r.Writes = []sim.Write{w}
	r.LostUpdates = []sim.LostUpdate{{Write: w, Seen: "12", Undid: []sim.Undo{{Field: "data.v", From: `"4"`, To: `"3"`, By: sim.Outside, At: 39 * sec, ResourceVersion: "18"}}}}
	r.Trace = append(r.Trace, sim.Event{At: 39 * sec, Who: "sim", What: "outside update"})
	return r
}

// twoPods is healthy with a history in which c0 created two pods, at 10s and
// 11s.
func twoPods() *sim.Report {
	r := healthy()
	pod := func(name string, at time.Duration, rv string) sim.Version {
		return sim.Version{Object: "pods default/" + name, ResourceVersion: rv, At: at, Writer: "c0", Start: 1, Verb: sim.VerbCreate, Resource: "pods",
			Content: map[string]any{"metadata": map[string]any{"name": name, "namespace": "default"}}}
	}
	r.History = sim.History{pod("a", 10*sec, "5"), pod("b", 11*sec, "6")}
	return r
}

// atMostOnePod is an invariant twoPods breaks.
func atMostOnePod(s sim.State) error {
	if n := len(s.List("pods", "default")); n > 1 {
		return fmt.Errorf("%d pods", n)
	}
	return nil
}

var _ = Describe("the report matchers", func() {
	DescribeTable("succeed on a run that meets them and fail with the evidence on one that does not",
		func(m types.GomegaMatcher, good, bad *sim.Report, evidence ...string) {
			Expect(good).To(m)
			Expect(m.Match(bad)).To(BeFalse())
			msg := m.FailureMessage(bad)
			Expect(msg).To(ContainSubstring("seed 7"))
			Expect(msg).To(ContainSubstring("replay: go test"))
			for _, e := range evidence {
				Expect(msg).To(ContainSubstring(e))
			}
			Expect(m.NegatedFailureMessage(good)).To(ContainSubstring("not to"))
		},
		Entry("no split brain: the overlapping terms, the cause and the trace",
			scenarios.HaveNoSplitBrain(), healthy(), splitBrain(),
			"c0 and c1 both acted as leader for 2s (25s .. 27s): late renew answer", "c0 1s .. 27s (lost), last renew sent 9.000000s", "26.000000s c0   log: Failed to renew lease"),
		Entry("one leader at the end: who acts and the trace tail",
			scenarios.HaveOneLeaderAtEnd(), healthy(), func() *sim.Report { r := healthy(); r.Terms[1].EndCause = "lost"; return r }(),
			"0 candidates act as leader at the end (1m0s)", "c1 36s .. 1m0s (lost)", "36.000000s c1   started leading"),
		Entry("failover within a bound: the failover outside it and its trace",
			scenarios.HaveFailoversWithin(scenarios.Window{Lo: 12 * sec, Hi: 24 * sec}), healthy(),
			func() *sim.Report { r := healthy(); r.Failovers[0].Duration = 30 * sec; return r }(),
			"c0 -> c1 after crash took 30s (20s .. 36s)", "20.000000s sim  crash c0"),
		Entry("failover within a bound: a run without any failover",
			scenarios.HaveFailoversWithin(scenarios.Window{Hi: 24 * sec}), healthy(),
			func() *sim.Report { r := healthy(); r.Failovers = nil; return r }(),
			"no failover happened"),
		Entry("no leadership lost without a crash: the lost term and its last renew",
			scenarios.HaveNoLossWithoutCrash(), healthy(), splitBrain(),
			"leadership was lost 1 times", "c0 lost its lease at 27s", "answered 13.500000s (response leg 4.498s)"),
		Entry("a count of losses without a crash: the count's own message",
			scenarios.HaveLossesWithoutCrash(Equal(1)), splitBrain(), healthy(),
			"<int>: 0", "to equal", "<int>: 1"),
		Entry("leaderless time under a bound: the time and the failovers",
			scenarios.HaveLeaderlessTimeAtMost(20*sec), healthy(),
			func() *sim.Report { r := healthy(); r.Leaderless = 25 * sec; return r }(),
			"leaderless for 25s; failovers:", "c0 -> c1 after crash: 16s (20s .. 36s)"),
		Entry("a leader within a bound after a fault: the instant nobody led",
			scenarios.HaveLeaderWithin(30*sec, sim.FaultOutage), healthy(),
			func() *sim.Report { r := healthy(); r.Faults[0].End = 2 * sec; return r }(),
			"nobody acted as leader at 32s (outage ended at 2s)"),
		Entry("step-down within a bound: how long after the last renew",
			scenarios.HaveSteppedDownWithin(13*sec), healthy(), splitBrain(),
			"c0 acted until 27s, 13.5s after last renew sent 9.000000s"),
		Entry("no stale writes: the write, its times and cause, what it undid, the terms and the trace",
			scenarios.HaveNoStaleWrites(), harmlessStaleWrite(), staleWrite(),
			"c0 patch configmaps default/out, sent 19.000000s (leader: true), applied 40.000000s (leader: false): in flight across the end of its term (its term ended at 20.000000s) (c1 acts as leader since 36.000000s); harmful: set data.v from \"3\" to \"2\", undoing the write of c1 (controller mirror) at 38.000000s\n",
			"c0 1s .. 20s (crash)", "c1 36s .. 1m0s (running)", "36.000000s c1   started leading"),
		Entry("no lost updates: the write, what it undid, what its writer had seen and the trace",
			scenarios.HaveNoLostUpdates(), harmlessStaleWrite(), lostUpdate(),
			"c1 patch configmaps default/out, sent 41.000000s (leader: true), applied 42.000000s (leader: true): lost update, its writer had last been sent resourceVersion 12: set data.v from \"4\" to \"3\", undoing the write of outside at 39.000000s\n",
			"39.000000s sim  outside update"),
		Entry("no stale writes: an object both candidates of an overlap wrote",
			scenarios.HaveNoStaleWrites(), healthy(), func() *sim.Report {
				r := splitBrain()
				r.OverlapWrites = []sim.OverlapWrite{{Overlap: r.Overlaps[0], Object: "configmaps default/out", Writes: make([]sim.Write, 2)}}
				return r
			}(),
			"configmaps default/out was written by both c0 and c1 while both acted as leader (25s .. 27s): 2 writes"),
		Entry("an invariant throughout: the first state that breaks it, and the write that made it",
			scenarios.HoldThroughout("at most one pod", atMostOnePod), healthy(), twoPods(),
			"to hold at most one pod throughout", "at 11.000000s, after create pods default/b by c0 at 11.000000s (resourceVersion 6): 2 pods"),
		Entry("written only as leader: the write applied outside its writer's term",
			scenarios.HaveWrittenOnlyAsLeader(), healthy(), staleWrite(),
			"c0 patch configmaps default/out, sent 19.000000s (leader: true), applied 40.000000s (leader: false)", "terms of c0:", "c0 1s .. 20s (crash)", "20.000000s sim  crash c0"),
		Entry("written data: a run in which no candidate wrote",
			scenarios.HaveWrittenData(), staleWrite(), healthy(),
			"no candidate wrote any object but leases and Events in 1m0s (0 writes in all): the controllers never acted", "36.000000s c1   started leading"),
		Entry("overlaps within a window: the overlap longer than allowed",
			scenarios.HaveOverlapsWithin(scenarios.Window{Hi: sec}), healthy(), splitBrain(),
			"c0 and c1 both acted as leader for 2s"),
		Entry("overlaps within a window: a certain overlap that did not happen",
			scenarios.HaveOverlapsWithin(scenarios.Window{Lo: sec, Hi: 3 * sec}), splitBrain(), healthy(),
			"the arithmetic makes an overlap of at least 1s certain, but the longest was 0s (0 overlaps)"),
	)

	It("refuses a nil report, as left by a run the simulator failed", func() {
		_, err := scenarios.HaveNoSplitBrain().Match((*sim.Report)(nil))
		Expect(err).To(MatchError(ContainSubstring("the report is nil")))
	})

	It("shows the pending release of a real run that broke client-go's margin", func() {
		tight := scenarios.Config{Timing: timing(15*time.Second, 14*time.Second, time.Second)}
		rep, _ := scenarios.PartitionedLeaderWithRelease.Run(T(), tight, 1)
		Expect(rep).NotTo(scenarios.HaveNoSplitBrain())
		msg := scenarios.HaveNoSplitBrain().FailureMessage(rep)
		Expect(msg).To(ContainSubstring("pending release"))
		Expect(msg).To(ContainSubstring("Failed to renew lease"))
		Expect(msg).To(ContainSubstring("seed 1"))
	})
})
