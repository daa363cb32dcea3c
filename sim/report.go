package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
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
	// RoundTrips are the real server's round trips per verb, in the order
	// they were answered, without the latency the faults add (Real only).
	RoundTrips map[string][]time.Duration `json:"roundTrips,omitempty"`
	// Violations are invariant violations, each with its virtual time.
	Violations []string `json:"violations"`
	Trace      []Event  `json:"trace"`
}

// recorder collects everything the report shows and checks the invariants on
// every change of leadership.
type recorder struct {
	start        time.Time
	allowOverlap bool

	mu         sync.Mutex
	frozen     bool
	end        time.Duration
	events     []Event
	ledger     ledger
	holders    []HolderSpan
	faults     []FaultSpan
	openFaults map[string]int
	stats      RequestStats
	writes     []Write
	rtts       map[string][]time.Duration
	violations []string
	leaderCh   chan struct{} // closed and replaced when a term starts
}

func newRecorder(start time.Time, allowOverlap bool) *recorder {
	return &recorder{
		start:        start,
		allowOverlap: allowOverlap,
		openFaults:   make(map[string]int),
		stats:        RequestStats{ByVerb: make(map[string]int)},
		leaderCh:     make(chan struct{}),
	}
}

func (r *recorder) now() time.Duration { return time.Since(r.start) }

func (r *recorder) add(who, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(who, what)
}

func (r *recorder) addLocked(who, what string) {
	if r.frozen {
		return
	}
	r.events = append(r.events, Event{At: r.now(), Who: who, What: what})
}

// violation records an invariant violation found outside the recorder (a
// scheduled fault that could not apply).
func (r *recorder) violation(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.frozen {
		r.violationLocked(format, args...)
	}
}

// roundTrip notes one measured round trip of a real server.
func (r *recorder) roundTrip(verb string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return
	}
	if r.rtts == nil {
		r.rtts = make(map[string][]time.Duration)
	}
	r.rtts[verb] = append(r.rtts[verb], d)
}

func (r *recorder) violationLocked(format string, args ...any) {
	msg := fmt.Sprintf("at %s: ", strings.TrimSpace(formatOffset(r.now()))) + fmt.Sprintf(format, args...)
	r.violations = append(r.violations, msg)
	r.addLocked("sim", "INVARIANT VIOLATED: "+fmt.Sprintf(format, args...))
}

// termStarted records OnStartedLeading.
func (r *recorder) termStarted(cand, identity string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return
	}
	others, ok := r.ledger.start(cand, identity, r.now())
	if !ok {
		r.violationLocked("%s started leading while it already acted as leader", cand)
		return
	}
	r.addLocked(cand, "started leading (acting leader)")
	if !r.allowOverlap {
		for _, other := range others {
			r.violationLocked("%s started leading while %s still acts as leader (split brain)", cand, other)
		}
	}
	close(r.leaderCh)
	r.leaderCh = make(chan struct{})
}

// termEnded records the end of cand's term; cause is crash, stop or lost.
// last is its last successful lease write; renewFailed, when the elector
// gave up renewing.
func (r *recorder) termEnded(cand, cause string, last *RequestTimes, renewFailed *time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return
	}
	if renewFailed != nil {
		r.ledger.renewFailed(cand, *renewFailed)
	}
	if r.ledger.end(cand, r.now(), cause, last) { // false: a crash after the term ended on its own
		r.addLocked(cand, "stopped leading ("+cause+")")
	}
}

func (r *recorder) leaders() ([]string, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ledger.acting(), r.leaderCh
}

func (r *recorder) holderChanged(holder, by string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return
	}
	now := r.now()
	if n := len(r.holders); n > 0 {
		r.holders[n-1].End = now
	}
	r.holders = append(r.holders, HolderSpan{Holder: holder, Start: now, End: -1})
	shown := holder
	if shown == "" {
		shown = "(none)"
	}
	r.addLocked("api", "lease holder "+shown+" (by "+by+")")
}

// faultStarted opens a fault span; key identifies it for faultEnded.
func (r *recorder) faultStarted(key string, f FaultSpan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return
	}
	f.Start, f.End = r.now(), -1
	what := string(f.Kind)
	if f.Detail != "" {
		what += " " + f.Detail
	}
	r.addLocked("sim", what)
	if key == "" {
		f.End = f.Start
		r.faults = append(r.faults, f)
		return
	}
	if _, open := r.openFaults[key]; open {
		return
	}
	r.openFaults[key] = len(r.faults)
	r.faults = append(r.faults, f)
}

func (r *recorder) faultEnded(key, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return
	}
	i, ok := r.openFaults[key]
	if !ok {
		return
	}
	delete(r.openFaults, key)
	r.faults[i].End = r.now()
	r.addLocked("sim", what)
}

func (r *recorder) count(f func(s *RequestStats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.frozen {
		f(&r.stats)
	}
}

// write notes an applied write.
func (r *recorder) write(w Write) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.frozen {
		r.writes = append(r.writes, w)
	}
}

func (r *recorder) countRequest(verb string) {
	r.count(func(s *RequestStats) { s.Total++; s.ByVerb[verb]++ })
}
func (r *recorder) countConflict() { r.count(func(s *RequestStats) { s.Conflicts++ }) }
func (r *recorder) countTimeout()  { r.count(func(s *RequestStats) { s.Timeouts++ }) }
func (r *recorder) countInjected() { r.count(func(s *RequestStats) { s.Injected++ }) }
func (r *recorder) countDropped()  { r.count(func(s *RequestStats) { s.Dropped++ }) }
func (r *recorder) countRefused()  { r.count(func(s *RequestStats) { s.Refused++ }) }

// freeze ends recording at the current instant: what is still open is
// closed there in the report. The shutdown that follows is not part of the run.
func (r *recorder) freeze() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.end, r.frozen = r.now(), true
}

// snapshot builds the report from what is recorded so far.
func (r *recorder) snapshot() *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := r.end
	if !r.frozen {
		end = r.now()
	}
	rep := &Report{
		Duration:   end,
		Holders:    slices.Clone(r.holders),
		Faults:     slices.Clone(r.faults),
		Violations: slices.Clone(r.violations),
		Trace:      sortedEvents(r.events),
		Requests:   r.stats,
	}
	rep.Requests.ByVerb = make(map[string]int, len(r.stats.ByVerb))
	for k, v := range r.stats.ByVerb {
		rep.Requests.ByVerb[k] = v
	}
	if r.rtts != nil {
		rep.RoundTrips = make(map[string][]time.Duration, len(r.rtts))
		for k, v := range r.rtts {
			rep.RoundTrips[k] = slices.Clone(v)
		}
	}
	l := r.ledger.leadership(end)
	rep.Terms, rep.Overlaps, rep.Failovers, rep.LostWithoutCrash = l.Terms, l.Overlaps, l.Failovers, l.LostWithoutCrash
	rep.FirstLeader, rep.Leaderless = l.FirstLeader, l.Leaderless
	rep.Writes = slices.Clone(r.writes)
	leadWrites(rep.Writes, rep.Terms)
	rep.StaleWrites = staleWrites(rep.Writes, rep.Terms)
	rep.OverlapWrites = overlapWrites(rep.Writes, rep.Overlaps)
	closeOpen(rep.Holders, end, func(h *HolderSpan) *time.Duration { return &h.End })
	closeOpen(rep.Faults, end, func(f *FaultSpan) *time.Duration { return &f.End })
	return rep
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
