package sim

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The oracles judge the writes of a run: which were stale (applied outside
// their writer's term), which of those were harmful, which undid a change
// their writer never saw, which objects both candidates of an overlap wrote.
// They judge what a write did, from the history of every version, never how
// it was sent: a resourceVersion precondition shows that the writer had
// read the latest version, not that what it wrote came from it.

// The causes of a stale write.
const (
	// StaleInFlight: sent while the writer acted as leader, applied after its
	// term had ended.
	StaleInFlight = "in flight across the end of its term"
	// StaleAfterTerm: sent after the writer's term had ended.
	StaleAfterTerm = "sent after its term ended"
	// StaleNeverLed: sent by a candidate that had not acted as leader yet.
	StaleNeverLed = "sent by a candidate that had not led"
	// StaleAfterNewLeader: applied while the writer still acted as leader,
	// but after another candidate had begun to act as leader.
	StaleAfterNewLeader = "applied after another candidate began to lead"
)

// StaleWrite is a data write by a candidate that was applied when that
// candidate did not act as leader, or after another candidate had begun to:
// what leader election does not prevent (it gives no fencing).
type StaleWrite struct {
	Write Write  `json:"write"`
	Cause string `json:"cause"`
	// Harmful says the write changed a field that another writer had set
	// after the stale writer's term ended (or, with no ended term, after
	// the new leader began; for a candidate that never led, at any time):
	// Undid lists each such field, from what to what, and whose write set
	// it. A harmless stale write changed nothing anybody else had set
	// since: it did what the term it belonged to would have done. A write
	// sent while its writer still acted as leader (an overlap,
	// StaleAfterNewLeader) came from a live view and is judged by what it
	// did: harmful only when it set a field back (to the value before the
	// other writer's change, or to one a later write had to undo), never
	// when guarded. A write sent after its term ended, or in flight across
	// the end, is harmful when it changed such a field at all, guarded or
	// not: its resourceVersion may come from a fresh read and its content
	// from before.
	// Judged from what the write did, in the simulator only: on a real
	// server, where not every version is observable, Undid is empty and
	// Harmful says only that the write did not name the resourceVersion it
	// was based on.
	Harmful bool   `json:"harmful"`
	Undid   []Undo `json:"undid,omitempty"`
	// TermEnd is when the writer's term (the one the write belongs to) ended,
	// -1 if it had not; NewLeader is the candidate acting as leader when the
	// write was applied, and NewLeaderStart when it began.
	TermEnd        time.Duration `json:"termEnd"`
	NewLeader      string        `json:"newLeader,omitempty"`
	NewLeaderStart time.Duration `json:"newLeaderStart,omitempty"`
}

func (s StaleWrite) String() string {
	msg := s.Write.String() + ": " + s.Cause
	if s.TermEnd >= 0 {
		msg += fmt.Sprintf(" (its term ended at %s)", strings.TrimSpace(formatOffset(s.TermEnd)))
	}
	if s.NewLeader != "" {
		msg += fmt.Sprintf(" (%s acts as leader since %s)", s.NewLeader, strings.TrimSpace(formatOffset(s.NewLeaderStart)))
	}
	if s.Harmful {
		return msg + "; harmful: " + undone(s.Undid)
	}
	return msg + "; harmless: it changed no field another writer had set since, or, sent by an acting leader, set none back"
}

// Undo is one field a write changed that another writer had set: what the
// write undid.
type Undo struct {
	// Field is the field's path ("status.replicas", "data.v"; a list is one
	// field), From and To its value before and after the write, as JSON or
	// "(absent)": a deletion makes every field absent, a creation of an
	// object that was deleted makes them present again.
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
	// By set From: a candidate, Outside or the cluster's own controller,
	// with its controller-runtime controller when known, at At, in the
	// version ResourceVersion.
	By              string        `json:"by"`
	Controller      string        `json:"controller,omitempty"`
	At              time.Duration `json:"at"`
	ResourceVersion string        `json:"resourceVersion"`
}

func (u Undo) String() string {
	by := u.By
	if u.Controller != "" {
		by += " (controller " + u.Controller + ")"
	}
	return fmt.Sprintf("set %s from %s to %s, undoing the write of %s at %s", u.Field, u.From, u.To, by, strings.TrimSpace(formatOffset(u.At)))
}

// undone lists undos for a message: the first few, and how many more.
func undone(undos []Undo) string {
	const most = 3
	parts := make([]string, 0, most+1)
	for i, u := range undos {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more field(s)", len(undos)-most))
			break
		}
		parts = append(parts, u.String())
	}
	return strings.Join(parts, "; ")
}

// LostUpdate is a candidate's write that set a field back to the value it
// had before another writer changed it, a change the writer had never been
// sent (no answer and no watch event with that version or a newer one of
// the object reached its process before it sent the write): it undid what
// it could not have known. A write that undoes a change its writer had
// seen is a decision, not a lost update, and a stale write is judged as
// one (StaleWrite.Harmful) instead. Cluster.Client is never judged.
type LostUpdate struct {
	Write Write  `json:"write"`
	Undid []Undo `json:"undid"`
	// Seen is the newest resourceVersion of the object the writer had been
	// sent when it sent the write ("" for none).
	Seen string `json:"seen,omitempty"`
}

func (l LostUpdate) String() string {
	seen := "had never been sent the object"
	if l.Seen != "" {
		seen = "had last been sent resourceVersion " + l.Seen
	}
	return fmt.Sprintf("%s: lost update, its writer %s: %s", l.Write, seen, undone(l.Undid))
}

// OverlapWrite is one object written by both candidates of an overlap while
// both acted as leader.
type OverlapWrite struct {
	Overlap Overlap `json:"overlap"`
	Object  string  `json:"object"`
	Writes  []Write `json:"writes"`
}

// leadWrites sets each write's LeaderAtSend and LeaderAtApply from terms.
func leadWrites(writes []Write, terms []Term) {
	for i := range writes {
		w := &writes[i]
		w.LeaderAtSend = termAt(terms, w.Candidate, w.Sent) != nil
		w.LeaderAtApply = termAt(terms, w.Candidate, w.Applied) != nil
	}
}

// staleWrites finds the stale data writes among writes, given the terms.
func staleWrites(writes []Write, terms []Term) []StaleWrite {
	var out []StaleWrite
	for _, w := range writes {
		if w.Kind != WriteData || w.Candidate == Outside || w.Exempt != "" {
			continue
		}
		own := termAt(terms, w.Candidate, w.Sent)
		s := StaleWrite{Write: w, TermEnd: -1}
		switch {
		case !w.LeaderAtSend:
			s.Cause = StaleNeverLed
			if prev := lastTermBefore(terms, w.Candidate, w.Sent); prev != nil {
				s.Cause, s.TermEnd = StaleAfterTerm, prev.End
			}
		case !w.LeaderAtApply:
			s.Cause = StaleInFlight
			if own != nil {
				s.TermEnd = own.End
			}
		}
		if other := newerLeader(terms, w.Candidate, own, w.Applied); other != nil {
			if s.Cause == "" {
				s.Cause = StaleAfterNewLeader
			}
			s.NewLeader, s.NewLeaderStart = other.Candidate, other.Start
		}
		if s.Cause != "" {
			out = append(out, s)
		}
	}
	return out
}

// termAt is cand's term open at t: started at or before t, ended after it.
func termAt(terms []Term, cand string, t time.Duration) *Term {
	for i := range terms {
		if tm := &terms[i]; tm.Candidate == cand && tm.Start <= t && (tm.End < 0 || tm.End > t) {
			return tm
		}
	}
	return nil
}

// lastTermBefore is cand's last term that ended at or before t.
func lastTermBefore(terms []Term, cand string, t time.Duration) *Term {
	var last *Term
	for i := range terms {
		if tm := &terms[i]; tm.Candidate == cand && tm.End >= 0 && tm.End <= t {
			last = tm
		}
	}
	return last
}

// newerLeader is a term of another candidate, acting at t, that began after
// own began (or at all, when own is nil).
func newerLeader(terms []Term, cand string, own *Term, t time.Duration) *Term {
	for i := range terms {
		tm := &terms[i]
		if tm.Candidate == cand || tm.Start > t || (tm.End >= 0 && tm.End <= t) {
			continue
		}
		if own == nil || tm.Start > own.Start {
			return tm
		}
	}
	return nil
}

// overlapWrites finds the objects both candidates of an overlap wrote while
// it lasted.
func overlapWrites(writes []Write, overlaps []Overlap) []OverlapWrite {
	var out []OverlapWrite
	for _, o := range overlaps {
		byObject := map[string][]Write{}
		var order []string
		for _, w := range writes {
			if w.Kind != WriteData || (w.Candidate != o.Old && w.Candidate != o.New) || w.Applied < o.Start || (o.End >= 0 && w.Applied > o.End) {
				continue
			}
			if _, seen := byObject[w.Object()]; !seen {
				order = append(order, w.Object())
			}
			byObject[w.Object()] = append(byObject[w.Object()], w)
		}
		for _, obj := range order {
			ws := byObject[obj]
			old, nw := false, false
			for _, w := range ws {
				old = old || w.Candidate == o.Old
				nw = nw || w.Candidate == o.New
			}
			if old && nw {
				out = append(out, OverlapWrite{Overlap: o, Object: obj, Writes: ws})
			}
		}
	}
	return out
}

// fieldChange is one field a version changed, and who had set the value
// it replaced.
type fieldChange struct {
	path           string
	from, to       any
	hadFrom, hasTo bool
	setter         *Version // who set from; nil when nobody in the history did
	before         any      // the field's value before setter's change
	hadBefore      bool
}

// changesOf is every field change of every version in h, by version
// (object and resourceVersion).
func changesOf(h History) map[string][]fieldChange {
	type field struct {
		setter    *Version
		before    any
		hadBefore bool
	}
	out := make(map[string][]fieldChange)
	fields := make(map[string]map[string]*field) // by object, by path
	state := make(map[string]map[string]any)     // by object: its fields now; nil when absent
	for i := range h {
		v := &h[i]
		prev := state[v.Object]
		next := v.flatten()
		if v.Deleted {
			next = nil
		}
		fs := fields[v.Object]
		if fs == nil {
			fs = make(map[string]*field)
			fields[v.Object] = fs
		}
		var changes []fieldChange
		note := func(path string) {
			from, hadFrom := prev[path]
			to, hasTo := next[path]
			if hadFrom == hasTo && reflect.DeepEqual(from, to) {
				return
			}
			ch := fieldChange{path: path, from: from, to: to, hadFrom: hadFrom, hasTo: hasTo}
			if f := fs[path]; f != nil {
				ch.setter, ch.before, ch.hadBefore = f.setter, f.before, f.hadBefore
			}
			changes = append(changes, ch)
			fs[path] = &field{setter: v, before: from, hadBefore: hadFrom}
		}
		for path := range prev {
			note(path)
		}
		for path := range next {
			if _, ok := prev[path]; !ok {
				note(path)
			}
		}
		slices.SortFunc(changes, func(a, b fieldChange) int { return strings.Compare(a.path, b.path) })
		out[versionKey(v.Object, v.ResourceVersion)] = changes
		state[v.Object] = next
	}
	return out
}

func versionKey(obj, rv string) string { return obj + "@" + rv }

// writeVersion is the key of the version a write made.
func writeVersion(w Write) string {
	resource, _, _ := strings.Cut(w.Resource, "/")
	return versionKey(objectName(resource, w.Namespace, w.Name), w.ResourceVersion)
}

func (ch fieldChange) undo() Undo {
	return Undo{Field: ch.path, From: show(ch.from, ch.hadFrom), To: show(ch.to, ch.hasTo),
		By: ch.setter.Writer, Controller: ch.setter.Controller, At: ch.setter.At, ResourceVersion: ch.setter.ResourceVersion}
}

// judgeStale sets each stale write's Harmful and Undid from the changes it
// made: a field that another writer had set at or after the instant its
// term ended (or the new leader began; any time, for a candidate that
// never led). A write its writer sent while it still acted as leader, in
// an overlap, came from a live view, so it is judged by what it did: it
// undoes a field only when it set it back (to its value before the other
// writer's change, or to one a later write of another writer had to
// undo), and a guarded one undoes nothing (its precondition held: it was
// based on the version it replaced). A write sent after its term ended, or
// in flight across the end, came from a past view: any change of a field
// another writer had set since undoes it, guarded or not, since its
// resourceVersion may come from a fresh read and its content from before.
func judgeStale(stale []StaleWrite, changes map[string][]fieldChange, h History) {
	for i := range stale {
		s := &stale[i]
		live := s.Cause == StaleAfterNewLeader
		if live && s.Write.Guarded {
			continue
		}
		since := time.Duration(-1)
		switch {
		case s.TermEnd >= 0:
			since = s.TermEnd
		case s.NewLeader != "":
			since = s.NewLeaderStart
		}
		writer := s.Write.Candidate + "#" + strconv.Itoa(s.Write.Start)
		for _, ch := range changes[writeVersion(s.Write)] {
			if ch.setter == nil || ch.setter.writer() == writer || ch.setter.At < since {
				continue
			}
			if !live || ch.reverts() || restored(h, s.Write, writer, ch) {
				s.Undid = append(s.Undid, ch.undo())
			}
		}
		s.Harmful = len(s.Undid) > 0
	}
}

// restored reports whether a write after w, by another writer than w's,
// set ch's field back to the value w's change replaced.
func restored(h History, w Write, writer string, ch fieldChange) bool {
	resource, _, _ := strings.Cut(w.Resource, "/")
	obj := objectName(resource, w.Namespace, w.Name)
	after := false
	for i := range h {
		v := &h[i]
		if v.Object != obj {
			continue
		}
		if !after {
			after = v.ResourceVersion == w.ResourceVersion
			continue
		}
		if v.writer() == writer {
			continue
		}
		val, has := v.flatten()[ch.path]
		if v.Deleted {
			has = false
		}
		if has == ch.hadFrom && reflect.DeepEqual(val, ch.from) {
			return true
		}
	}
	return false
}

// reverts reports whether the change set the field back to its value
// before the change it replaced.
func (ch fieldChange) reverts() bool {
	return ch.hadBefore == ch.hasTo && reflect.DeepEqual(ch.before, ch.to)
}

// lostUpdates finds the candidates' writes, stale ones aside, that set a
// field back to its value before another writer's change that the writer
// had not been sent when it sent the write.
func lostUpdates(writes []Write, stale []StaleWrite, changes map[string][]fieldChange, seen views) []LostUpdate {
	isStale := make(map[string]bool, len(stale))
	for _, s := range stale {
		isStale[writeVersion(s.Write)] = true
	}
	var out []LostUpdate
	for _, w := range writes {
		if w.Kind != WriteData || w.Candidate == Outside || w.ResourceVersion == "" || isStale[writeVersion(w)] {
			continue
		}
		writer := w.Candidate + "#" + strconv.Itoa(w.Start)
		resource, _, _ := strings.Cut(w.Resource, "/")
		newest := seen.newest(writer, objectName(resource, w.Namespace, w.Name), w.Sent)
		var undid []Undo
		for _, ch := range changes[writeVersion(w)] {
			if ch.setter == nil || ch.setter.writer() == writer || !ch.reverts() {
				continue
			}
			if rv, _ := strconv.ParseUint(ch.setter.ResourceVersion, 10, 64); newest < rv {
				undid = append(undid, ch.undo())
			}
		}
		if len(undid) > 0 {
			l := LostUpdate{Write: w, Undid: undid}
			if newest > 0 {
				l.Seen = strconv.FormatUint(newest, 10)
			}
			out = append(out, l)
		}
	}
	return out
}
