package scenarios

import (
	"fmt"
	"time"

	"github.com/onsi/gomega/types"

	"github.com/leaderlab/leaderlab/sim"
)

// HaveNoStaleWrites succeeds when no unguarded data write was applied while
// its writer did not act as leader, or after another candidate had begun to
// (sim.Report.StaleWrites), and no object was written by both candidates of
// an overlap while it lasted (sim.Report.OverlapWrites). A guarded stale
// write (sim.Write.Guarded: it named the resourceVersion it was based on)
// passes: the server applied it only because nobody had changed the object
// since, so it overwrote nothing newer. That is the fix for a write that
// leader election alone cannot stop, one in flight when the term ends. Each
// failure shows the write with its times and cause, the terms around it and
// the trace from its sending to its application.
func HaveNoStaleWrites() types.GomegaMatcher {
	return reportMatcher("have no stale writes", func(r *sim.Report) []string {
		var out []string
		for _, s := range r.StaleWrites {
			if !s.Write.Guarded {
				out = append(out, describeStaleWrite(r, s))
			}
		}
		for _, o := range r.OverlapWrites {
			out = append(out, fmt.Sprintf("%s was written by both %s and %s while both acted as leader (%v .. %v): %d writes\nterms:\n%s\ntrace:\n%s",
				o.Object, o.Overlap.Old, o.Overlap.New, o.Overlap.Start, o.Overlap.End, len(o.Writes),
				termsOf(r, o.Overlap.Old, o.Overlap.New), traceBetween(r, o.Overlap.Start-time.Second, o.Overlap.End)))
		}
		return out
	})
}

// HaveWrittenOnlyAsLeader succeeds when every data write of the candidates,
// guarded or not, was sent and applied inside one of its writer's terms.
// Unlike HaveNoStaleWrites it accepts a write applied while an overlap
// lasted (both candidates acted as leader), so it tells a controller that
// writes after losing its leadership from a run whose election itself split.
// Writes of Cluster.Client, leases and Events do not count.
func HaveWrittenOnlyAsLeader() types.GomegaMatcher {
	return reportMatcher("have written data only as leader", func(r *sim.Report) []string {
		var out []string
		for _, w := range r.Writes {
			if w.Kind != sim.WriteData || w.Candidate == sim.Outside || (w.LeaderAtSend && w.LeaderAtApply) {
				continue
			}
			out = append(out, fmt.Sprintf("%v\nterms of %s:\n%s\ntrace:\n%s", w, w.Candidate, termsOf(r, w.Candidate), traceBetween(r, w.Sent-time.Second, max(w.Sent, w.Applied))))
		}
		return out
	})
}

func describeStaleWrite(r *sim.Report, s sim.StaleWrite) string {
	who := []string{s.Write.Candidate}
	if s.NewLeader != "" {
		who = append(who, s.NewLeader)
	}
	end := max(s.Write.Sent, s.Write.Applied)
	return fmt.Sprintf("%v\nterms:\n%s\ntrace:\n%s", s, termsOf(r, who...), traceBetween(r, s.Write.Sent-time.Second, end))
}

// HaveWrittenData succeeds when the candidates wrote at least one data object
// (not a lease, not an Event): their controllers ran and acted. Without it, a
// controller that never reconciled writes nothing stale and passes every
// other check.
func HaveWrittenData() types.GomegaMatcher {
	return reportMatcher("have candidates that wrote data", func(r *sim.Report) []string {
		for _, w := range r.Writes {
			if w.Kind == sim.WriteData && w.Candidate != sim.Outside {
				return nil
			}
		}
		return []string{fmt.Sprintf("no candidate wrote any object but leases and Events in %v (%d writes in all): the controllers never acted; last trace lines:\n%s",
			r.Duration, len(r.Writes), traceTail(r, 12))}
	})
}
