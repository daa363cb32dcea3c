package realapi

import (
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

	mu     sync.Mutex
	frozen bool
	end    time.Duration
	events []Event
	ledger sim.Ledger
	gens   map[string]int // candidate -> incarnation of its acting term
	stats  RequestStats
	rtts   map[string][]time.Duration
	// changed is closed and replaced on every change of leadership.
	changed chan struct{}
}

func newRecorder() *recorder {
	return &recorder{
		start:   time.Now(),
		gens:    make(map[string]int),
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
	if _, ok := r.ledger.Start(cand, cand, r.now()); ok {
		r.gens[cand] = gen
		r.addLocked(cand, "started leading (acting leader)")
	}
	r.notifyLocked()
}

// actingLocked reports whether incarnation gen of cand is acting as leader.
func (r *recorder) actingLocked(cand string, gen int) bool {
	g, ok := r.gens[cand]
	return ok && g == gen && !r.frozen
}

// renewFailed notes when incarnation gen of cand logged that it failed to renew.
func (r *recorder) renewFailed(cand string, gen int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.actingLocked(cand, gen) {
		r.ledger.RenewFailed(cand, r.now())
	}
}

// termEnded records the end of incarnation gen's term of cand, if it is
// still acting; cause is crash, stop or lost. last is its last successful
// lease write.
func (r *recorder) termEnded(cand string, gen int, cause string, last *RequestTimes) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.actingLocked(cand, gen) {
		return
	}
	if last != nil && last.Answered >= 0 {
		l := *last
		last = &l
	} else {
		last = nil
	}
	r.ledger.End(cand, r.now(), cause, last)
	delete(r.gens, cand)
	r.addLocked(cand, "stopped leading ("+cause+")")
	r.notifyLocked()
}

// since reports whether cand is acting now and whether any other candidate
// began a term at or after at.
func (r *recorder) since(cand string, at time.Duration) (acting, othersStarted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, acting = r.gens[cand]
	for _, t := range r.ledger.Leadership(r.now()).Terms {
		othersStarted = othersStarted || (t.Candidate != cand && t.Start >= at)
	}
	return acting, othersStarted
}

// leaders returns the acting leaders and a channel closed at the next change.
func (r *recorder) leaders() ([]string, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ledger.Acting(), r.changed
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

// freeze ends the run: nothing is recorded afterwards, and terms still open
// end as running in the report.
func (r *recorder) freeze() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frozen {
		return
	}
	r.end = r.addLocked("harness", "run ends")
	r.frozen = true
	r.notifyLocked()
}

// report builds the run's report; call it after freeze.
func (r *recorder) report(namespace, lease string) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.ledger.Leadership(r.end)
	rep := &Report{
		Namespace: namespace, Lease: lease, Start: r.start, Duration: r.end,
		FirstLeader: l.FirstLeader, Leaderless: l.Leaderless,
		Terms: l.Terms, Failovers: l.Failovers, Overlaps: l.Overlaps, LostWithoutCrash: l.LostWithoutCrash,
		Trace:    slices.Clone(r.events),
		Requests: r.stats,
	}
	rep.Requests.ByVerb = make(map[string]int, len(r.stats.ByVerb))
	for k, v := range r.stats.ByVerb {
		rep.Requests.ByVerb[k] = v
	}
	rep.RoundTrips = make(map[string][]time.Duration, len(r.rtts))
	for k, v := range r.rtts {
		rep.RoundTrips[k] = slices.Clone(v)
	}
	return rep
}
