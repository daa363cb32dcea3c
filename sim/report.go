package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event is one line of the trace.
type Event struct {
	// At is the virtual offset from the start of the run.
	At time.Duration `json:"at"`
	// Who is a candidate name, "api" for the API server or "sim" for the
	// simulator's own actions (faults).
	Who  string `json:"who"`
	What string `json:"what"`
}

func (e Event) String() string {
	return fmt.Sprintf("%s %-4s %s", formatOffset(e.At), e.Who, e.What)
}

// formatOffset prints a virtual offset with fixed width, so traces line up and
// sort as text.
func formatOffset(d time.Duration) string {
	return fmt.Sprintf("%11.6fs", d.Seconds())
}

// Term is an interval during which one candidate acts as leader: from
// OnStartedLeading until the context handed to it is done, or its crash.
type Term struct {
	Candidate string        `json:"candidate"`
	Identity  string        `json:"identity"`
	Start     time.Duration `json:"start"`
	End       time.Duration `json:"end"`
	// EndCause is EndCrash, EndStop, EndLost or EndRunning.
	EndCause string `json:"endCause"`
	// LastRenew is the last lease write of this term that the candidate saw
	// succeed: when it was sent, applied by the server and answered.
	LastRenew *RequestTimes `json:"lastRenew,omitempty"`
	// RenewFailed is when the elector logged that it failed to renew, if it
	// did; a release (ReleaseOnCancel) follows it before the term ends.
	RenewFailed *time.Duration `json:"renewFailed,omitempty"`
}

// Why a term ended (Term.EndCause, Failover.Cause).
const (
	EndCrash   = "crash"   // the process was killed: no release, no later requests
	EndStop    = "stop"    // a graceful stop cancelled the elector's context
	EndLost    = "lost"    // the elector gave up the lease on its own (renew failed)
	EndRunning = "running" // still leading when the run ended
)

// Duration is how long the term lasted.
func (t Term) Duration() time.Duration { return t.End - t.Start }

// RequestTimes are the three instants of one request.
type RequestTimes struct {
	Sent     time.Duration `json:"sent"`
	Applied  time.Duration `json:"applied"` // -1 where it cannot be observed (a real API server)
	Answered time.Duration `json:"answered"`
}

func (r RequestTimes) String() string {
	if r.Applied < 0 { // not observable, as on a real API server
		return fmt.Sprintf("sent %s, answered %s", strings.TrimSpace(formatOffset(r.Sent)), strings.TrimSpace(formatOffset(r.Answered)))
	}
	return fmt.Sprintf("sent %s, applied %s, answered %s (response leg %v)",
		strings.TrimSpace(formatOffset(r.Sent)), strings.TrimSpace(formatOffset(r.Applied)),
		strings.TrimSpace(formatOffset(r.Answered)), r.Answered-r.Applied)
}

// Failover is a time without an acting leader between two terms.
type Failover struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Cause string `json:"cause"`
	// Start is when From stopped acting as leader, End when To started.
	Start    time.Duration `json:"start"`
	End      time.Duration `json:"end"`
	Duration time.Duration `json:"duration"`
}

// Overlap is a time during which two candidates act as leader at once.
type Overlap struct {
	// Old was acting first; New started while Old still acted.
	Old      string        `json:"old"`
	New      string        `json:"new"`
	Start    time.Duration `json:"start"`
	End      time.Duration `json:"end"`
	Duration time.Duration `json:"duration"`
	// Cause explains why Old still acted: its pending release, or the late
	// answer to its last renew.
	Cause string `json:"cause"`
}

// HolderSpan is a time during which the stored lease named one holder
// ("" when released, deleted or not yet created).
type HolderSpan struct {
	Holder string        `json:"holder"`
	Start  time.Duration `json:"start"`
	End    time.Duration `json:"end"`
}

// FaultSpan is a time during which a fault was in force. Instant faults
// (crash, stop, start, lease writes) have Start == End.
type FaultSpan struct {
	Kind      FaultKind     `json:"kind"`
	Candidate string        `json:"candidate,omitempty"`
	Detail    string        `json:"detail,omitempty"`
	Start     time.Duration `json:"start"`
	End       time.Duration `json:"end"`
	// Plan is the fault's place in Options.Faults, from 1 (Faults[Plan-1]);
	// 0 for a fault a Cluster method made. A fault held for a lease write
	// or a term's end starts when it fired.
	Plan int `json:"plan,omitempty"`
}

// RequestStats counts requests by what became of them.
type RequestStats struct {
	Total  int            `json:"total"`
	ByVerb map[string]int `json:"byVerb"`
	// Conflicts are 409 answers (stale update or create of an existing object).
	Conflicts int `json:"conflicts"`
	// Timeouts are requests the client gave up on before an answer came.
	Timeouts int `json:"timeouts"`
	// Injected are error answers a fault made (500, 503, 429).
	Injected int `json:"injected"`
	// Dropped are requests or responses lost to a partition or black hole.
	Dropped int `json:"dropped"`
	// Refused are requests refused by an outage.
	Refused int `json:"refused"`
}

// Report is what a run did. Seed and Options come first so a reader can
// replay it.
type Report struct {
	Seed    int64   `json:"seed"`
	Options Options `json:"options"`
	// Backend is "simulator", or "API server" and the host of a run on a
	// real API server (Real).
	Backend string `json:"backend"`
	// ReplayExact is false when this run cannot be replayed byte for byte;
	// ReplayNote says why.
	ReplayExact bool   `json:"replayExact"`
	ReplayNote  string `json:"replayNote,omitempty"`
	// Replay is how to run this scenario again.
	Replay string `json:"replay"`
	// Duration is the virtual length of the run.
	Duration time.Duration `json:"duration"`
	// FirstLeader is when the first term started (-1: never).
	FirstLeader time.Duration `json:"firstLeader"`
	// Leaderless is the time without an acting leader after FirstLeader.
	Leaderless       time.Duration `json:"leaderless"`
	Terms            []Term        `json:"terms"`
	Failovers        []Failover    `json:"failovers"`
	Overlaps         []Overlap     `json:"overlaps"`
	LostWithoutCrash []Term        `json:"lostWithoutCrash"`
	Holders          []HolderSpan  `json:"holders"`
	Faults           []FaultSpan   `json:"faults"`
	Requests         RequestStats  `json:"requests"`
	// Writes are the mutating requests the server applied, in the order it
	// applied them: the candidates' and Cluster.Client's, leases and Events
	// included (see Write.Kind).
	Writes []Write `json:"writes"`
	// StaleWrites are the data writes applied when their writer did not act
	// as leader, or after another candidate had begun to; OverlapWrites the
	// objects both candidates of an overlap wrote while it lasted.
	StaleWrites   []StaleWrite   `json:"staleWrites"`
	OverlapWrites []OverlapWrite `json:"overlapWrites"`
	// LostUpdates are the candidates' writes that undid a change their
	// writer had never been sent (see LostUpdate).
	LostUpdates []LostUpdate `json:"lostUpdates"`
	// History is every version of every data object written in the run,
	// by whom and when, in the order the server stored them (the simulator
	// only; empty on a real server).
	History History `json:"history"`
	// CutOffs are the processes that ended during the run whose goroutines
	// went on sending requests, which never arrived (see CutOff).
	CutOffs []CutOff `json:"cutOffs,omitempty"`
	// RoundTrips are the real server's round trips per verb, in the order
	// they were answered, without the latency the faults add (Real only).
	RoundTrips map[string][]time.Duration `json:"roundTrips,omitempty"`
	// Violations are invariant violations, each with its virtual time.
	Violations []string `json:"violations"`
	Trace      []Event  `json:"trace"`
}

// sortedEvents orders the trace canonically: by instant, then by who, then by
// text, so that events of one instant do not depend on goroutine scheduling.
func sortedEvents(events []Event) []Event {
	out := slices.Clone(events)
	slices.SortStableFunc(out, func(a, b Event) int {
		return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.Who, b.Who), cmp.Compare(a.What, b.What))
	})
	return out
}

// leaderless returns when the first term started (-1 without terms) and how
// long, from then until end, no term was open.
func leaderless(terms []Term, end time.Duration) (first, gap time.Duration) {
	if len(terms) == 0 {
		return -1, 0
	}
	ts := slices.Clone(terms)
	slices.SortFunc(ts, func(a, b Term) int { return cmp.Compare(a.Start, b.Start) })
	first = ts[0].Start
	covered := first
	for _, t := range ts {
		if t.Start > covered {
			gap += t.Start - covered
		}
		covered = max(covered, t.End)
	}
	if end > covered {
		gap += end - covered
	}
	return first, gap
}

// tail returns the last n lines of the trace up to and including at.
func tail(trace []Event, n int) string {
	var b strings.Builder
	start := max(0, len(trace)-n)
	for _, e := range trace[start:] {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// closeOpen sets every open (negative) end to end.
func closeOpen[S any](spans []S, end time.Duration, endOf func(*S) *time.Duration) {
	for i := range spans {
		if e := endOf(&spans[i]); *e < 0 {
			*e = end
		}
	}
}
