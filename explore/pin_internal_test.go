package explore

import (
	"slices"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// A held fault that fired becomes a fault at its instant on whom it hit; a
// held fault that never fired, and every other fault, stay as they were,
// and a later span of the same fault (a slow response's every request)
// does not move it again.
func TestPinnedHeldFaults(t *testing.T) {
	s := Schedule{Seed: 1, Candidates: 3, Length: time.Minute, Faults: []sim.Fault{
		{Kind: sim.FaultCrash, At: 5 * time.Second, Candidate: sim.Leader, AfterWrites: 2},
		{Kind: sim.FaultOutage, At: 3 * time.Second, AfterTermEnds: 1, For: 2 * time.Second},
		{Kind: sim.FaultAPIRestart, At: 7 * time.Second},
		{Kind: sim.FaultDeleteLease, At: 8 * time.Second, AfterTermEnds: 2},
		{Kind: sim.FaultSlowResponse, At: 9 * time.Second, AfterTermEnds: 1, Delay: time.Second, For: time.Second},
	}}
	spans := []sim.FaultSpan{
		{Kind: sim.FaultCrash, Candidate: "c1", Start: 9300 * time.Millisecond, End: 9300 * time.Millisecond, Plan: 1},
		{Kind: sim.FaultCrash, Candidate: "c2", Start: 10 * time.Second, End: 10 * time.Second}, // a Cluster method's
		{Kind: sim.FaultOutage, Start: 20*time.Second + 17, End: 22*time.Second + 17, Plan: 2},
		{Kind: sim.FaultAPIRestart, Start: 7 * time.Second, End: 7 * time.Second, Plan: 3},
		{Kind: sim.FaultSlowResponse, Start: 30 * time.Second, End: 30 * time.Second, Plan: 5},
		{Kind: sim.FaultSlowResponse, Start: 30500 * time.Millisecond, End: 30500 * time.Millisecond, Plan: 5},
	}
	want := []sim.Fault{
		{Kind: sim.FaultCrash, At: 9300 * time.Millisecond, Candidate: "c1"},
		{Kind: sim.FaultOutage, At: 20*time.Second + 17, For: 2 * time.Second},
		{Kind: sim.FaultAPIRestart, At: 7 * time.Second},
		{Kind: sim.FaultDeleteLease, At: 8 * time.Second, AfterTermEnds: 2},
		{Kind: sim.FaultSlowResponse, At: 30 * time.Second, Delay: time.Second, For: time.Second},
	}
	got := s.pinned(spans)
	if !slices.Equal(got.Faults, want) {
		t.Errorf("pinned:\n%#v\nwant faults:\n%#v", got, Schedule{Seed: 1, Candidates: 3, Length: time.Minute, Faults: want})
	}
	if s.Faults[0].AfterWrites != 2 {
		t.Errorf("pinned changed the schedule it was given: %#v", s)
	}
	if got.Seed != s.Seed || got.Candidates != s.Candidates || got.Length != s.Length {
		t.Errorf("pinned changed more than the faults: %#v", got)
	}
}
