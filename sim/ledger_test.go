package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

func TestLedgerDerivesOverlapsAndFailovers(t *testing.T) {
	s := time.Second
	var l sim.Ledger
	if others, ok := l.Start("a", "a-0", 1*s); !ok || len(others) != 0 {
		t.Fatalf("first term: others %v, ok %v", others, ok)
	}
	if _, ok := l.Start("a", "a-0", 2*s); ok {
		t.Error("a started a second term while acting")
	}
	l.RenewFailed("a", 3*s)
	if others, ok := l.Start("b", "b-0", 4*s); !ok || len(others) != 1 || others[0] != "a" {
		t.Fatalf("b's term: others %v, ok %v; want [a]", others, ok)
	}
	if got := l.Acting(); len(got) != 2 || got[0] != "a" {
		t.Errorf("Acting() = %v, want [a b], oldest first", got)
	}
	l.End("a", 5*s, sim.EndLost, nil)
	l.End("b", 6*s, sim.EndCrash, nil)
	if l.End("b", 7*s, sim.EndStop, nil) {
		t.Error("ended b twice")
	}
	l.Start("c", "c-0", 9*s)

	got := l.Leadership(10 * s)
	if len(got.Overlaps) != 1 || got.Overlaps[0].Duration != s || got.Overlaps[0].Old != "a" {
		t.Errorf("overlaps %+v, want a overlapping b for 1s", got.Overlaps)
	} else if !strings.Contains(got.Overlaps[0].Cause, "pending release") {
		t.Errorf("overlap cause %q: a failed to renew at 3s and acted on, want a pending release", got.Overlaps[0].Cause)
	}
	if len(got.Failovers) != 1 || got.Failovers[0].From != "b" || got.Failovers[0].Cause != sim.EndCrash || got.Failovers[0].Duration != 3*s {
		t.Errorf("failovers %+v, want b -> c after a crash, 3s", got.Failovers)
	}
	if last := got.Terms[2]; last.End != 10*s || last.EndCause != sim.EndRunning {
		t.Errorf("open term %+v, want it running until 10s", last)
	}
	if len(got.LostWithoutCrash) != 1 || got.LostWithoutCrash[0].Candidate != "a" {
		t.Errorf("lost without crash %+v, want a's term", got.LostWithoutCrash)
	}
	// Leaderless from the first start (1s): 6s..9s only.
	if got.FirstLeader != s || got.Leaderless != 3*s {
		t.Errorf("first leader %v, leaderless %v; want 1s and 3s", got.FirstLeader, got.Leaderless)
	}
}
