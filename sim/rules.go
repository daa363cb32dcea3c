package sim

import (
	"hash/crc32"
	"math/bits"
	"sync"
	"time"
)

// rules is the fault state every request consults, whichever backend serves
// it: the simulated network and the RoundTripper in front of a real API
// server ask the same questions (is the sender partitioned, is there an
// outage, how long does each leg take, is the answer forged) and get the same
// answers. A rule matches a candidate and a verb; empty matches all.
type rules struct {
	mu          sync.Mutex
	partitioned map[string]bool
	watchDelay  map[string]time.Duration // FaultWatchDelay in force, by candidate
	replica     map[string]*replica      // FaultStaleReplica in force, by candidate
	outage      int                      // nesting count of outages in force
	blackHole   int
	latency     []latencyRule // newest last; the newest match wins
	errs        []errorRule
	slow        []slowRule
	triggers    []trigger
	// termTriggers hold faults until a number of terms have ended
	// (Fault.AfterTermEnds).
	termTriggers []termTrigger
	overload     *overloadRule
	now          sameInstant
}

// overloadRule is FaultOverload in force: the instants at which each of the
// server's seats is free again.
type overloadRule struct {
	seats      []time.Time
	service    time.Duration
	queueWait  time.Duration
	retryAfter time.Duration
}

// seat gives a request of rt arriving at now a seat of an overloaded server:
// the instant its service starts (now, or later after waiting in the queue),
// and how long its service takes; or, when it would wait longer than the
// queue allows, ok false and the instant it is turned away. Watches, long
// running requests, take no seat, as in kube-apiserver.
func (r *rules) seat(rt route, now time.Time) (start time.Time, service time.Duration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.overload
	if o == nil || rt.Verb == VerbWatch {
		return now, 0, true
	}
	first := 0
	for i, free := range o.seats {
		if free.Before(o.seats[first]) {
			first = i
		}
	}
	start = o.seats[first]
	if start.Before(now) {
		start = now
	}
	if start.Sub(now) > o.queueWait {
		return now.Add(o.queueWait), 0, false
	}
	o.seats[first] = start.Add(o.service)
	return start, o.service, true
}

// scope is what a rule applies to: requests from cand, of verb, to resource
// (each empty for all).
type scope struct{ cand, verb, resource string }

func (s scope) matches(cand string, rt route) bool {
	return (s.cand == "" || s.cand == cand) && (s.verb == "" || s.verb == rt.Verb) && (s.resource == "" || s.resource == rt.Resource)
}

type latencyRule struct {
	scope
	req, resp Dist
}

type errorRule struct {
	scope
	message    string // the answer's message, when not the injected errors'
	code       int
	rate       float64
	retryAfter time.Duration
}

type slowRule struct {
	scope
	delay time.Duration
	fire  func() // records the fault when a request takes it
}

// termTrigger holds a fault until n more terms have ended.
type termTrigger struct {
	n    int
	fire func()
}

// termEnded counts a term's end into the term triggers and returns the
// faults due now, in the order they were armed.
func (r *rules) termEnded() []func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	var due []func()
	kept := r.termTriggers[:0]
	for _, t := range r.termTriggers {
		if t.n--; t.n == 0 {
			due = append(due, t.fire)
		} else {
			kept = append(kept, t)
		}
	}
	r.termTriggers = kept
	return due
}

// trigger holds a fault until the n-th successful lease write of cand, sent
// after armed, is answered (Fault.AfterWrites).
type trigger struct {
	cand  string
	n     int
	armed time.Time
	fire  func()
}

func newRules() *rules {
	return &rules{partitioned: make(map[string]bool), watchDelay: make(map[string]time.Duration), replica: make(map[string]*replica)}
}

// watchDelayOf is how late cand's watch events arrive (FaultWatchDelay).
func (r *rules) watchDelayOf(cand string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.watchDelay[cand]
}

// plan is everything drawn for one request when it is sent: a pure function
// of the request (see requestKey), so that it does not depend on which of a
// candidate's goroutines sent first.
type plan struct {
	key             uint64 // the request's key: its draws and its place among the events of an instant
	reqLeg, respLeg time.Duration
	inject          *errorRule
	slow            func() // the slow-response rule this request took, if any
}

// source is a splitmix64 generator: a request's draws come from one seeded
// by its key, on the stack, where a math/rand.Rand would cost allocations on
// every request.
type source struct{ state uint64 }

func (s *source) uint64() uint64 {
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// below is uniform in [0, n) (Lemire's multiply; the bias, n/2^64, is far
// below anything a run can show).
func (s *source) below(n uint64) uint64 {
	hi, _ := bits.Mul64(s.uint64(), n)
	return hi
}

// float64 is uniform in [0, 1).
func (s *source) float64() float64 { return float64(s.uint64()>>11) / (1 << 53) }

// draw picks a leg from d. minLeg is the shortest leg the backend allows.
func draw(src *source, d Dist, minLeg time.Duration) time.Duration {
	v := d.Min
	if d.Max > d.Min {
		v += time.Duration(src.below(uint64(d.Max-d.Min) + 1))
	}
	return max(v, minLeg)
}

// FNV-1a, for the request's key.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvUint(h, v uint64) uint64 {
	for range 8 {
		h ^= v & 0xff
		h *= fnvPrime
		v >>= 8
	}
	return h
}

// castagnoli hashes request bodies: in hardware on amd64 and arm64, so a
// lease update's few hundred bytes cost a few nanoseconds.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// requestKey is what a request's draws derive from: the run's seed, the
// sending process (candidate and start), the instant it was sent, its
// method, URL and body, and n, how many requests with the same key that
// process sent at that instant before it. Two runs of one seed send the same
// requests at the same instants, whatever order the goroutines that send
// them run in, so they draw the same legs and errors and their events keep
// the same order. (Identical requests of one instant are told apart only by
// n, which does follow the goroutines' order; they carry the same content,
// so only which caller gets which answer can differ.)
func requestKey(seed int64, cand, start int, sent time.Duration, method, path, query string, body []byte) uint64 {
	h := fnvUint(fnvOffset, uint64(seed))
	h = fnvUint(h, uint64(cand)<<32|uint64(uint32(start)))
	h = fnvUint(h, uint64(sent))
	h = fnvString(h, method)
	h = fnvString(h, path)
	h = fnvString(h, query)
	return fnvUint(h, uint64(len(body))<<32|uint64(crc32.Checksum(body, castagnoli)))
}

// legs are the latency distributions of a request of verb from cand whose
// base latency is base: the newest matching latency rule's.
func (r *rules) legs(cand string, rt route, base Dist) (req, resp Dist) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.legsLocked(cand, rt, base)
}

func (r *rules) legsLocked(cand string, rt route, base Dist) (req, resp Dist) {
	req, resp = base, base
	for i := len(r.latency) - 1; i >= 0; i-- {
		if l := r.latency[i]; l.matches(cand, rt) {
			if !l.req.isZero() {
				req = l.req
			}
			if !l.resp.isZero() {
				resp = l.resp
			}
			break
		}
	}
	return req, resp
}

// sameInstant is what plan remembers of the requests sent at the latest
// instant: their keys before the count (for requestKey's n), and the slow
// responses taken then, so that the request with the smallest key takes
// each, whichever goroutine sent first.
type sameInstant struct {
	at    time.Time
	keys  []uint64
	taken []slowTaken
}

type slowTaken struct {
	rule  slowRule
	by    *request
	drawn time.Duration // by's response leg had it not taken the rule
}

// plan draws r's legs and its forged answer, if any, into r.plan, from r's
// key: r is sent now from its process, with base latency base.
func (r *rules) plan(req *request, base Dist, minLeg time.Duration) {
	p, u := req.p, req.req.URL
	cand := p.cand.name
	key := requestKey(p.c.opts.Seed, p.cand.idx, p.start, req.sent.Sub(p.c.start), req.req.Method, u.Path, u.RawQuery, req.body)

	r.mu.Lock()
	if !req.sent.Equal(r.now.at) {
		clear(r.now.taken) // let the requests go
		r.now = sameInstant{at: req.sent, keys: r.now.keys[:0], taken: r.now.taken[:0]}
	}
	n := uint64(0)
	for _, k := range r.now.keys {
		if k == key {
			n++
		}
	}
	r.now.keys = append(r.now.keys, key)
	key = fnvUint(key, n)

	reqDist, respDist := r.legsLocked(cand, req.route, base)
	src := source{state: key}
	pl := plan{key: key, reqLeg: draw(&src, reqDist, minLeg), respLeg: draw(&src, respDist, minLeg)}
	for i := len(r.errs) - 1; i >= 0; i-- {
		if e := r.errs[i]; e.matches(cand, req.route) {
			if src.float64() < e.rate {
				pl.inject = &e
			}
			break
		}
	}
	req.plan = pl
	fire := r.takeSlow(req, minLeg)
	r.mu.Unlock()
	if fire != nil {
		fire()
	}
}

// takeSlow gives req a slow response if one is pending for it. In the
// simulator, where requests of one instant are sent before any arrives, a
// rule another request took at this instant passes to req if req's key is
// smaller: each rule goes to the smallest key among the matching requests of
// its instant. (A real server's clock never stands still, so there the first
// request takes it.) The sender of req fires a rule req takes (plan.slow); a
// rule that a request req displaced takes instead is returned, for the
// caller to fire.
func (r *rules) takeSlow(req *request, minLeg time.Duration) (fire func()) {
	sender := req
	if req.p.c.api.simulated() {
		for i := range r.now.taken {
			t := &r.now.taken[i]
			if req.plan.key < t.by.plan.key && t.rule.matches(req.p.cand.name, req.route) {
				drawn := req.plan.respLeg
				req.plan.respLeg = max(t.rule.delay, minLeg)
				t.by.plan.respLeg = t.drawn
				t.by, t.drawn, req = req, drawn, t.by
			}
		}
	}
	for i, s := range r.slow {
		if s.matches(req.p.cand.name, req.route) {
			r.slow = append(r.slow[:i:i], r.slow[i+1:]...)
			r.now.taken = append(r.now.taken, slowTaken{rule: s, by: req, drawn: req.plan.respLeg})
			req.plan.respLeg = max(s.delay, minLeg)
			if req == sender {
				req.plan.slow = s.fire
				return nil
			}
			return s.fire
		}
	}
	return nil
}

// admit reports whether cand is partitioned and whether an outage is in
// force, as one look at the fault state.
func (r *rules) admit(cand string) (partitioned, outage bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.partitioned[cand], r.outage > 0
}

// reachability reports whether cand cannot reach the API (partition or black
// hole) and whether an outage is in force.
func (r *rules) reachability(cand string) (unreachable, outage bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.partitioned[cand] || r.blackHole > 0, r.outage > 0
}

func (r *rules) whyUnreachable(cand string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.partitioned[cand] {
		return cand + " is partitioned"
	}
	return "API black hole"
}

// wrote counts a successful lease write of cand sent at sent and answered
// now, and returns the triggers it fires.
func (r *rules) wrote(cand string, sent time.Time) []func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	var fire []func()
	kept := r.triggers[:0]
	for _, t := range r.triggers {
		if t.cand == cand && !sent.Before(t.armed) {
			t.n--
		}
		if t.n == 0 {
			fire = append(fire, t.fire)
			continue
		}
		kept = append(kept, t)
	}
	r.triggers = kept
	return fire
}

// removeFirst deletes the first element of s that matches.
func removeFirst[T any](s []T, match func(T) bool) []T {
	for i := range s {
		if match(s[i]) {
			return append(s[:i:i], s[i+1:]...)
		}
	}
	return s
}

func (r *rules) overloadRetryAfter() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.overload == nil {
		return time.Second
	}
	return r.overload.retryAfter
}
