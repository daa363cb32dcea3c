package sim

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/storage"

	"github.com/leaderlab/leaderlab/fake/apiserver"
)

// freshnessWait is how long kube-apiserver lets a consistent list or a
// watch-list wait for its watch cache to reach the store's version before
// it gives up (its watch cache's blockTimeout): the list then reads etcd,
// the watch-list is answered 504.
const freshnessWait = 3 * time.Second

// storeClock is when the store reached each version: what a lagging replica
// has at an instant.
type storeClock struct {
	mu  sync.Mutex
	rvs []uint64
	at  []time.Time
}

func (s *storeClock) note(rv uint64, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rvs, s.at = append(s.rvs, rv), append(s.at, at)
}

// versionAt is the store's version at t: its newest write at or before t.
func (s *storeClock) versionAt(t time.Time) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.at, t, func(a, t time.Time) int {
		if a.After(t) {
			return 1
		}
		return -1
	})
	if i == 0 {
		return 0
	}
	return s.rvs[i-1]
}

// reachedAt is when the store reached version rv (the zero time for a
// version before the run's first write).
func (s *storeClock) reachedAt(rv uint64) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearch(s.rvs, rv)
	if i == len(s.rvs) {
		return time.Time{}
	}
	return s.at[i]
}

// newest is the store's version now.
func (s *storeClock) newest() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rvs) == 0 {
		return 0
	}
	return s.rvs[len(s.rvs)-1]
}

// replica is FaultStaleReplica in force for one candidate: the API server
// replica that serves it, whose watch cache lags the store by lag, or stays
// at the version of the fault's start (frozen). The cache never goes back:
// when the fault starts it holds the store's version then, and falls behind
// from there. It is an apiserver.Replica.
type replica struct {
	key     string // the fault's span
	clock   *storeClock
	started time.Time
	lag     time.Duration
	frozen  bool

	mu      sync.Mutex
	ended   bool          // the candidate moved to a fresh replica
	changed chan struct{} // closed and replaced when the cache gains versions
}

// Version is the newest store version the cache has.
func (r *replica) Version() uint64 {
	r.mu.Lock()
	ended := r.ended
	r.mu.Unlock()
	switch {
	case ended:
		return math.MaxUint64
	case r.frozen:
		return r.clock.versionAt(r.started)
	}
	t := time.Now().Add(-r.lag)
	if t.Before(r.started) {
		t = r.started
	}
	return r.clock.versionAt(t)
}

func (r *replica) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// gained wakes the watches the replica serves: its cache has more.
func (r *replica) gained() {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.changed)
	r.changed = make(chan struct{})
}

// end moves the candidate to a fresh replica: the cache has everything.
func (r *replica) end() {
	r.mu.Lock()
	r.ended = true
	r.mu.Unlock()
	r.gained()
}

// catchUp is how long from now until the cache has version rv: never
// (ok false) for a frozen one.
func (r *replica) catchUp(rv uint64) (wait time.Duration, ok bool) {
	if r.Version() >= rv {
		return 0, true
	}
	if r.frozen {
		return 0, false
	}
	return time.Until(r.clock.reachedAt(rv).Add(r.lag)), true
}

// freshness is what a request served by a lagging replica waits for before
// kube-apiserver serves it: the store version its cache must reach (0 for
// none), and whether it is a watch-list, answered 504 when the cache does
// not get there in time. A consistent list (no resourceVersion) and a
// watch-list need the store's version now; a get or list that names a
// version needs that one.
func freshness(rt route, q url.Values, now uint64) (need uint64, watchList bool) {
	rv := q.Get("resourceVersion")
	switch rt.Verb {
	case VerbWatch:
		if q.Get("sendInitialEvents") == "true" && rv == "" {
			return now, true
		}
	case VerbList:
		if rv == "" {
			return now, false
		}
		fallthrough
	case VerbGet:
		if v, err := strconv.ParseUint(rv, 10, 64); err == nil {
			return v, false
		}
	}
	return 0, false
}

// waitForReplica holds a request served by a lagging replica until its
// cache is fresh enough, at most freshnessWait, as kube-apiserver does. It
// returns how much longer the request waits (0: serve it now); once the
// wait is over, a watch-list whose cache is still behind is answered 504
// here, as kube-apiserver answers it.
func (r *request) waitForReplica() time.Duration {
	c := r.p.c
	rep := c.rules.replicaOf(r.p.cand.name)
	if rep == nil || isWriteVerb(r.route.Verb) {
		return 0
	}
	if r.need == 0 {
		if r.need, r.watchList = freshness(r.route, r.req.URL.Query(), c.clock.newest()); r.need == 0 {
			return 0
		}
		r.waitEnds = time.Now().Add(freshnessWait)
		if wait, ok := rep.catchUp(r.need); ok && wait < freshnessWait {
			r.waitEnds = time.Now().Add(max(wait, 0))
		}
	}
	if wait := time.Until(r.waitEnds); wait > 0 {
		return wait
	}
	if have := rep.Version(); r.watchList && have < r.need {
		forged := statusResponse(storage.NewTooLargeResourceVersionError(r.need, have, 1), r.accept)
		r.forged = &forged
		r.trace("answered 504: the lagging replica's cache did not reach resourceVersion %d within %v", r.need, freshnessWait)
	}
	return 0
}

// servedBy is the context a request is served with: a read with the
// lagging replica's, when one serves the candidate; a watch with the
// candidate's replicas over the watch's life, since a replica that starts
// to lag holds back the changes of the watches it already serves.
func (c *Cluster) servedBy(ctx context.Context, cand string, verb string) context.Context {
	if verb == VerbWatch {
		return apiserver.ServedBy(ctx, candidateReplicas{c.rules, cand})
	}
	if rep := c.rules.replicaOf(cand); rep != nil {
		return apiserver.ServedBy(ctx, rep)
	}
	return ctx
}

// candidateReplicas is whichever replica serves a candidate at each instant:
// a lagging one while FaultStaleReplica is in force, else a fresh one.
type candidateReplicas struct {
	rules *rules
	cand  string
}

func (cr candidateReplicas) Version() uint64 {
	if rep := cr.rules.replicaOf(cr.cand); rep != nil {
		return rep.Version()
	}
	return math.MaxUint64
}

// Changed is the lagging replica's; nil (never) for a fresh one, which
// holds nothing back.
func (cr candidateReplicas) Changed() <-chan struct{} {
	if rep := cr.rules.replicaOf(cr.cand); rep != nil {
		return rep.Changed()
	}
	return nil
}

// injectStaleReplica starts serving the candidate from a lagging replica.
func (c *Cluster) injectStaleReplica(f Fault, span FaultSpan) {
	c.endReplica(f.Candidate, nil, "replaced by a new stale replica")
	rep := &replica{key: fmt.Sprintf("stale-replica/%s/%d", f.Candidate, c.Now()), clock: &c.clock,
		started: time.Now(), lag: f.Delay, frozen: f.Frozen, changed: make(chan struct{})}
	c.rules.mu.Lock()
	c.rules.replica[f.Candidate] = rep
	c.rules.mu.Unlock()
	c.rec.faultStarted(rep.key, span)
	c.after(f.For, func() { c.endReplica(f.Candidate, rep, "its cache caught up") })
}

// endReplicas moves cand ("" for every candidate), when broken says its
// connections broke, to a fresh replica.
func (c *Cluster) endReplicas(cand string, broken func(name string) bool) {
	c.rules.mu.Lock()
	var ending []string
	for name := range c.rules.replica {
		if cand == "" || name == cand {
			ending = append(ending, name)
		}
	}
	c.rules.mu.Unlock()
	slices.Sort(ending)
	for _, name := range ending {
		if broken(name) {
			c.endReplica(name, nil, "its connections broke")
		}
	}
}

// endReplica ends rep (nil: whichever serves cand) if it still serves cand.
func (c *Cluster) endReplica(cand string, rep *replica, why string) {
	c.rules.mu.Lock()
	current := c.rules.replica[cand]
	if current == nil || (rep != nil && current != rep) {
		c.rules.mu.Unlock()
		return
	}
	delete(c.rules.replica, cand)
	c.rules.mu.Unlock()
	current.end()
	c.rec.faultEnded(current.key, "stale replica of "+cand+" ended: "+why)
}

// noteVersion records when the store reached a version, and wakes the
// lagging replicas' watches when their caches gain it.
func (c *Cluster) noteVersion(rv uint64) {
	now := time.Now()
	c.clock.note(rv, now)
	c.rules.mu.Lock()
	var lagging []*replica
	for _, rep := range c.rules.replica {
		if !rep.frozen {
			lagging = append(lagging, rep)
		}
	}
	c.rules.mu.Unlock()
	for _, rep := range lagging {
		c.api.schedule(now.Add(rep.lag), -1, 0, rep.gained)
	}
}

// replicaOf is the lagging replica that serves cand, if one does.
func (r *rules) replicaOf(cand string) *replica {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.replica[cand]
}

var _ apiserver.Replica = (*replica)(nil)
