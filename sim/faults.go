package sim

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// FaultKind names a fault.
type FaultKind string

// The faults. Each has a Cluster method of the same meaning; a Fault in
// Options.Faults is the same call made at Fault.At. Every kind runs on both
// backends (Test and Real); on a real API server the faults are made by a
// RoundTripper in each candidate's client, so error answers are forged there
// and an outage refuses the connection there.
const (
	// FaultCrash ends Candidate's process at once: later requests never
	// arrive, it cannot release; requests already sent still arrive.
	FaultCrash FaultKind = "crash"
	// FaultStop cancels Candidate's context: it releases if ReleaseOnCancel.
	FaultStop FaultKind = "stop"
	// FaultStart starts Candidate again, as Identity when that is set.
	FaultStart FaultKind = "start"
	// FaultPartition cuts Candidate off from the API both ways for For (0:
	// until the end of the run).
	FaultPartition FaultKind = "partition"
	// FaultLatency sets the latency of requests from Candidate (all when
	// empty) with Verb (all when empty) to Request and Response, for For. On
	// a real API server the legs are added to the server's own round trip.
	FaultLatency FaultKind = "latency"
	// FaultSlowResponse answers the next matching request after Delay instead
	// of its response leg. The server still applies it on arrival. Its span
	// starts when that request is sent.
	FaultSlowResponse FaultKind = "slow-response"
	// FaultErrors answers a Rate share of matching requests with Code (500,
	// 503 or 429, the last two with RetryAfter) instead of applying them.
	FaultErrors FaultKind = "errors"
	// FaultOutage refuses every connection at once for For: fast errors.
	FaultOutage FaultKind = "outage"
	// FaultBlackHole answers nothing for For: requests and responses vanish.
	FaultBlackHole FaultKind = "black-hole"
	// FaultOverload makes the API server serve at most InFlight requests at
	// once, each for Service; a request that finds every seat taken waits in
	// a queue, in arrival order, for at most QueueWait and is then answered
	// 429 with RetryAfter (1 s when zero): kube-apiserver's max-in-flight and
	// priority-and-fairness limits in miniature, for For. Watches take no
	// seat (long-running requests are exempt). A flood of lists or writes
	// then delays lease renewals behind it.
	FaultOverload FaultKind = "overload"
	// FaultAPIRestart restarts the API server: every open watch breaks at
	// once and the server forgets its watch history, so clients that watch
	// again from the version they had are answered 410 Expired and list
	// again. On a real API server the streams break in the candidates'
	// transports and the server's history stays.
	FaultAPIRestart FaultKind = "api-restart"
	// FaultDeleteLease deletes the lease, as a foreign writer would.
	FaultDeleteLease FaultKind = "delete-lease"
	// FaultOverwriteLease writes Identity as the lease holder, unconditionally.
	FaultOverwriteLease FaultKind = "overwrite-lease"
	// FaultWatchDelay delays every watch event of Candidate by Delay, for
	// For: its informers see each change Delay late, as a client of a
	// lagging API server replica does (kube-apiserver serves watches from
	// its watch cache), while its own reads and writes are current. Events
	// keep their order. On a real API server the candidate's transport
	// holds them.
	FaultWatchDelay FaultKind = "watch-delay"
	// FaultStaleReplica serves Candidate, for For, from an API server
	// replica whose watch cache lags the store by Delay, or stays at the
	// version of the fault's start (Frozen), as one lagging kube-apiserver of
	// an HA control plane does; the candidate's writes reach the store as
	// always. kube-apiserver 1.37's rules decide what the cache serves:
	//   - each change reaches the candidate's watches (its informers) when
	//     the cache gains it, Delay after it was written (frozen: when the
	//     fault ends);
	//   - gets and lists that name a resourceVersion ("0", as a reflector's
	//     fallback list does) read the cache: the objects as they were;
	//   - a watch-list (sendInitialEvents, how client-go 1.37's informers
	//     start) and a consistent list wait for the cache to reach the
	//     store's version, at most 3 s; then the list reads the store and
	//     the watch-list is answered 504 "Too large resource version", on
	//     which client-go lists from the cache instead;
	//   - gets without a resourceVersion and every write reach the store.
	// The candidate moves to a fresh replica, and the fault ends, when its
	// connections break (a partition, black hole, outage or API restart)
	// or its process starts again. The simulator only: a real API server's
	// replicas cannot be made to lag from a client.
	FaultStaleReplica FaultKind = "stale-replica"
)

// Leader, as a Fault's Candidate, targets whoever acts as leader when the
// fault is applied (the longest-acting one if several do). A fault aimed at
// the leader when none acts is an error, never skipped.
const Leader = "leader"

// Fault is one fault of a plan: what happens, to whom, when, for how long.
// Fields a kind does not use must be zero; Validate says which.
type Fault struct {
	Kind FaultKind `json:"kind"`
	// At is the virtual offset from the start of the run.
	At time.Duration `json:"at"`
	// AfterWrites, when positive, holds the fault from At until the
	// AfterWrites-th successful lease write of Candidate sent after At is
	// answered, and applies it at that instant: "partition the leader as its
	// next renew is answered" makes the leader's last successful renew known
	// exactly. For crash, stop, partition and latency.
	AfterWrites int `json:"afterWrites,omitempty"`
	// AfterTermEnds, when positive, holds the fault from At until the
	// AfterTermEnds-th term of any candidate that ends after At, and applies
	// it at that instant, Leader meaning whoever acts then: a fault at the
	// end of a term, when a deposed leader's writes are still on their way
	// and the next one has not begun. Any kind; not with AfterWrites.
	AfterTermEnds int `json:"afterTermEnds,omitempty"`
	// For is how long a lasting fault lasts; 0 means until the end of the run.
	For time.Duration `json:"for,omitempty"`
	// Candidate names the candidate ("c0", ..., or Leader); empty means all
	// where the kind allows it (latency, slow-response, errors).
	Candidate string `json:"candidate,omitempty"`
	// Verb restricts latency, slow-response and errors to one verb, and
	// Resource to one resource as the path names it ("configmaps", "leases",
	// "deployments/status"): slow data writes while the leases are fast.
	Verb     string `json:"verb,omitempty"`
	Resource string `json:"resource,omitempty"`
	// Request and Response are the legs' latency (FaultLatency); zero means
	// Options.Latency.
	Request  Dist `json:"request,omitzero"`
	Response Dist `json:"response,omitzero"`
	// Delay is the response leg of FaultSlowResponse, and how late
	// FaultWatchDelay's events arrive.
	Delay time.Duration `json:"delay,omitempty"`
	// InFlight, Service and QueueWait configure FaultOverload (with
	// RetryAfter).
	InFlight  int           `json:"inFlight,omitempty"`
	Service   time.Duration `json:"service,omitempty"`
	QueueWait time.Duration `json:"queueWait,omitempty"`
	// Code, Rate and RetryAfter configure FaultErrors.
	Code       int           `json:"code,omitempty"`
	Rate       float64       `json:"rate,omitempty"`
	RetryAfter time.Duration `json:"retryAfter,omitempty"`
	// Identity is the new identity for FaultStart and the foreign holder for
	// FaultOverwriteLease.
	Identity string `json:"identity,omitempty"`
	// Frozen stops FaultStaleReplica's cache at the version of the fault's
	// start, instead of lagging by Delay.
	Frozen bool `json:"frozen,omitempty"`
}

// faultFields are the Fault fields a kind may set, besides Kind and At, with
// how to tell whether a fault sets each.
var faultFields = []struct {
	name string
	set  func(Fault) bool
}{
	{"Candidate", func(f Fault) bool { return f.Candidate != "" }},
	{"AfterWrites", func(f Fault) bool { return f.AfterWrites != 0 }},
	{"For", func(f Fault) bool { return f.For != 0 }},
	{"Verb", func(f Fault) bool { return f.Verb != "" }},
	{"Resource", func(f Fault) bool { return f.Resource != "" }},
	{"Request", func(f Fault) bool { return !f.Request.isZero() }},
	{"Response", func(f Fault) bool { return !f.Response.isZero() }},
	{"Delay", func(f Fault) bool { return f.Delay != 0 }},
	{"Code", func(f Fault) bool { return f.Code != 0 }},
	{"Rate", func(f Fault) bool { return f.Rate != 0 }},
	{"RetryAfter", func(f Fault) bool { return f.RetryAfter != 0 }},
	{"InFlight", func(f Fault) bool { return f.InFlight != 0 }},
	{"Service", func(f Fault) bool { return f.Service != 0 }},
	{"QueueWait", func(f Fault) bool { return f.QueueWait != 0 }},
	{"Identity", func(f Fault) bool { return f.Identity != "" }},
	{"Frozen", func(f Fault) bool { return f.Frozen }},
}

// kindSpec is everything about one fault kind but its constant: a new kind
// is one entry of kinds.
type kindSpec struct {
	// fields are the Fault fields it may set, besides Kind and At.
	fields string
	// check is its own rules, after the checks every fault passes; nil
	// for none.
	check func(Fault) error
	// detail is its own part of the fault's description; nil for none.
	detail func(Fault) []string
	// inject applies it now; span is the fault's span in the report.
	inject func(c *Cluster, f Fault, span FaultSpan)
	// notReal says why a run on a real API server cannot make it; empty
	// when it can.
	notReal string
}

var kinds = map[FaultKind]kindSpec{
	FaultCrash:          {fields: "Candidate AfterWrites", check: needCandidate, inject: (*Cluster).injectEnd},
	FaultStop:           {fields: "Candidate AfterWrites", check: needCandidate, inject: (*Cluster).injectEnd},
	FaultStart:          {fields: "Candidate Identity", check: checkStart, detail: identityDetail, inject: (*Cluster).injectStart},
	FaultPartition:      {fields: "Candidate AfterWrites For", check: needCandidate, inject: (*Cluster).injectPartition},
	FaultLatency:        {fields: "Candidate AfterWrites Verb Resource Request Response For", check: checkLatency, detail: latencyDetail, inject: (*Cluster).injectLatency},
	FaultSlowResponse:   {fields: "Candidate Verb Resource Delay", check: checkDelay, detail: delayDetail, inject: (*Cluster).injectSlowResponse},
	FaultErrors:         {fields: "Candidate Verb Resource Code Rate RetryAfter For", check: checkErrors, detail: errorsDetail, inject: (*Cluster).injectErrors},
	FaultOverload:       {fields: "InFlight Service QueueWait RetryAfter For", check: checkOverload, detail: overloadDetail, inject: (*Cluster).injectOverload},
	FaultAPIRestart:     {inject: (*Cluster).injectAPIRestart},
	FaultOutage:         {fields: "For", inject: (*Cluster).injectCut},
	FaultBlackHole:      {fields: "For", inject: (*Cluster).injectCut},
	FaultDeleteLease:    {inject: (*Cluster).injectLeaseWrite},
	FaultOverwriteLease: {fields: "Identity", check: checkOverwrite, detail: identityDetail, inject: (*Cluster).injectLeaseWrite},
	FaultWatchDelay:     {fields: "Candidate Delay For", check: checkWatchDelay, detail: delayDetail, inject: (*Cluster).injectWatchDelay},
	FaultStaleReplica: {fields: "Candidate Delay Frozen For", check: checkStaleReplica, detail: replicaDetail, inject: (*Cluster).injectStaleReplica,
		notReal: "a real API server's replicas cannot be made to lag from a client; FaultWatchDelay delays the candidate's watch events there"},
}

var errNoCandidate = errors.New("Candidate must name a candidate")

// errNoLeader is the error of a fault aimed at the leader when none acts.
var errNoLeader = errors.New("no candidate acts as leader")

// validate checks f for a run of n candidates. Its errors name the kind and
// the field, without the package prefix, for the caller to add.
func (f Fault) validate(n int) error {
	spec, ok := kinds[f.Kind]
	if !ok {
		return fmt.Errorf("unknown Kind %q", f.Kind)
	}
	if err := f.check(spec, n); err != nil {
		return fmt.Errorf("%s: %w", f.Kind, err)
	}
	return nil
}

// check applies the rules every fault follows, then the kind's own.
func (f Fault) check(spec kindSpec, n int) error {
	for _, field := range faultFields {
		if field.set(f) && !strings.Contains(" "+spec.fields+" ", " "+field.name+" ") {
			return fmt.Errorf("%s must be zero: the %s fault does not use it", field.name, f.Kind)
		}
	}
	switch {
	case f.At < 0:
		return fmt.Errorf("At (%v) must not be negative", f.At)
	case f.For < 0:
		return fmt.Errorf("For (%v) must not be negative", f.For)
	case f.AfterWrites < 0:
		return fmt.Errorf("AfterWrites (%d) must not be negative", f.AfterWrites)
	case f.AfterTermEnds < 0:
		return fmt.Errorf("AfterTermEnds (%d) must not be negative", f.AfterTermEnds)
	case f.AfterTermEnds > 0 && f.AfterWrites > 0:
		return errors.New("AfterWrites and AfterTermEnds exclude each other: the fault waits for one of them")
	case f.Candidate != "" && f.Candidate != Leader && !knownCandidate(f.Candidate, n):
		return unknownCandidate(f.Candidate, n)
	}
	switch f.Verb {
	case "", VerbGet, VerbList, VerbWatch, VerbCreate, VerbUpdate, VerbPatch, VerbDelete:
	default:
		return fmt.Errorf("unknown Verb %q", f.Verb)
	}
	if spec.check == nil {
		return nil
	}
	return spec.check(f)
}

func needCandidate(f Fault) error {
	if f.Candidate == "" {
		return errNoCandidate
	}
	return nil
}

func checkStart(f Fault) error {
	if f.Candidate == "" || f.Candidate == Leader {
		return errors.New("Candidate must name a candidate (not Leader: a leader is running)")
	}
	return nil
}

func checkLatency(f Fault) error {
	if f.AfterWrites > 0 && f.Candidate == "" {
		return errors.New("Candidate must name a candidate when AfterWrites is set")
	}
	if err := f.Request.validate("Request"); err != nil {
		return err
	}
	return f.Response.validate("Response")
}

func checkDelay(f Fault) error {
	if f.Delay <= 0 {
		return fmt.Errorf("Delay (%v) must be positive", f.Delay)
	}
	return nil
}

func checkErrors(f Fault) error { return checkErrorRule(f.Code, f.Rate, f.RetryAfter) }

func checkOverload(f Fault) error {
	switch {
	case f.InFlight < 1:
		return fmt.Errorf("InFlight (%d) must be at least 1", f.InFlight)
	case f.Service <= 0:
		return fmt.Errorf("Service (%v) must be positive", f.Service)
	case f.QueueWait < 0:
		return fmt.Errorf("QueueWait (%v) must not be negative", f.QueueWait)
	case f.RetryAfter < 0:
		return fmt.Errorf("RetryAfter (%v) must not be negative", f.RetryAfter)
	}
	return nil
}

func checkOverwrite(f Fault) error {
	if f.Identity == "" {
		return errors.New("Identity (the foreign holder) must not be empty")
	}
	return nil
}

func checkWatchDelay(f Fault) error {
	if err := needCandidate(f); err != nil {
		return err
	}
	return checkDelay(f)
}

func checkStaleReplica(f Fault) error {
	switch {
	case f.Candidate == "":
		return errNoCandidate
	case f.Frozen == (f.Delay != 0):
		return fmt.Errorf("set one of Delay (the cache's lag, %v) and Frozen", f.Delay)
	case f.Delay < 0:
		return fmt.Errorf("Delay (%v) must be positive", f.Delay)
	}
	return nil
}

func checkErrorRule(code int, rate float64, retryAfter time.Duration) error {
	switch code {
	case 500, 503, 429:
	default:
		return fmt.Errorf("Code (%d) must be 500, 503 or 429", code)
	}
	if rate < 0 || rate > 1 {
		return fmt.Errorf("Rate (%v) must be between 0 and 1", rate)
	}
	if retryAfter < 0 {
		return fmt.Errorf("RetryAfter (%v) must not be negative", retryAfter)
	}
	return nil
}

func knownCandidate(name string, n int) bool {
	for i := range n {
		if CandidateName(i) == name {
			return true
		}
	}
	return false
}

func unknownCandidate(name string, n int) error {
	return fmt.Errorf("unknown candidate %q (candidates are c0..%s)", name, CandidateName(n-1))
}

// inject applies f now; plan is its place in Options.Faults from 1 (0 for
// a Cluster method's), for its span. It runs on the body's goroutine (Cluster methods) or
// on the scheduler's (Options.Faults, triggers); in the simulator nothing else
// runs at this instant in between, so the order is defined. f is valid; the
// error is for a fault aimed at the leader when none acts.
func (c *Cluster) inject(f Fault, plan int) error {
	if f.AfterTermEnds > 0 {
		n := f.AfterTermEnds
		f.AfterTermEnds = 0
		c.rec.add("sim", fmt.Sprintf("%s armed: at the end of term number %d from now", faultString(f), n))
		c.rules.mu.Lock()
		c.rules.termTriggers = append(c.rules.termTriggers, termTrigger{n: n, fire: func() {
			if err := c.inject(f, plan); err != nil && !(errors.Is(err, errNoLeader) && c.opts.SkipLeaderlessFaults) {
				c.rec.violation("%v", err)
			}
		}})
		c.rules.mu.Unlock()
		return nil
	}
	if f.Candidate == Leader {
		leader := c.Leader()
		if leader == "" {
			return fmt.Errorf("%s of the leader at %s: %w", f.Kind, c.offset(time.Now()), errNoLeader)
		}
		f.Candidate = leader
	}
	if f.AfterWrites > 0 {
		n, cand := f.AfterWrites, f.Candidate
		f.AfterWrites = 0
		c.rec.add("sim", fmt.Sprintf("%s armed: on the answer to %s's lease write number %d from now", faultString(f), cand, n))
		c.rules.mu.Lock()
		c.rules.triggers = append(c.rules.triggers, trigger{cand: cand, n: n, armed: time.Now(), fire: func() { _ = c.inject(f, plan) }})
		c.rules.mu.Unlock()
		return nil
	}
	kinds[f.Kind].inject(c, f, FaultSpan{Kind: f.Kind, Candidate: f.Candidate, Detail: faultDetail(f), Plan: plan})
	return nil
}

// injectEnd crashes or stops the candidate's process.
func (c *Cluster) injectEnd(f Fault, span FaultSpan) {
	p := c.byName[f.Candidate].current()
	c.rec.faultStarted("", span)
	if p == nil || p.isGone() {
		return
	}
	if f.Kind == FaultCrash {
		p.stoppedLeading(EndCrash)
		p.end(EndCrash)
		return
	}
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	p.cancel()
}

func (c *Cluster) injectStart(f Fault, span FaultSpan) {
	c.rec.faultStarted("", span)
	c.startProcess(c.byName[f.Candidate], f.Identity)
}

func (c *Cluster) injectPartition(f Fault, span FaultSpan) {
	r := c.rules
	r.mu.Lock()
	already := r.partitioned[f.Candidate]
	r.partitioned[f.Candidate] = true
	r.mu.Unlock()
	if already {
		return
	}
	c.rec.faultStarted("partition/"+f.Candidate, span)
	c.breakStreams(f.Candidate, HealthCheck, "")
	c.after(f.For, func() { c.heal(f.Candidate) })
}

func (c *Cluster) injectLatency(f Fault, span FaultSpan) {
	r := c.rules
	rule := latencyRule{scope: scope{f.Candidate, f.Verb, f.Resource}, req: f.Request, resp: f.Response}
	r.mu.Lock()
	r.latency = append(r.latency, rule)
	r.mu.Unlock()
	key := fmt.Sprintf("latency/%s/%s/%s/%d", f.Candidate, f.Verb, f.Resource, c.Now())
	c.rec.faultStarted(key, span)
	c.after(f.For, func() {
		r.mu.Lock()
		r.latency = removeFirst(r.latency, func(l latencyRule) bool { return l == rule })
		r.mu.Unlock()
		c.rec.faultEnded(key, "latency rule ended "+span.Detail)
	})
}

func (c *Cluster) injectSlowResponse(f Fault, span FaultSpan) {
	r := c.rules
	c.rec.add("sim", string(f.Kind)+" armed "+span.Detail)
	r.mu.Lock()
	r.slow = append(r.slow, slowRule{scope: scope{f.Candidate, f.Verb, f.Resource}, delay: f.Delay, fire: func() { c.rec.faultStarted("", span) }})
	r.mu.Unlock()
}

func (c *Cluster) injectErrors(f Fault, span FaultSpan) {
	r := c.rules
	sc := scope{f.Candidate, f.Verb, f.Resource}
	key := "errors/" + f.Candidate + "/" + f.Verb + "/" + f.Resource
	drop := func() {
		r.mu.Lock()
		r.errs = removeFirst(r.errs, func(e errorRule) bool { return e.scope == sc })
		r.mu.Unlock()
	}
	drop()
	c.rec.faultEnded(key, "error rule replaced")
	if f.Rate == 0 {
		return
	}
	r.mu.Lock()
	r.errs = append(r.errs, errorRule{scope: sc, code: f.Code, rate: f.Rate, retryAfter: f.RetryAfter})
	r.mu.Unlock()
	c.rec.faultStarted(key, span)
	c.after(f.For, func() { drop(); c.rec.faultEnded(key, "error rule ended "+span.Detail) })
}

// injectCut starts an outage or a black hole.
func (c *Cluster) injectCut(f Fault, span FaultSpan) {
	r := c.rules
	count := &r.outage
	if f.Kind == FaultBlackHole {
		count = &r.blackHole
	}
	r.mu.Lock()
	*count++
	r.mu.Unlock()
	key := fmt.Sprintf("%s/%d", f.Kind, c.Now())
	c.rec.faultStarted(key, span)
	if f.Kind == FaultOutage {
		c.breakStreams("", 0, "API outage")
	} else {
		c.breakStreams("", HealthCheck, "")
	}
	c.after(f.For, func() {
		r.mu.Lock()
		*count--
		r.mu.Unlock()
		c.rec.faultEnded(key, string(f.Kind)+" ended")
	})
}

func (c *Cluster) injectOverload(f Fault, span FaultSpan) {
	r := c.rules
	retryAfter := f.RetryAfter
	if retryAfter == 0 {
		retryAfter = time.Second
	}
	rule := &overloadRule{seats: make([]time.Time, f.InFlight), service: f.Service, queueWait: f.QueueWait, retryAfter: retryAfter}
	r.mu.Lock()
	r.overload = rule
	r.mu.Unlock()
	key := fmt.Sprintf("overload/%d", c.Now())
	c.rec.faultStarted(key, span)
	c.after(f.For, func() {
		r.mu.Lock()
		if r.overload == rule {
			r.overload = nil
		}
		r.mu.Unlock()
		c.rec.faultEnded(key, "overload ended")
	})
}

func (c *Cluster) injectAPIRestart(_ Fault, span FaultSpan) {
	c.rec.faultStarted("", span)
	c.api.restart()
	c.breakStreams("", 0, "API server restart")
}

// injectLeaseWrite deletes or overwrites the lease, as a foreign writer.
func (c *Cluster) injectLeaseWrite(f Fault, span FaultSpan) {
	c.rec.faultStarted("", span)
	if f.Kind == FaultDeleteLease {
		if err := c.api.deleteLease(); err != nil {
			c.rec.add("sim", "delete-lease failed: "+err.Error())
			return
		}
		c.setHolder("", "foreign delete")
		return
	}
	if err := c.api.overwriteLease(f.Identity); err != nil {
		c.rec.add("sim", "overwrite-lease failed: "+err.Error())
		return
	}
	c.setHolder(f.Identity, "foreign write")
}

// injectWatchDelay delays the watch events of the candidate by f.Delay.
func (c *Cluster) injectWatchDelay(f Fault, span FaultSpan) {
	r := c.rules
	key := fmt.Sprintf("watch-delay/%s/%d", f.Candidate, c.Now())
	r.mu.Lock()
	r.watchDelay[f.Candidate] = f.Delay
	r.mu.Unlock()
	c.rec.faultStarted(key, span)
	c.after(f.For, func() {
		r.mu.Lock()
		delete(r.watchDelay, f.Candidate)
		r.mu.Unlock()
		c.rec.faultEnded(key, "watch delay ended "+span.Detail)
	})
}

// after runs fn d from now; d == 0 means never (the fault lasts until the end
// of the run).
func (c *Cluster) after(d time.Duration, fn func()) {
	if d > 0 {
		c.api.schedule(time.Now().Add(d), -1, 0, fn)
	}
}

func (c *Cluster) heal(name string) {
	r := c.rules
	r.mu.Lock()
	was := r.partitioned[name]
	delete(r.partitioned, name)
	r.mu.Unlock()
	if was {
		c.rec.faultEnded("partition/"+name, "heal "+name)
	}
}

// faultDetail describes f: the fields every kind has, then the kind's own.
func faultDetail(f Fault) string {
	var parts []string
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	if f.Candidate != "" {
		add("%s", f.Candidate)
	}
	if f.Verb != "" {
		add("verb=%s", f.Verb)
	}
	if f.Resource != "" {
		add("resource=%s", f.Resource)
	}
	if f.AfterWrites > 0 {
		add("afterWrites=%d", f.AfterWrites)
	}
	if f.AfterTermEnds > 0 {
		add("afterTermEnds=%d", f.AfterTermEnds)
	}
	if detail := kinds[f.Kind].detail; detail != nil {
		parts = append(parts, detail(f)...)
	}
	if f.For > 0 {
		add("for=%v", f.For)
	}
	return strings.Join(parts, " ")
}

func latencyDetail(f Fault) []string {
	return []string{fmt.Sprintf("request=%v response=%v", f.Request, f.Response)}
}

func delayDetail(f Fault) []string { return []string{fmt.Sprintf("delay=%v", f.Delay)} }

func replicaDetail(f Fault) []string {
	if f.Frozen {
		return []string{"frozen"}
	}
	return []string{fmt.Sprintf("lag=%v", f.Delay)}
}

func errorsDetail(f Fault) []string {
	parts := []string{fmt.Sprintf("code=%d rate=%v", f.Code, f.Rate)}
	if f.RetryAfter > 0 {
		parts = append(parts, fmt.Sprintf("retryAfter=%v", f.RetryAfter))
	}
	return parts
}

func overloadDetail(f Fault) []string {
	parts := []string{fmt.Sprintf("inFlight=%d service=%v queueWait=%v", f.InFlight, f.Service, f.QueueWait)}
	if f.RetryAfter > 0 {
		parts = append(parts, fmt.Sprintf("retryAfter=%v", f.RetryAfter))
	}
	return parts
}

func identityDetail(f Fault) []string {
	if f.Identity == "" {
		return nil
	}
	return []string{"identity=" + f.Identity}
}

func faultString(f Fault) string {
	s := fmt.Sprintf("%s@%v", f.Kind, f.At)
	if d := faultDetail(f); d != "" {
		s += "(" + d + ")"
	}
	return s
}
