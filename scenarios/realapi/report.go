package realapi

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// The parts of a report are sim's types, so that a real run and a simulated
// one compare field by field. Times are offsets from the start of the run
// (Report.Start), in real time. Differences on a real server:
//   - Event.Who is a candidate name, "api" for the foreign writer or
//     "harness" for the harness's own actions (faults).
//   - RequestTimes.Applied is -1: when the server applied a request is not
//     known from outside it.
//   - RequestStats.Injected and Refused stay zero: the harness injects no
//     error answers and no outage.
type (
	Event        = sim.Event
	Term         = sim.Term
	RequestTimes = sim.RequestTimes
	Failover     = sim.Failover
	Overlap      = sim.Overlap
	RequestStats = sim.RequestStats
)

func formatOffset(d time.Duration) string { return fmt.Sprintf("%.6fs", d.Seconds()) }

// Report is what one run of a Cluster did.
type Report struct {
	Namespace string `json:"namespace"`
	Lease     string `json:"lease"`
	// Start is the wall-clock instant of offset zero.
	Start time.Time `json:"start"`
	// Duration is the length of the run.
	Duration time.Duration `json:"duration"`
	// FirstLeader is when the first term started (-1: never).
	FirstLeader time.Duration `json:"firstLeader"`
	// Leaderless is the time without an acting leader after FirstLeader.
	Leaderless       time.Duration `json:"leaderless"`
	Terms            []Term        `json:"terms"`
	Failovers        []Failover    `json:"failovers"`
	Overlaps         []Overlap     `json:"overlaps"`
	LostWithoutCrash []Term        `json:"lostWithoutCrash"`
	Requests         RequestStats  `json:"requests"`
	// RoundTrips are the measured round trips to the server per verb, in
	// the order they were answered: from handing the request to the
	// candidate's HTTP transport until the answer was read whole, without
	// the latency the harness adds. They calibrate sim's latency model
	// (Compare).
	RoundTrips map[string][]time.Duration `json:"roundTrips"`
	Trace      []Event                    `json:"trace"`
}

// TraceText is the trace, one event per line.
func (r *Report) TraceText() string {
	var b strings.Builder
	for _, e := range r.Trace {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// recorder collects a run's report. Every method is safe for concurrent use;
// after freeze nothing changes.
type recorder struct {
	start time.Time

	mu        sync.Mutex
	frozen    bool
	end       time.Duration
	events    []Event
	terms     []Term
	active    map[string]activeTerm
	overlaps  []Overlap
	openOvl   map[[2]string]int
	failovers []Failover
	lastEnd   *Term
	stats     RequestStats
	rtts      map[string][]time.Duration
	changed   chan struct{} // closed and replaced on every change of leadership
}

type activeTerm struct {
	index int
	gen   int // the candidate's incarnation
}

func newRecorder() *recorder {
	return &recorder{
		start:   time.Now(),
		active:  make(map[string]activeTerm),
		openOvl: make(map[[2]string]int),
		stats:   RequestStats{ByVerb: make(map[string]int)},
		rtts:    make(map[string][]time.Duration),
		changed: make(chan struct{}),
	}
}

func (r *recorder) now() time.Duration { return time.Since(r.start) }

func (r *recorder) add(who, format string, args ...any) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addLocked(who, fmt.Sprintf(format, args...))
}

func (r *recorder) addLocked(who, what string) time.Duration {
	now := r.now()
	if !r.frozen {
		r.events = append(r.events, Event{At: now, Who: who, What: what})
	}
	return now
}

func (r *recorder) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// poke wakes everyone waiting for a change (a fault trigger fired).
func (r *recorder) poke() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notifyLocked()
}

// termStarted records OnStartedLeading of incarnation gen of cand.
func (r *recorder) termStarted(cand string, gen int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return
	}
	now := r.now()
	r.addLocked(cand, "started leading (acting leader)")
	for _, other := range r.activeLocked() {
		r.openOvl[[2]string{other, cand}] = len(r.overlaps)
		r.overlaps = append(r.overlaps, Overlap{Old: other, New: cand, Start: now, End: -1})
	}
	if len(r.active) == 0 && r.lastEnd != nil {
		r.failovers = append(r.failovers, Failover{
			From: r.lastEnd.Candidate, To: cand, Cause: r.lastEnd.EndCause,
			Start: r.lastEnd.End, End: now, Duration: now - r.lastEnd.End,
		})
	}
	r.active[cand] = activeTerm{index: len(r.terms), gen: gen}
	r.terms = append(r.terms, Term{Candidate: cand, Identity: cand, Start: now, End: -1})
	r.notifyLocked()
}

// renewFailed notes when incarnation gen of cand logged that it failed to renew.
func (r *recorder) renewFailed(cand string, gen int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a, ok := r.active[cand]; ok && a.gen == gen && !r.frozen {
		now := r.now()
		r.terms[a.index].RenewFailed = &now
	}
}

// termEnded records the end of incarnation gen's term of cand, if it is
// still acting; cause is crash, stop or lost. last is its last successful
// lease write.
func (r *recorder) termEnded(cand string, gen int, cause string, last *RequestTimes) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.active[cand]
	if !ok || a.gen != gen || r.frozen {
		return
	}
	r.endLocked(cand, a.index, r.now(), cause, last)
	r.notifyLocked()
}

func (r *recorder) endLocked(cand string, i int, now time.Duration, cause string, last *RequestTimes) {
	delete(r.active, cand)
	t := &r.terms[i]
	t.End, t.EndCause = now, cause
	if last != nil && last.Answered >= 0 {
		l := *last
		t.LastRenew = &l
	}
	r.addLocked(cand, "stopped leading ("+cause+")")
	for key, j := range r.openOvl {
		if key[0] != cand && key[1] != cand {
			continue
		}
		o := &r.overlaps[j]
		o.End, o.Duration = now, now-o.Start
		if key[0] == cand {
			o.Cause = explainOverlap(*t)
		} else {
			o.Cause = "the newer leader " + cand + " stopped first"
		}
		delete(r.openOvl, key)
	}
	if len(r.active) == 0 {
		term := *t
		r.lastEnd = &term
	}
}

// explainOverlap says why the old leader t still acted when another started.
func explainOverlap(t Term) string {
	var parts []string
	if t.RenewFailed != nil && t.End > *t.RenewFailed {
		parts = append(parts, fmt.Sprintf("pending release: %s failed to renew at %s and acted on for %v while client-go tried to release the lease (ReleaseOnCancel) before cancelling its context",
			t.Candidate, formatOffset(*t.RenewFailed), t.End-*t.RenewFailed))
	}
	if t.LastRenew != nil {
		parts = append(parts, fmt.Sprintf("last renew sent %s, answered %s; %s counted its renew deadline from the answer, followers counted the lease from their observation of the write",
			formatOffset(t.LastRenew.Sent), formatOffset(t.LastRenew.Answered), t.Candidate))
	}
	if len(parts) == 0 {
		return "no renew of this term was seen to succeed"
	}
	return strings.Join(parts, "; ")
}

func (r *recorder) activeLocked() []string {
	names := make([]string, 0, len(r.active))
	for name := range r.active {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Compare(r.terms[r.active[a].index].Start, r.terms[r.active[b].index].Start)
	})
	return names
}

// leaders returns the acting leaders and a channel closed at the next change.
func (r *recorder) leaders() ([]string, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.activeLocked(), r.changed
}

// request counts one request by its outcome.
func (r *recorder) request(verb string, outcome requestOutcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return
	}
	r.stats.Total++
	r.stats.ByVerb[verb]++
	switch outcome {
	case outcomeConflict:
		r.stats.Conflicts++
	case outcomeTimeout:
		r.stats.Timeouts++
	case outcomeDropped:
		r.stats.Dropped++
	}
}

// roundTrip notes one measured round trip to the server.
func (r *recorder) roundTrip(verb string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.frozen {
		r.rtts[verb] = append(r.rtts[verb], d)
	}
}

type requestOutcome int

const (
	outcomeAnswered requestOutcome = iota
	outcomeConflict
	outcomeTimeout
	outcomeDropped
)

// freeze ends the run: open terms end as "running" and nothing is recorded
// afterwards.
func (r *recorder) freeze() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return
	}
	r.end = r.addLocked("harness", "run ends")
	for _, cand := range r.activeLocked() {
		r.endLocked(cand, r.active[cand].index, r.end, "running", nil)
	}
	r.frozen = true
	r.notifyLocked()
}

// report builds the run's report; call it after freeze.
func (r *recorder) report(namespace, lease string) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{
		Namespace: namespace, Lease: lease, Start: r.start, Duration: r.end, FirstLeader: -1,
		Terms:     slices.Clone(r.terms),
		Failovers: slices.Clone(r.failovers),
		Overlaps:  slices.Clone(r.overlaps),
		Trace:     slices.Clone(r.events),
		Requests:  r.stats,
	}
	rep.Requests.ByVerb = make(map[string]int, len(r.stats.ByVerb))
	for k, v := range r.stats.ByVerb {
		rep.Requests.ByVerb[k] = v
	}
	rep.RoundTrips = make(map[string][]time.Duration, len(r.rtts))
	for k, v := range r.rtts {
		rep.RoundTrips[k] = slices.Clone(v)
	}
	for _, t := range rep.Terms {
		if t.EndCause == "lost" {
			rep.LostWithoutCrash = append(rep.LostWithoutCrash, t)
		}
	}
	rep.FirstLeader, rep.Leaderless = sim.Leaderless(rep.Terms, rep.Duration)
	return rep
}
