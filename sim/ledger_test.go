package sim

import (
	"strings"
	"testing"
	"time"
)

func TestLedgerDerivesOverlapsAndFailovers(t *testing.T) {
	s := time.Second
	var l ledger
	if others, ok := l.start("a", "a-0", 1*s); !ok || len(others) != 0 {
		t.Fatalf("first term: others %v, ok %v", others, ok)
	}
	if _, ok := l.start("a", "a-0", 2*s); ok {
		t.Error("a started a second term while acting")
	}
	l.renewFailed("a", 3*s)
	if others, ok := l.start("b", "b-0", 4*s); !ok || len(others) != 1 || others[0] != "a" {
		t.Fatalf("b's term: others %v, ok %v; want [a]", others, ok)
	}
	if got := l.acting(); len(got) != 2 || got[0] != "a" {
		t.Errorf("acting() = %v, want [a b], oldest first", got)
	}
	l.end("a", 5*s, EndLost, nil)
	l.end("b", 6*s, EndCrash, nil)
	if l.end("b", 7*s, EndStop, nil) {
		t.Error("ended b twice")
	}
	l.start("c", "c-0", 9*s)

	got := l.leadership(10 * s)
	if len(got.Overlaps) != 1 || got.Overlaps[0].Duration != s || got.Overlaps[0].Old != "a" {
		t.Errorf("overlaps %+v, want a overlapping b for 1s", got.Overlaps)
	} else if !strings.Contains(got.Overlaps[0].Cause, "pending release") {
		t.Errorf("overlap cause %q: a failed to renew at 3s and acted on, want a pending release", got.Overlaps[0].Cause)
	}
	if len(got.Failovers) != 1 || got.Failovers[0].From != "b" || got.Failovers[0].Cause != EndCrash || got.Failovers[0].Duration != 3*s {
		t.Errorf("failovers %+v, want b -> c after a crash, 3s", got.Failovers)
	}
	if last := got.Terms[2]; last.End != 10*s || last.EndCause != EndRunning {
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
