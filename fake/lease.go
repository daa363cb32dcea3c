package fake

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/leaderlab/leaderlab/internal/lockrules"
	"github.com/leaderlab/leaderlab/internal/precondition"
)

// leases is the resource every error of a Lease names, so that callers that
// inspect apimachinery status details see what a real API server reports.
var leases = coordinationv1.SchemeGroupVersion.WithResource("leases").GroupResource()

// Lease is one shared lease record held in memory, with the write rules of an
// API server: every write assigns a new resourceVersion, a create on an
// existing lease fails with AlreadyExists, an update based on an older version
// (or of a lease deleted since) fails with Conflict, and reading a missing lease
// fails with NotFound. Locks from Lock contend for it as client-go's LeaseLocks contend
// for a Lease object on a cluster.
//
// The harness methods (Steal, Expire, Delete) act as a foreign writer, and the
// observers (State, History, Calls) report what happened. All methods are safe
// for concurrent use and never block.
type Lease struct {
	namespace, name string

	mu      sync.Mutex
	exists  bool
	record  resourcelock.LeaderElectionRecord
	labels  map[string]string
	version uint64    // last resourceVersion handed out; never reused, as in etcd
	uid     types.UID // of the lease since it was last created
	history []HolderChange
	calls   []Call
}

// State is a snapshot of a Lease.
type State struct {
	// Exists is false before the first create and after Delete.
	Exists bool
	// Record is the stored leader election record (zero when the lease is missing).
	Record resourcelock.LeaderElectionRecord
	// ResourceVersion is the version of the stored record ("" when missing).
	ResourceVersion string
	// Labels are the lease's labels, written by the locks' LeaderLabels.
	Labels map[string]string
}

// HolderChange is one entry of a Lease's history: a write that changed who
// holds it.
type HolderChange struct {
	// Time is when the write landed (time.Now, so virtual time in a synctest bubble).
	Time time.Time
	// Holder is the new holderIdentity; "" when the lease was released or deleted.
	Holder string
	// Writer is the identity of the lock that wrote it, or "" for the harness
	// methods Steal, Expire and Delete.
	Writer string
}

// NewLease returns a missing lease named namespace/name, as on a fresh
// cluster. The names appear in Describe and in the errors the lease returns.
// It panics if they are not valid Kubernetes names: they are constants of the
// test, not input.
func NewLease(namespace, name string) *Lease {
	if err := lockrules.CheckNamespace("namespace", namespace); err != nil {
		panic("fake: NewLease: " + err.Error())
	}
	if err := lockrules.CheckName("name", name); err != nil {
		panic("fake: NewLease: " + err.Error())
	}
	return &Lease{namespace: namespace, name: name}
}

// Lock returns a lock for one candidate named identity, bound to this lease.
// See LockWithLabels.
func (l *Lease) Lock(identity string) *Lock { return l.LockWithLabels(identity, nil) }

// LockWithLabels returns a lock for one candidate named identity that writes
// labels on the lease, as client-go's LeaseLock does with its Labels: all of
// them on create, and on update only these keys are overwritten. It panics if
// identity is empty, which client-go's LeaderElector would reject anyway.
func (l *Lease) LockWithLabels(identity string, labels map[string]string) *Lock {
	if identity == "" {
		panic("fake: Lease.Lock: identity must not be empty")
	}
	return &Lock{lease: l, identity: identity, labels: maps.Clone(labels)}
}

// Describe returns "namespace/name", as client-go's LeaseLock.Describe does.
func (l *Lease) Describe() string { return l.namespace + "/" + l.name }

// State returns a snapshot of the lease.
func (l *Lease) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.exists {
		return State{}
	}
	return State{Exists: true, Record: l.record, ResourceVersion: l.versionLocked(), Labels: maps.Clone(l.labels)}
}

// History returns every change of holder so far, oldest first.
func (l *Lease) History() []HolderChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.history)
}

// Calls returns every call the lease's locks have answered, in the order they
// returned.
func (l *Lease) Calls() []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// Steal makes identity the holder at once, as another process overwriting the
// lease would: holderIdentity, acquireTime and renewTime change and
// leaderTransitions grows by one. The old holder finds out on its next renew,
// which gets a Conflict. It fails if identity is empty or the lease is missing.
func (l *Lease) Steal(identity string) error {
	if identity == "" {
		return errors.New("fake: Steal: identity must not be empty")
	}
	return l.rewrite(func(rec *resourcelock.LeaderElectionRecord) {
		now := time.Now()
		rec.HolderIdentity = identity
		rec.AcquireTime.Time, rec.RenewTime.Time = now, now
		rec.LeaderTransitions++
	})
}

// Expire rewrites the record with leaseDurationSeconds 0, so that any candidate
// that reads it next treats the lease as expired and may take it. client-go
// measures expiry from when a candidate last saw the record change, not from
// renewTime, so this is how a record says "expired" to it. The holder is not
// told; if it renews before another candidate acquires, it keeps the lease, as
// on a cluster. It fails if the lease is missing.
func (l *Lease) Expire() error {
	return l.rewrite(func(rec *resourcelock.LeaderElectionRecord) { rec.LeaseDurationSeconds = 0 })
}

// rewrite changes the stored record as a foreign writer would.
func (l *Lease) rewrite(change func(*resourcelock.LeaderElectionRecord)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.exists {
		return apierrors.NewNotFound(leases, l.name)
	}
	rec := l.record
	change(&rec)
	l.storeLocked("", rec)
	return nil
}

// Delete removes the lease. The holder's next renew gets a Conflict (as from a
// real server: the update names the UID of a lease that is gone), its next Get
// NotFound, and the next candidate to read it creates it again. It fails if the
// lease is missing.
func (l *Lease) Delete() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.exists {
		return apierrors.NewNotFound(leases, l.name)
	}
	l.exists, l.record, l.labels = false, resourcelock.LeaderElectionRecord{}, nil
	l.history = append(l.history, HolderChange{Time: time.Now()})
	return nil
}

// seen is what a lock remembers of the lease it last read or wrote, as
// client-go's LeaseLock keeps the Lease object: its UID and resourceVersion,
// which it sends with its next update.
type seen struct {
	uid     types.UID
	version string
}

// get returns the stored record and what the reader saw.
func (l *Lease) get() (resourcelock.LeaderElectionRecord, seen, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.exists {
		return resourcelock.LeaderElectionRecord{}, seen{}, apierrors.NewNotFound(leases, l.name)
	}
	return l.record, l.seenLocked(), nil
}

// create stores rec with labels if the lease is missing.
func (l *Lease) create(writer string, rec resourcelock.LeaderElectionRecord, labels map[string]string) (seen, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.exists {
		return seen{}, apierrors.NewAlreadyExists(leases, l.name)
	}
	l.labels = maps.Clone(labels)
	l.storeLocked(writer, rec)
	return l.seenLocked(), nil
}

// update stores rec if base is what is stored (kube-apiserver's
// preconditions: the UID, then the resourceVersion), overwriting the keys of
// labels.
func (l *Lease) update(writer string, base seen, rec resourcelock.LeaderElectionRecord, labels map[string]string) (seen, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var stored metav1.Object
	if l.exists {
		stored = &metav1.ObjectMeta{UID: l.uid, ResourceVersion: l.versionLocked()}
	}
	// A LeaseLock sends the UID of the lease it read, so an update of a
	// deleted lease is a UID conflict, as on a real server.
	if err := precondition.Check(leases, precondition.Key(leases.Resource, l.namespace, l.name), l.name, base.uid, base.version, stored); err != nil {
		return seen{}, err
	}
	if !l.exists {
		return seen{}, apierrors.NewNotFound(leases, l.name)
	}
	if len(labels) > 0 && l.labels == nil {
		l.labels = map[string]string{}
	}
	maps.Copy(l.labels, labels)
	l.storeLocked(writer, rec)
	return l.seenLocked(), nil
}

// logCall appends c to the call log.
func (l *Lease) logCall(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

// storeLocked stores rec under a new version and notes a change of holder.
func (l *Lease) storeLocked(writer string, rec resourcelock.LeaderElectionRecord) string {
	changed := !l.exists || l.record.HolderIdentity != rec.HolderIdentity
	// A Lease keeps its times as MicroTime: what a reader gets back from a real
	// API server has microsecond precision (Truncate also drops the monotonic clock reading).
	rec.AcquireTime.Time = rec.AcquireTime.Truncate(time.Microsecond)
	rec.RenewTime.Time = rec.RenewTime.Truncate(time.Microsecond)
	l.version++
	if !l.exists {
		l.uid = types.UID(fmt.Sprintf("fake-lease-uid-%d", l.version))
	}
	l.exists, l.record = true, rec
	if changed {
		l.history = append(l.history, HolderChange{Time: time.Now(), Holder: rec.HolderIdentity, Writer: writer})
	}
	return l.versionLocked()
}

func (l *Lease) versionLocked() string { return strconv.FormatUint(l.version, 10) }

func (l *Lease) seenLocked() seen { return seen{uid: l.uid, version: l.versionLocked()} }
