package sim

import (
	"math/rand/v2"
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
	outage      int // nesting count of outages in force
	blackHole   int
	latency     []latencyRule // newest last; the newest match wins
	errs        []errorRule
	slow        []slowRule
	triggers    []trigger
	overload    *overloadRule
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

// trigger holds a fault until the n-th successful lease write of cand, sent
// after armed, is answered (Fault.AfterWrites).
type trigger struct {
	cand  string
	n     int
	armed time.Time
	fire  func()
}

func newRules() *rules { return &rules{partitioned: make(map[string]bool)} }

// plan is everything drawn for one request when it is sent, from the sending
// candidate's own random stream.
type plan struct {
	reqLeg, respLeg time.Duration
	inject          *errorRule
	slow            func() // the slow-response rule this request took, if any
}

// draw picks a leg from d. minLeg is the shortest leg the backend allows.
func draw(rng *rand.Rand, d Dist, minLeg time.Duration) time.Duration {
	v := d.Min
	if d.Max > d.Min {
		v += time.Duration(rng.Int64N(int64(d.Max-d.Min) + 1))
	}
	return max(v, minLeg)
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

// plan draws the legs and the forged answer, if any, of a request of verb
// from cand, whose base latency is base.
func (r *rules) plan(c *candidate, rt route, base Dist, minLeg time.Duration) plan {
	r.mu.Lock()
	req, resp := r.legsLocked(c.name, rt, base)
	slow := time.Duration(-1)
	var fire func()
	for i, s := range r.slow {
		if s.matches(c.name, rt) {
			slow, fire = s.delay, s.fire
			r.slow = append(r.slow[:i:i], r.slow[i+1:]...)
			break
		}
	}
	var rule *errorRule
	for i := len(r.errs) - 1; i >= 0; i-- {
		if e := r.errs[i]; e.matches(c.name, rt) {
			rule = &e
			break
		}
	}
	r.mu.Unlock()

	c.rngMu.Lock()
	defer c.rngMu.Unlock()
	p := plan{reqLeg: draw(c.rng, req, minLeg), respLeg: draw(c.rng, resp, minLeg), slow: fire}
	if slow >= 0 {
		p.respLeg = max(slow, minLeg)
	}
	if rule != nil && c.rng.Float64() < rule.rate {
		p.inject = rule
	}
	return p
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
