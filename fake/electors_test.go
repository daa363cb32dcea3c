package fake_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/leaderlab/leaderlab/fake"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// Timings of the elector tests (virtual time), within client-go's rules
// (LeaseDuration > RenewDeadline > 1.2 x RetryPeriod).
const (
	ld        = 4 * time.Second
	rd        = 3 * time.Second
	rp        = 500 * time.Millisecond
	writeWait = 10 * time.Millisecond // every write reaches the lease this late
)

// takeoverBound is the latest a follower takes over after the leader stops
// without releasing: client-go's crash bound (scenarios.Bounds.Crash), with
// every write reaching the lease writeWait late (reads are instant here).
var takeoverBound = scenarios.Bounds{
	Timing:  sim.Timing{LeaseDuration: ld, RenewDeadline: rd, RetryPeriod: rp},
	Latency: sim.Fixed(writeWait),
}.Crash().Hi

// slowWrites delays a lock's writes before they reach the lease, honouring
// ctx, so that every candidate starting at the same instant reads the lease
// before any of them writes: the race a stale-version check must settle.
type slowWrites struct{ resourcelock.Interface }

func (s slowWrites) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	if err := sleep(ctx, writeWait); err != nil {
		return err
	}
	return s.Interface.Create(ctx, r)
}

func (s slowWrites) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	if err := sleep(ctx, writeWait); err != nil {
		return err
	}
	return s.Interface.Update(ctx, r)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// herd is N candidates and what they did as leaders.
type herd struct {
	mu      sync.Mutex
	acting  map[string]bool
	maxSeen int // most candidates acting as leader at one instant
}

func (h *herd) leaders() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for id, on := range h.acting {
		if on {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (h *herd) set(id string, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acting[id] = on
	n := 0
	for _, on := range h.acting {
		if on {
			n++
		}
	}
	h.maxSeen = max(h.maxSeen, n)
}

// released is a lease whose holder has released it: anyone may take it at once.
func released() resourcelock.LeaderElectionRecord {
	now := time.Now()
	return resourcelock.LeaderElectionRecord{LeaseDurationSeconds: 1, AcquireTime: metav1.NewTime(now), RenewTime: metav1.NewTime(now)}
}

// runHerd starts n real client-go LeaderElectors at the same instant on the
// locks newLock returns, all finding a released lease. After LeaseDuration it
// records who leads, stops every leader without release, waits takeoverBound
// and records who leads again. It must run in a synctest bubble.
func runHerd(t *testing.T, n int, newLock func(id string) resourcelock.Interface) (h *herd, first, second []string) {
	h = &herd{acting: map[string]bool{}}
	cancels := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	for i := range n {
		id := fmt.Sprintf("c%02d", i)
		el, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: slowWrites{newLock(id)}, LeaseDuration: ld, RenewDeadline: rd, RetryPeriod: rp,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					h.set(id, true)
					<-ctx.Done()
					h.set(id, false)
				},
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(klog.NewContext(t.Context(), logr.Discard()))
		cancels[id] = cancel
		wg.Go(func() { el.Run(ctx) })
	}
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
		wg.Wait()
		synctest.Wait() // the OnStartedLeading goroutines end too
	}()

	time.Sleep(ld)
	synctest.Wait()
	first = h.leaders()
	for _, id := range first {
		cancels[id]()
	}
	time.Sleep(takeoverBound)
	synctest.Wait()
	return h, first, h.leaders()
}

// clientsetLocks returns LeaseLocks on one released lease in client.
func clientsetLocks(t *testing.T, client kubernetes.Interface) func(string) resourcelock.Interface {
	name := uniqueLeaseName()
	spec := resourcelock.LeaderElectionRecordToLeaseSpec(new(released()))
	_, err := client.CoordinationV1().Leases(namespace).Create(t.Context(),
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return func(id string) resourcelock.Interface { return leaseLock(client, name, id, nil) }
}

// fakeLeaseLocks returns locks on one released fake.Lease.
func fakeLeaseLocks(t *testing.T) func(string) resourcelock.Interface {
	lease := fake.NewLease(namespace, uniqueLeaseName())
	seed := lease.Lock("seed")
	if err := seed.Create(t.Context(), released()); err != nil {
		t.Fatal(err)
	}
	return func(id string) resourcelock.Interface { return lease.Lock(id) }
}

// TestElectorsNeverOverlap: N real electors that all read a released lease
// before any of them writes. On fake.Lease and on fake.NewClientset one write
// wins and the others get Conflict, so exactly one leads, and after it stops
// exactly one other takes over within the failover bound.
func TestElectorsNeverOverlap(t *testing.T) {
	backends := []struct {
		name  string
		locks func(*testing.T) func(string) resourcelock.Interface
	}{
		{"fake.Lease", fakeLeaseLocks},
		{"LeaseLock on fake.NewClientset", func(t *testing.T) func(string) resourcelock.Interface {
			return clientsetLocks(t, fake.NewClientset())
		}},
	}
	for _, b := range backends {
		for _, n := range []int{2, 5, 20} {
			t.Run(fmt.Sprintf("%s/%d candidates", b.name, n), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h, first, second := runHerd(t, n, b.locks(t))
					if len(first) != 1 {
						t.Fatalf("leaders after LeaseDuration = %v, want exactly one", first)
					}
					if len(second) != 1 || second[0] == first[0] {
						t.Fatalf("leaders %v after %v stopped, want exactly one other within %v", second, first[0], takeoverBound)
					}
					if h.maxSeen != 1 {
						t.Fatalf("%d candidates acted as leader at once", h.maxSeen)
					}
				})
			})
		}
	}
}

// TestStockClientsetElectsEveryone shows the bug this package fixes: on
// client-go's own fake clientset no update is ever stale, so every candidate
// that read the released lease takes it, and all of them lead at once.
func TestStockClientsetElectsEveryone(t *testing.T) {
	for _, n := range []int{2, 5, 20} {
		t.Run(fmt.Sprintf("%d candidates", n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, first, _ := runHerd(t, n, clientsetLocks(t, k8sfake.NewClientset()))
				if len(first) != n || h.maxSeen != n {
					t.Fatalf("leaders at once = %d (%v), want all %d", h.maxSeen, first, n)
				}
			})
		})
	}
}
