package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onsi/gomega/gcustom"
	"github.com/onsi/gomega/types"

	"github.com/leaderlab/leaderlab/sim"
)

// The matchers take a *sim.Report. On failure they show the evidence: the
// offending terms, failovers or overlaps with their instants and causes, the
// trace lines around them, the seed and the simulator's replay hint.

// check lists what a report shows against one expectation; none means it holds.
type check func(r *sim.Report) []string

// evidence renders a check's failure for gcustom's template.
type evidence struct {
	expected string
	check    check
}

// Failure is the positive failure message.
func (e evidence) Failure(actual any) string {
	r := actual.(*sim.Report)
	var b strings.Builder
	fmt.Fprintf(&b, "Expected the run (seed %d) to %s, but:\n", r.Seed, e.expected)
	for _, p := range e.check(r) {
		b.WriteString("  - " + strings.ReplaceAll(p, "\n", "\n    ") + "\n")
	}
	b.WriteString(r.Replay)
	return b.String()
}

// Negated is the negated failure message.
func (e evidence) Negated(actual any) string {
	r := actual.(*sim.Report)
	return fmt.Sprintf("Expected the run (seed %d) not to %s, but it did\n%s", r.Seed, e.expected, r.Replay)
}

var errNilReport = errors.New("scenarios: the report is nil: the simulator failed before the run ended (see the test log)")

func reportMatcher(expected string, c check) types.GomegaMatcher {
	return gcustom.MakeMatcher(func(r *sim.Report) (bool, error) {
		if r == nil {
			return false, errNilReport
		}
		return len(c(r)) == 0, nil
	}).WithTemplate("{{if .Failure}}{{.Data.Failure .Actual}}{{else}}{{.Data.Negated .Actual}}{{end}}", evidence{expected, c})
}

// HaveNoSplitBrain succeeds when no two candidates ever acted as leader at
// once and the simulator saw no invariant violation.
func HaveNoSplitBrain() types.GomegaMatcher {
	return reportMatcher("have no split brain", func(r *sim.Report) []string {
		var out []string
		for _, o := range r.Overlaps {
			out = append(out, describeOverlap(r, o))
		}
		for _, v := range r.Violations {
			out = append(out, "invariant violated "+v)
		}
		return out
	})
}

// HaveOverlapsWithin succeeds when every overlap is at most w.Hi long (none
// at all when w.Hi <= 0) and, when w.Lo > 0, at least one lasts w.Lo: the
// arithmetic then makes it certain.
func HaveOverlapsWithin(w Window) types.GomegaMatcher {
	return reportMatcher(fmt.Sprintf("have overlaps no longer than %v (certain from %v)", w.Hi, w.Lo), func(r *sim.Report) []string {
		var out []string
		longest := time.Duration(-1)
		for _, o := range r.Overlaps {
			longest = max(longest, o.Duration)
			if w.Hi <= 0 || o.Duration > w.Hi {
				out = append(out, describeOverlap(r, o))
			}
		}
		if w.Lo > 0 && longest < w.Lo {
			out = append(out, fmt.Sprintf("the arithmetic makes an overlap of at least %v certain, but the longest was %v (%d overlaps)", w.Lo, max(longest, 0), len(r.Overlaps)))
		}
		return out
	})
}

// HaveOneLeaderAtEnd succeeds when exactly one candidate acts as leader when
// the run ends.
func HaveOneLeaderAtEnd() types.GomegaMatcher {
	return reportMatcher("have exactly one leader at the end", func(r *sim.Report) []string {
		var running []string
		for _, t := range r.Terms {
			if t.EndCause == sim.EndRunning {
				running = append(running, fmt.Sprintf("%s (%s) since %v", t.Candidate, t.Identity, t.Start))
			}
		}
		if len(running) == 1 {
			return nil
		}
		return []string{fmt.Sprintf("%d candidates act as leader at the end (%v) %v; last terms:\n%s\nlast trace lines:\n%s",
			len(running), r.Duration, running, lastTerms(r, 4), traceTail(r, 12))}
	})
}

// HaveFailoversWithin succeeds when the run has at least one failover and
// every failover took a time in w.
func HaveFailoversWithin(w Window) types.GomegaMatcher {
	return reportMatcher("fail over within "+w.String(), func(r *sim.Report) []string {
		if len(r.Failovers) == 0 {
			return []string{fmt.Sprintf("no failover happened; terms:\n%s", lastTerms(r, 6))}
		}
		var out []string
		for _, f := range r.Failovers {
			if !w.Contains(f.Duration) {
				out = append(out, fmt.Sprintf("%s -> %s after %s took %v (%v .. %v); trace:\n%s",
					f.From, f.To, f.Cause, f.Duration, f.Start, f.End, traceBetween(r, f.Start-time.Second, f.End)))
			}
		}
		return out
	})
}

// HaveLossesWithoutCrash succeeds when the number of terms that ended because
// the elector gave up its lease (not a crash, not a stop) satisfies count.
func HaveLossesWithoutCrash(count types.GomegaMatcher) types.GomegaMatcher {
	return reportMatcher("lose leadership without a crash a number of times that matches", func(r *sim.Report) []string {
		n := len(r.LostWithoutCrash)
		if ok, err := count.Match(n); err != nil || ok {
			if err != nil {
				return []string{err.Error()}
			}
			return nil
		}
		return []string{describeLosses(r, count.FailureMessage(n))}
	})
}

// HaveNoLossWithoutCrash succeeds when no leader gave up its lease on its own.
func HaveNoLossWithoutCrash() types.GomegaMatcher {
	return reportMatcher("lose no leadership without a crash", func(r *sim.Report) []string {
		if len(r.LostWithoutCrash) == 0 {
			return nil
		}
		return []string{describeLosses(r, fmt.Sprintf("leadership was lost %d times", len(r.LostWithoutCrash)))}
	})
}

// HaveLeaderlessTimeAtMost succeeds when the time without an acting leader,
// after the first leader, is at most d.
func HaveLeaderlessTimeAtMost(d time.Duration) types.GomegaMatcher {
	return reportMatcher(fmt.Sprintf("be leaderless for at most %v", d), func(r *sim.Report) []string {
		if r.Leaderless <= d {
			return nil
		}
		var b strings.Builder
		fmt.Fprintf(&b, "leaderless for %v; failovers:", r.Leaderless)
		for _, f := range r.Failovers {
			fmt.Fprintf(&b, "\n%s -> %s after %s: %v (%v .. %v)", f.From, f.To, f.Cause, f.Duration, f.Start, f.End)
		}
		fmt.Fprintf(&b, "\nterms:\n%s", lastTerms(r, 6))
		return []string{b.String()}
	})
}

// HaveLeaderWithin succeeds when a candidate acts as leader d after the end
// of the last fault of kind (the end of an outage or error storm, say).
func HaveLeaderWithin(d time.Duration, kind sim.FaultKind) types.GomegaMatcher {
	return reportMatcher(fmt.Sprintf("have a leader within %v after the last %s ends", d, kind), func(r *sim.Report) []string {
		end, ok := time.Duration(0), false
		for _, f := range r.Faults {
			if f.Kind == kind {
				end, ok = f.End, true
			}
		}
		if !ok {
			return []string{fmt.Sprintf("the run had no %s fault", kind)}
		}
		at := end + d
		if at > r.Duration {
			return []string{fmt.Sprintf("the run ended at %v, before %v (%s ended at %v)", r.Duration, at, kind, end)}
		}
		for _, t := range r.Terms {
			if t.Start <= at && (t.End > at || t.EndCause == sim.EndRunning) {
				return nil
			}
		}
		return []string{fmt.Sprintf("nobody acted as leader at %v (%s ended at %v); terms:\n%s\ntrace:\n%s",
			at, kind, end, lastTerms(r, 6), traceBetween(r, end, at))}
	})
}

// HaveSteppedDownWithin succeeds when every leader that lost its lease
// stopped acting at most d after the answer to its last successful renew.
func HaveSteppedDownWithin(d time.Duration) types.GomegaMatcher {
	return reportMatcher(fmt.Sprintf("step down within %v of the last renew", d), func(r *sim.Report) []string {
		var out []string
		for _, t := range r.LostWithoutCrash {
			from, what := t.Start, "its term began (no renew seen)"
			if t.LastRenew != nil {
				from, what = t.LastRenew.Answered, "last renew "+t.LastRenew.String()
			}
			if t.End-from > d {
				out = append(out, fmt.Sprintf("%s acted until %v, %v after %s; trace:\n%s",
					t.Candidate, t.End, t.End-from, what, traceBetween(r, from, t.End)))
			}
		}
		return out
	})
}

func describeOverlap(r *sim.Report, o sim.Overlap) string {
	from := o.Start - time.Second
	for _, t := range r.Terms { // a pending release began when the old leader failed to renew
		if t.Candidate == o.Old && t.End == o.End && t.RenewFailed != nil {
			from = min(from, *t.RenewFailed)
		}
	}
	return fmt.Sprintf("%s and %s both acted as leader for %v (%v .. %v): %s\nterms:\n%s\ntrace:\n%s",
		o.Old, o.New, o.Duration, o.Start, o.End, o.Cause, termsOf(r, o.Old, o.New), traceBetween(r, from, o.End))
}

func describeLosses(r *sim.Report, summary string) string {
	var b strings.Builder
	b.WriteString(summary)
	for _, t := range r.LostWithoutCrash {
		fmt.Fprintf(&b, "\n%s lost its lease at %v after leading since %v", t.Candidate, t.End, t.Start)
		if t.LastRenew != nil {
			fmt.Fprintf(&b, "; last renew %s", t.LastRenew)
		}
		fmt.Fprintf(&b, "; trace:\n%s", traceBetween(r, t.End-2*time.Second, t.End))
	}
	return b.String()
}

func termsOf(r *sim.Report, names ...string) string {
	var lines []string
	for _, t := range r.Terms {
		for _, n := range names {
			if t.Candidate == n {
				lines = append(lines, termLine(t))
			}
		}
	}
	return strings.Join(lines, "\n")
}

func lastTerms(r *sim.Report, n int) string {
	var lines []string
	for _, t := range r.Terms[max(0, len(r.Terms)-n):] {
		lines = append(lines, termLine(t))
	}
	if len(lines) == 0 {
		return "(no terms)"
	}
	return strings.Join(lines, "\n")
}

func termLine(t sim.Term) string {
	s := fmt.Sprintf("%s %v .. %v (%s)", t.Candidate, t.Start, t.End, t.EndCause)
	if t.LastRenew != nil {
		s += ", last renew " + t.LastRenew.String()
	}
	return s
}

// maxTraceLines caps the trace shown for one piece of evidence.
const maxTraceLines = 24

// traceBetween is the trace from from to to, the first and last lines when
// there are too many.
func traceBetween(r *sim.Report, from, to time.Duration) string {
	var lines []string
	for _, e := range r.Trace {
		if e.At >= from && e.At <= to {
			lines = append(lines, e.String())
		}
	}
	if len(lines) > maxTraceLines {
		half := maxTraceLines / 2
		skipped := len(lines) - maxTraceLines
		lines = append(append(lines[:half:half], fmt.Sprintf("... %d lines ...", skipped)), lines[len(lines)-half:]...)
	}
	return strings.Join(lines, "\n")
}

func traceTail(r *sim.Report, n int) string {
	if len(r.Trace) == 0 {
		return ""
	}
	return traceBetween(r, r.Trace[max(0, len(r.Trace)-n)].At, r.Duration)
}
