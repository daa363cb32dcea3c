package sim

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

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
	versions   History
	sightings  []sighting
	cutOffs    []cutOffCount
	views      viewReader
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

// version notes a version of a data object the server stored.
func (r *recorder) version(v Version) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.frozen {
		r.versions = append(r.versions, v)
	}
}

// saw notes what reached a process (see views).
func (r *recorder) saw(s sighting) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.frozen {
		r.sightings = append(r.sightings, s)
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
	for i := range r.versions {
		r.versions[i].content()
	}
	rep.History = slices.Clone(r.versions)
	for _, x := range r.cutOffs {
		rep.CutOffs = append(rep.CutOffs, x.report())
	}
	changes := changesOf(r.versions)
	judgeStale(rep.StaleWrites, changes, r.versions)
	rep.LostUpdates = lostUpdates(rep.Writes, rep.StaleWrites, changes, r.views.read(r.sightings))
	rep.OverlapWrites = overlapWrites(rep.Writes, rep.Overlaps)
	closeOpen(rep.Holders, end, func(h *HolderSpan) *time.Duration { return &h.End })
	closeOpen(rep.Faults, end, func(f *FaultSpan) *time.Duration { return &f.End })
	return rep
}
