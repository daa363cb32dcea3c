package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Text renders the report for people: seed and options first, then the
// summary, terms, failovers, overlaps and the trace.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d\noptions %s\nbackend %s\n", r.Seed, optionsString(r.Options), r.Backend)
	if r.ReplayExact {
		b.WriteString("replay: exact (same seed, options and code give this trace byte for byte)\n")
	} else {
		fmt.Fprintf(&b, "replay: NOT exact: %s\n", r.ReplayNote)
	}
	if r.Replay != "" {
		fmt.Fprintf(&b, "%s\n", r.Replay)
	}
	fmt.Fprintf(&b, "duration %v, first leader at %s, leaderless %v\n", r.Duration, offsetOrNever(r.FirstLeader), r.Leaderless)
	s := r.Requests
	fmt.Fprintf(&b, "requests %d%s, conflicts %d, timeouts %d, injected errors %d, dropped %d, refused %d\n",
		s.Total, byVerb(s.ByVerb), s.Conflicts, s.Timeouts, s.Injected, s.Dropped, s.Refused)
	fmt.Fprintf(&b, "\nterms (%d):\n", len(r.Terms))
	for _, t := range r.Terms {
		fmt.Fprintf(&b, "  %-4s %s .. %s  %-12v %s\n", t.Candidate, formatOffset(t.Start), formatOffset(t.End), t.Duration(), t.EndCause)
	}
	if len(r.Failovers) > 0 {
		fmt.Fprintf(&b, "\nfailovers (%d):\n", len(r.Failovers))
		for _, f := range r.Failovers {
			fmt.Fprintf(&b, "  %s -> %s after %s: %v (%s .. %s)\n", f.From, f.To, f.Cause, f.Duration, formatOffset(f.Start), formatOffset(f.End))
		}
	}
	if len(r.Overlaps) > 0 {
		fmt.Fprintf(&b, "\noverlaps (%d):\n", len(r.Overlaps))
		for _, o := range r.Overlaps {
			fmt.Fprintf(&b, "  %s and %s both acting for %v (%s .. %s): %s\n", o.Old, o.New, o.Duration, formatOffset(o.Start), formatOffset(o.End), o.Cause)
		}
	}
	if n := r.dataWrites(); n > 0 || len(r.StaleWrites) > 0 {
		fmt.Fprintf(&b, "\ndata writes %d, stale writes (%d, %d harmful):\n", n, len(r.StaleWrites), r.harmful())
		for _, s := range r.StaleWrites {
			fmt.Fprintf(&b, "  %s\n", s)
		}
		for _, o := range r.OverlapWrites {
			fmt.Fprintf(&b, "  %s written by %s and %s inside their overlap (%s .. %s)\n", o.Object, o.Overlap.Old, o.Overlap.New, formatOffset(o.Overlap.Start), formatOffset(o.Overlap.End))
		}
	}
	if len(r.LostUpdates) > 0 {
		fmt.Fprintf(&b, "\nlost updates (%d):\n", len(r.LostUpdates))
		for _, l := range r.LostUpdates {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	if len(r.CutOffs) > 0 {
		fmt.Fprintf(&b, "\nprocesses whose goroutines went on after they ended (%d):\n", len(r.CutOffs))
		for _, co := range r.CutOffs {
			fmt.Fprintf(&b, "  %s\n", co)
		}
	}
	if len(r.LostWithoutCrash) > 0 {
		fmt.Fprintf(&b, "\nleadership lost without a crash (%d):\n", len(r.LostWithoutCrash))
		for _, t := range r.LostWithoutCrash {
			fmt.Fprintf(&b, "  %s at %s\n", t.Candidate, formatOffset(t.End))
		}
	}
	if len(r.Violations) > 0 {
		fmt.Fprintf(&b, "\nINVARIANT VIOLATIONS (%d):\n", len(r.Violations))
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "  %s\n", v)
		}
	}
	fmt.Fprintf(&b, "\ntrace (%d events):\n", len(r.Trace))
	for _, e := range r.Trace {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// verbOrder is the order of the verbs in the request line: reads, then
// writes. Other verbs (a method the routes do not name) follow by name.
var verbOrder = []string{VerbGet, VerbList, VerbWatch, VerbCreate, VerbUpdate, VerbPatch, VerbDelete}

// byVerb is the request line's breakdown, " (get 3, watch 1)": every verb
// that occurred, so that the parts add up to the total, and none that did not.
func byVerb(counts map[string]int) string {
	verbs := slices.Clone(verbOrder)
	var other []string
	for v := range counts {
		if !slices.Contains(verbOrder, v) {
			other = append(other, v)
		}
	}
	slices.Sort(other)
	var parts []string
	for _, v := range append(verbs, other...) {
		if n := counts[v]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", v, n))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// TraceText is the trace alone, one event per line: the text that replays
// byte for byte.
func (r *Report) TraceText() string { return tail(r.Trace, len(r.Trace)) }

func offsetOrNever(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return strings.TrimSpace(formatOffset(d))
}

// JSON renders the report as indented JSON. Durations are nanoseconds.
func (r *Report) JSON() ([]byte, error) {
	return json.MarshalIndent(r, "", "  ")
}

// harmful counts the harmful stale writes.
func (r *Report) harmful() int {
	n := 0
	for _, s := range r.StaleWrites {
		if s.Harmful {
			n++
		}
	}
	return n
}

// dataWrites counts the data writes of the candidates and the outside client.
func (r *Report) dataWrites() int {
	n := 0
	for _, w := range r.Writes {
		if w.Kind == WriteData {
			n++
		}
	}
	return n
}
