package fake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/leaderlab/leaderlab/internal/lockrules"
	"github.com/leaderlab/leaderlab/leaderelection"
)

// ControllableResourceLockInterface is a resourcelock.Interface that a test can
// stop from writing, as in controller-runtime's pkg/leaderelection/fake.
type ControllableResourceLockInterface interface {
	resourcelock.Interface

	// BlockLeaderElection makes every Create and Update fail until
	// UnblockLeaderElection is called, so the holder loses the lease once its
	// renew deadline passes.
	BlockLeaderElection()

	// UnblockLeaderElection lets Create and Update through again.
	UnblockLeaderElection()
}

var _ ControllableResourceLockInterface = (*Lock)(nil)

// Defaults NewResourceLock uses where controller-runtime's fake accepts options
// without them.
const (
	DefaultNamespace = "default"
	DefaultLeaseName = "leaderlab-fake"
)

// ErrBlocked is what Create and Update return while leader election is blocked.
var ErrBlocked = errors.New("fake: leader election is blocked")

// NewResourceLock is a drop-in for controller-runtime's fake NewResourceLock:
// the returned lock (a *Lock, which satisfies ControllableResourceLockInterface)
// starts out holding leadership, so a manager using it becomes leader at once.
// Unlike controller-runtime's it is safe for concurrent use, its lease can be
// stolen, expired or deleted through Lock.Lease, and faults can be injected.
//
// config and recorderProvider are not used, as in controller-runtime; both may
// be nil. options.LeaderElection is ignored (the lock is always returned). An
// empty LeaderElectionID or LeaderElectionNamespace means DefaultLeaseName or
// DefaultNamespace, because controller-runtime's fake accepts options without
// them. Everything that is set is checked by the same rules, with the same
// messages, as leaderelection.NewResourceLock applies (an unknown or removed
// lock kind, an invalid name or namespace, a negative RenewDeadline), so a
// test cannot pass with options the real lock rejects. options.Identity names
// the lock (hostname + "_" + UUID when empty).
func NewResourceLock(config *rest.Config, recorderProvider recorder.Provider, options leaderelection.Options) (resourcelock.Interface, error) {
	if options.LeaderElectionID == "" {
		options.LeaderElectionID = DefaultLeaseName
	}
	if options.LeaderElectionNamespace == "" {
		options.LeaderElectionNamespace = DefaultNamespace
	}
	resolved, err := lockrules.Resolve(lockrules.Options{
		LeaderElectionResourceLock: options.LeaderElectionResourceLock,
		LeaderElectionNamespace:    options.LeaderElectionNamespace,
		LeaderElectionID:           options.LeaderElectionID,
		RenewDeadline:              options.RenewDeadline,
		Identity:                   options.Identity,
	}, lockrules.InClusterNamespaceFile) // never read: the namespace is set above
	if err != nil {
		return nil, fmt.Errorf("fake: %w", err)
	}
	lease := NewLease(resolved.LeaderElectionNamespace, resolved.LeaderElectionID)
	// The record controller-runtime's fake starts with: held by this lock.
	now := time.Now()
	rec := resourcelock.LeaderElectionRecord{
		HolderIdentity:       resolved.Identity,
		LeaseDurationSeconds: 1,
		LeaderTransitions:    1,
	}
	rec.AcquireTime.Time, rec.RenewTime.Time = now, now.Add(time.Second)
	if _, err := lease.create(resolved.Identity, rec, options.LeaderLabels); err != nil {
		return nil, fmt.Errorf("fake: seeding the lease: %w", err)
	}
	return lease.LockWithLabels(resolved.Identity, options.LeaderLabels), nil
}

// Verb names a call of a lock.
type Verb string

// The verbs of resourcelock.Interface that reach the lease.
const (
	VerbGet    Verb = "get"
	VerbCreate Verb = "create"
	VerbUpdate Verb = "update"
)

func (v Verb) check(method string) error {
	switch v {
	case VerbGet, VerbCreate, VerbUpdate:
		return nil
	}
	return fmt.Errorf("fake: %s: unknown verb %q; use VerbGet, VerbCreate or VerbUpdate", method, string(v))
}

// Call is one entry of a Lease's call log.
type Call struct {
	Verb     Verb
	Identity string // of the calling lock
	Start    time.Time
	End      time.Time
	// Record is the record sent (create, update) or received (get).
	Record resourcelock.LeaderElectionRecord
	// ResourceVersion is the lease's version the caller learnt: the one read or
	// written. "" when the call failed.
	ResourceVersion string
	Err             error
}

// Funcs are optional replacements for a lock's calls, in the style of
// controller-runtime's client/interceptor: a nil field passes the call
// through. Each function receives next, the same lock without faults or
// interceptors, so it can call through, change the record, call twice or
// return an error of its own. Interceptors run when the call reaches the
// lease: after injected failures and the request latency, before the response
// latency.
type Funcs struct {
	Get    func(ctx context.Context, next resourcelock.Interface) (*resourcelock.LeaderElectionRecord, []byte, error)
	Create func(ctx context.Context, next resourcelock.Interface, record resourcelock.LeaderElectionRecord) error
	Update func(ctx context.Context, next resourcelock.Interface, record resourcelock.LeaderElectionRecord) error
}

// Lock is one candidate's lock on a Lease. Like client-go's LeaseLock it
// remembers the resourceVersion of the lease it last read or wrote and sends it
// with Update, so an update based on an old read gets a Conflict. It implements
// ControllableResourceLockInterface and adds fault injection. All methods are
// safe for concurrent use; a lock never blocks while holding a mutex, so it
// works in real time and in synctest bubbles alike.
type Lock struct {
	lease    *Lease
	identity string
	labels   map[string]string

	mu      sync.Mutex
	seen    seen // the lease as last read or written; zero before the first Get or Create
	blocked bool
	funcs   Funcs
	fail    map[Verb]failure
	latency map[Verb][2]time.Duration // request and response legs
}

type failure struct {
	n   int
	err error
}

// Lease returns the lease the lock is bound to.
func (l *Lock) Lease() *Lease { return l.lease }

// Identity returns the candidate's identity.
func (l *Lock) Identity() string { return l.identity }

// Describe returns "namespace/name" of the lease, as LeaseLock does.
func (l *Lock) Describe() string { return l.lease.Describe() }

// RecordEvent does nothing: the fake emits no events, as controller-runtime's
// fake does not.
func (l *Lock) RecordEvent(string) {}

// BlockLeaderElection makes Create and Update fail with ErrBlocked.
func (l *Lock) BlockLeaderElection() { l.setBlocked(true) }

// UnblockLeaderElection undoes BlockLeaderElection.
func (l *Lock) UnblockLeaderElection() { l.setBlocked(false) }

func (l *Lock) setBlocked(b bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.blocked = b
}

// FailNext makes the next n calls of verb fail with err without reaching the
// lease (the server rejected them). n == 0 cancels an earlier FailNext.
func (l *Lock) FailNext(verb Verb, n int, err error) error {
	if e := verb.check("FailNext"); e != nil {
		return e
	}
	if n < 0 {
		return fmt.Errorf("fake: FailNext: count (%d) must not be negative", n)
	}
	if err == nil && n > 0 {
		return errors.New("fake: FailNext: err must not be nil")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail == nil {
		l.fail = map[Verb]failure{}
	}
	l.fail[verb] = failure{n: n, err: err}
	return nil
}

// Delay adds latency to every later call of verb: request before the call
// reaches the lease, response after it was answered. Both legs wait on timers
// (virtual in a synctest bubble) and end early when the caller's context is
// done; the call then returns the context's error at once. A write cancelled
// during its request leg never lands. A write cancelled during its response
// leg has landed, but the lock does not learn the new resourceVersion, as when
// a real client gives up on a slow response: its next Update gets a Conflict.
// Zero for both removes the delay.
func (l *Lock) Delay(verb Verb, request, response time.Duration) error {
	if err := verb.check("Delay"); err != nil {
		return err
	}
	if request < 0 || response < 0 {
		return fmt.Errorf("fake: Delay: request (%v) and response (%v) latency must not be negative", request, response)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.latency == nil {
		l.latency = map[Verb][2]time.Duration{}
	}
	l.latency[verb] = [2]time.Duration{request, response}
	return nil
}

// Intercept replaces the lock's interceptors with funcs; Funcs{} removes them.
func (l *Lock) Intercept(funcs Funcs) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.funcs = funcs
}

// Get returns the lease's record, or NotFound.
func (l *Lock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	var rec *resourcelock.LeaderElectionRecord
	var raw []byte
	err := l.call(ctx, VerbGet, nil, func(ctx context.Context, f Funcs, next resourcelock.Interface) (err error) {
		if f.Get != nil {
			rec, raw, err = f.Get(ctx, next)
		} else {
			rec, raw, err = next.Get(ctx)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return rec, raw, nil
}

// Create creates the lease with record, or fails with AlreadyExists.
func (l *Lock) Create(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	return l.call(ctx, VerbCreate, &record, func(ctx context.Context, f Funcs, next resourcelock.Interface) error {
		if f.Create != nil {
			return f.Create(ctx, next, record)
		}
		return next.Create(ctx, record)
	})
}

// Update writes record if the lease has not changed since this lock last saw
// it, or fails with Conflict (changed or deleted since).
func (l *Lock) Update(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	return l.call(ctx, VerbUpdate, &record, func(ctx context.Context, f Funcs, next resourcelock.Interface) error {
		if f.Update != nil {
			return f.Update(ctx, next, record)
		}
		return next.Update(ctx, record)
	})
}

// call runs one call through the faults, the interceptor and the lease, and
// logs it. sent is the record sent, nil for Get.
func (l *Lock) call(ctx context.Context, verb Verb, sent *resourcelock.LeaderElectionRecord, do func(context.Context, Funcs, resourcelock.Interface) error) error {
	c := &callState{lock: l}
	start := time.Now()
	err := l.run(ctx, verb, c, do)
	entry := Call{Verb: verb, Identity: l.identity, Start: start, End: time.Now(), Err: err}
	if err == nil {
		entry.ResourceVersion = c.seen.version
	}
	switch {
	case sent != nil:
		entry.Record = *sent
	case err == nil:
		entry.Record = c.read
	}
	l.lease.logCall(entry)
	return err
}

func (l *Lock) run(ctx context.Context, verb Verb, c *callState, do func(context.Context, Funcs, resourcelock.Interface) error) error {
	l.mu.Lock()
	legs := l.latency[verb]
	l.mu.Unlock()
	if err := wait(ctx, legs[0]); err != nil {
		return err
	}

	l.mu.Lock()
	funcs := l.funcs
	err := l.injectedLocked(verb)
	l.mu.Unlock()
	if err == nil {
		err = do(ctx, funcs, c)
	}

	if werr := wait(ctx, legs[1]); werr != nil {
		return werr // whatever happened at the lease, the answer is lost
	}
	if err == nil && c.seen.version != "" {
		l.mu.Lock()
		l.seen = c.seen
		l.mu.Unlock()
	}
	return err
}

// injectedLocked returns the error a fault injects into this call, if any.
func (l *Lock) injectedLocked(verb Verb) error {
	if f := l.fail[verb]; f.n > 0 {
		f.n--
		l.fail[verb] = f
		return f.err
	}
	if l.blocked && verb != VerbGet {
		return ErrBlocked
	}
	return nil
}

// wait waits d or until ctx is done, whichever is first. A done ctx fails even
// for d == 0, as a real client does not send a request on a cancelled context.
func wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake: %w", err)
	}
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("fake: %w", ctx.Err())
	}
}

// callState is the lock as an interceptor's next sees it: calls go straight to
// the lease. The version it learns is kept aside until the call's answer
// reaches the caller.
type callState struct {
	lock *Lock
	seen seen                              // the lease as learnt in this call
	read resourcelock.LeaderElectionRecord // record read in this call
}

func (c *callState) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	rec, s, err := c.lock.lease.get()
	if err != nil {
		return nil, nil, err
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return nil, nil, err
	}
	c.seen, c.read = s, rec
	return &rec, raw, nil
}

func (c *callState) Create(_ context.Context, rec resourcelock.LeaderElectionRecord) error {
	s, err := c.lock.lease.create(c.lock.identity, rec, c.lock.labels)
	if err != nil {
		return err
	}
	c.seen = s
	return nil
}

func (c *callState) Update(_ context.Context, rec resourcelock.LeaderElectionRecord) error {
	base := c.seen
	if base.version == "" {
		c.lock.mu.Lock()
		base = c.lock.seen
		c.lock.mu.Unlock()
	}
	if base.version == "" {
		// LeaseLock's answer when it has no lease object to update.
		return errors.New("fake: lease not initialized, call get or create first")
	}
	s, err := c.lock.lease.update(c.lock.identity, base, rec, c.lock.labels)
	if err != nil {
		return err
	}
	c.seen = s
	return nil
}

func (c *callState) RecordEvent(s string) { c.lock.RecordEvent(s) }
func (c *callState) Identity() string     { return c.lock.identity }
func (c *callState) Describe() string     { return c.lock.Describe() }
