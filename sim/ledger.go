package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ledger records who acted as leader when: terms as they start and end, the
// overlaps between them and the failovers from one leader to the next. A
// Report's leadership fields come from one.
//
// The zero ledger is ready to use. It is not safe for concurrent use: the
// recorder serialises the calls.
type ledger struct {
	terms     []Term
	overlaps  []Overlap
	failovers []Failover
	active    map[string]int    // candidate -> index in terms
	openOvl   map[[2]string]int // (old, new) -> index in overlaps
	lastEnd   *Term             // the last term that ended with no other acting
}

// leadership is a ledger's account of a run up to some instant.
type leadership struct {
	Terms            []Term
	Overlaps         []Overlap
	Failovers        []Failover
	LostWithoutCrash []Term
	FirstLeader      time.Duration // -1: never
	Leaderless       time.Duration
}

// start records that cand, named identity, began acting as leader at now. It
// returns the candidates already acting, each of which now overlaps cand. It
// records nothing and returns false if cand itself already acts.
func (l *ledger) start(cand, identity string, now time.Duration) (others []string, ok bool) {
	if l.active == nil {
		l.active, l.openOvl = make(map[string]int), make(map[[2]string]int)
	}
	if _, acting := l.active[cand]; acting {
		return nil, false
	}
	others = l.acting()
	for _, other := range others {
		l.openOvl[[2]string{other, cand}] = len(l.overlaps)
		l.overlaps = append(l.overlaps, Overlap{Old: other, New: cand, Start: now, End: -1})
	}
	if len(others) == 0 && l.lastEnd != nil {
		l.failovers = append(l.failovers, Failover{
			From: l.lastEnd.Candidate, To: cand, Cause: l.lastEnd.EndCause,
			Start: l.lastEnd.End, End: now, Duration: now - l.lastEnd.End,
		})
	}
	l.active[cand] = len(l.terms)
	l.terms = append(l.terms, Term{Candidate: cand, Identity: identity, Start: now, End: -1})
	return others, true
}

// renewFailed notes that cand's elector gave up renewing at at: with
// ReleaseOnCancel a release follows before its term ends.
func (l *ledger) renewFailed(cand string, at time.Duration) {
	if i, ok := l.active[cand]; ok {
		l.terms[i].RenewFailed = &at
	}
}

// end records that cand stopped acting at now, for cause (EndCrash, EndStop,
// EndLost); last is its term's last successful lease write, if known. It
// returns false if cand was not acting.
func (l *ledger) end(cand string, now time.Duration, cause string, last *RequestTimes) bool {
	i, ok := l.active[cand]
	if !ok {
		return false
	}
	delete(l.active, cand)
	t := &l.terms[i]
	t.End, t.EndCause, t.LastRenew = now, cause, last
	for key, j := range l.openOvl {
		if key[0] != cand && key[1] != cand {
			continue
		}
		o := &l.overlaps[j]
		o.End, o.Duration = now, now-o.Start
		if key[0] == cand {
			o.Cause = explainOverlap(*t)
		} else {
			o.Cause = "the newer leader " + cand + " stopped first"
		}
		delete(l.openOvl, key)
	}
	if len(l.active) == 0 {
		term := *t
		l.lastEnd = &term
	}
	return true
}

// acting returns the candidates acting as leader, oldest term first.
func (l *ledger) acting() []string {
	names := make([]string, 0, len(l.active))
	for name := range l.active {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(l.terms[l.active[a]].Start, l.terms[l.active[b]].Start) })
	return names
}

// leadership returns the account of the run up to end: copies of the terms,
// overlaps and failovers, with terms still open ending EndRunning and
// overlaps still open ending at end.
func (l *ledger) leadership(end time.Duration) leadership {
	a := leadership{Terms: slices.Clone(l.terms), Overlaps: slices.Clone(l.overlaps), Failovers: slices.Clone(l.failovers)}
	for i := range a.Terms {
		if t := &a.Terms[i]; t.End < 0 {
			t.End, t.EndCause = end, EndRunning
		}
		if a.Terms[i].EndCause == EndLost {
			a.LostWithoutCrash = append(a.LostWithoutCrash, a.Terms[i])
		}
	}
	for i := range a.Overlaps {
		if o := &a.Overlaps[i]; o.End < 0 {
			o.End, o.Duration, o.Cause = end, end-o.Start, "both still acting when the run ended"
		}
	}
	a.FirstLeader, a.Leaderless = leaderless(a.Terms, end)
	return a
}

// explainOverlap says why the old leader t was still acting when another began.
func explainOverlap(t Term) string {
	var parts []string
	if t.RenewFailed != nil && t.End > *t.RenewFailed {
		parts = append(parts, fmt.Sprintf("pending release: %s failed to renew at %s and acted on while client-go released the lease (ReleaseOnCancel) before cancelling its context, %v",
			t.Candidate, strings.TrimSpace(formatOffset(*t.RenewFailed)), t.End-*t.RenewFailed))
	}
	if t.LastRenew != nil {
		parts = append(parts, fmt.Sprintf("last renew %s; %s counted its renew deadline from the answer, followers counted the lease from their observation of the write",
			t.LastRenew, t.Candidate))
	}
	if len(parts) == 0 {
		return "no renew of this term was seen to succeed"
	}
	return strings.Join(parts, "; ")
}
