package scenarios

import (
	"fmt"
	"time"

	"github.com/onsi/gomega/types"

	"github.com/leaderlab/leaderlab/sim"
)

// HaveNoStaleWrites succeeds when no stale write was harmful
// (sim.Report.StaleWrites: a data write applied while its writer did not
// act as leader, or after another candidate had begun to, that changed a
// field another writer had set since its term ended) and no object was
// written by both candidates of an overlap while it lasted
// (sim.Report.OverlapWrites). It judges what a write did, not how it was
// sent: a late write that changed nothing anybody had changed since is
// harmless, and one that named a resourceVersion but carried content from an
// older view (re-read on conflict, status from the cache) is harmful. Each
// failure shows the write with its times and cause, each field it set back
// and whose write it undid, the terms around it and the trace from its
// sending to its application.
func HaveNoStaleWrites() types.GomegaMatcher {
	return reportMatcher("have no harmful stale writes", func(r *sim.Report) []string {
		var out []string
		for _, s := range r.StaleWrites {
			if s.Harmful {
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

// HaveNoLostUpdates succeeds when no candidate's write set a field back to
// its value before a change the writer had never been sent
// (sim.Report.LostUpdates): what a controller acting on a stale view does,
// after a restart or a failover, or from a lagging API server. Each failure
// shows the write, the fields with whose change it undid, the newest version
// its writer had seen and the trace from the undone write to this one.
func HaveNoLostUpdates() types.GomegaMatcher {
	return reportMatcher("have no lost updates", func(r *sim.Report) []string {
		var out []string
		for _, l := range r.LostUpdates {
			from := l.Write.Sent
			for _, u := range l.Undid {
				from = min(from, u.At)
			}
			out = append(out, fmt.Sprintf("%v\ntrace:\n%s", l, traceBetween(r, from, max(l.Write.Sent, l.Write.Applied))))
		}
		return out
	})
}

// HoldThroughout succeeds when inv holds on every state of the data objects
// the run went through (sim.History.Always): an invariant over time, such as
// "never more pods than replicas + 1", checked on each version the server
// stored, not on samples. what names the invariant in the failure.
func HoldThroughout(what string, inv func(sim.State) error) types.GomegaMatcher {
	return reportMatcher("hold "+what+" throughout", func(r *sim.Report) []string {
		if err := r.History.Always(inv); err != nil {
			return []string{err.Error()}
		}
		return nil
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
