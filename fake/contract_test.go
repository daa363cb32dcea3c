package fake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/leaderlab/leaderlab/fake"
	"github.com/leaderlab/leaderlab/internal/testenv"
)

// apiServer is the real kube-apiserver the conformance suite and the manager
// tests run against; apiServerErr says why it could not start. Tests that need
// it fail with that error; the others run regardless.
var (
	apiServer    *testenv.Env
	apiServerErr error
)

func TestMain(m *testing.M) {
	apiServer, apiServerErr = testenv.Start()
	code := m.Run()
	if apiServer != nil {
		if err := apiServer.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// needAPIServer returns a client for the real API server or fails the test
// with the reason it is not running.
func needAPIServer(t *testing.T) kubernetes.Interface {
	t.Helper()
	if apiServerErr != nil {
		t.Fatal(apiServerErr)
	}
	return kubernetes.NewForConfigOrDie(apiServer.Config)
}

const namespace = "default"

// leaseHarness is one missing lease on some backend, with what the contract
// needs to reach it.
type leaseHarness struct {
	// lock returns a lock for identity on the lease, writing labels.
	lock func(identity string, labels map[string]string) resourcelock.Interface
	// labels returns the lease's labels as stored.
	labels func(t *testing.T) map[string]string
	// delete deletes the lease behind the locks' backs.
	delete func(t *testing.T)
	name   string
}

var leaseNames atomic.Int64

func uniqueLeaseName() string { return fmt.Sprintf("contract-%d", leaseNames.Add(1)) }

// fakeLeaseHarness is the harness for fake.Lease.
func fakeLeaseHarness(*testing.T) leaseHarness {
	name := uniqueLeaseName()
	lease := fake.NewLease(namespace, name)
	return leaseHarness{
		name: name,
		lock: func(id string, labels map[string]string) resourcelock.Interface {
			return lease.LockWithLabels(id, labels)
		},
		labels: func(*testing.T) map[string]string { return lease.State().Labels },
		delete: func(t *testing.T) {
			if err := lease.Delete(); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// clientHarness is the harness for client-go's LeaseLock on client.
func clientHarness(client kubernetes.Interface) leaseHarness {
	name := uniqueLeaseName()
	leases := client.CoordinationV1().Leases(namespace)
	return leaseHarness{
		name: name,
		lock: func(id string, labels map[string]string) resourcelock.Interface {
			return leaseLock(client, name, id, labels)
		},
		labels: func(t *testing.T) map[string]string {
			lease, err := leases.Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return lease.Labels
		},
		delete: func(t *testing.T) {
			if err := leases.Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func leaseLock(client kubernetes.Interface, name, id string, labels map[string]string) *resourcelock.LeaseLock {
	return &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		Labels:     labels,
	}
}

// TestLockContract runs one contract against the three locks: what holds on a
// real API server must hold on both fakes.
func TestLockContract(t *testing.T) {
	backends := []struct {
		name    string
		harness func(*testing.T) leaseHarness
	}{
		{"fake.Lease", fakeLeaseHarness},
		{"LeaseLock on fake.NewClientset", func(*testing.T) leaseHarness { return clientHarness(fake.NewClientset()) }},
		{"LeaseLock on kube-apiserver", func(t *testing.T) leaseHarness { return clientHarness(needAPIServer(t)) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { lockContract(t, b.harness) })
	}
}

// record returns a record whose times survive the wire (microseconds).
func record(holder string, transitions int) resourcelock.LeaderElectionRecord {
	now := time.Now().Truncate(time.Microsecond)
	return resourcelock.LeaderElectionRecord{
		HolderIdentity:       holder,
		LeaseDurationSeconds: 15,
		AcquireTime:          metav1.NewTime(now.Add(-time.Minute)),
		RenewTime:            metav1.NewTime(now),
		LeaderTransitions:    transitions,
	}
}

func sameRecord(a, b resourcelock.LeaderElectionRecord) bool {
	return a.HolderIdentity == b.HolderIdentity && a.LeaseDurationSeconds == b.LeaseDurationSeconds &&
		a.AcquireTime.Equal(&b.AcquireTime) && a.RenewTime.Equal(&b.RenewTime) &&
		a.LeaderTransitions == b.LeaderTransitions
}

func lockContract(t *testing.T, newHarness func(*testing.T) leaseHarness) {
	ctx := context.Background()
	mustCreate := func(t *testing.T, l resourcelock.Interface, rec resourcelock.LeaderElectionRecord) {
		t.Helper()
		if err := l.Create(ctx, rec); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	mustGet := func(t *testing.T, l resourcelock.Interface) (resourcelock.LeaderElectionRecord, []byte) {
		t.Helper()
		rec, raw, err := l.Get(ctx)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		return *rec, raw
	}

	t.Run("get on a missing lease is NotFound for coordination.k8s.io leases", func(t *testing.T) {
		h := newHarness(t)
		_, _, err := h.lock("a", nil).Get(ctx)
		if !apierrors.IsNotFound(err) {
			t.Fatalf("Get = %v, want NotFound", err)
		}
		d := err.(apierrors.APIStatus).Status().Details
		if d == nil || d.Group != "coordination.k8s.io" || d.Kind != "leases" || d.Name != h.name {
			t.Fatalf("details = %+v, want group coordination.k8s.io, kind leases, name %s", d, h.name)
		}
	})

	t.Run("a created record reads back the same, with its raw form", func(t *testing.T) {
		h := newHarness(t)
		want := record("a", 3)
		mustCreate(t, h.lock("a", nil), want)
		got, raw := mustGet(t, h.lock("b", nil))
		if !sameRecord(got, want) {
			t.Fatalf("Get = %+v, want %+v", got, want)
		}
		// The raw form is what electors compare to notice a change.
		if want, err := json.Marshal(got); err != nil || !bytes.Equal(raw, want) {
			t.Fatalf("raw record = %s, want %s (%v)", raw, want, err)
		}
	})

	t.Run("a second create is AlreadyExists", func(t *testing.T) {
		h := newHarness(t)
		mustCreate(t, h.lock("a", nil), record("a", 0))
		if err := h.lock("b", nil).Create(ctx, record("b", 0)); !apierrors.IsAlreadyExists(err) {
			t.Fatalf("second Create = %v, want AlreadyExists", err)
		}
		if got, _ := mustGet(t, h.lock("b", nil)); got.HolderIdentity != "a" {
			t.Fatalf("holder = %q after the failed create, want a", got.HolderIdentity)
		}
	})

	t.Run("an update before any get or create fails", func(t *testing.T) {
		h := newHarness(t)
		mustCreate(t, h.lock("a", nil), record("a", 0))
		err := h.lock("b", nil).Update(ctx, record("b", 1))
		if err == nil || !strings.Contains(err.Error(), "lease not initialized") {
			t.Fatalf("Update = %v, want lease not initialized", err)
		}
	})

	t.Run("a lock's own writes chain without reading", func(t *testing.T) {
		h := newHarness(t)
		a := h.lock("a", nil)
		mustCreate(t, a, record("a", 0))
		for i := range 3 {
			if err := a.Update(ctx, record("a", i)); err != nil {
				t.Fatalf("update %d: %v", i, err)
			}
		}
	})

	t.Run("an update based on a stale read is Conflict, and succeeds after a new read", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.lock("a", nil), h.lock("b", nil)
		mustCreate(t, a, record("a", 0))
		mustGet(t, b)
		if err := a.Update(ctx, record("a", 0)); err != nil {
			t.Fatal(err)
		}
		if err := b.Update(ctx, record("b", 1)); !apierrors.IsConflict(err) {
			t.Fatalf("stale Update = %v, want Conflict", err)
		}
		if got, _ := mustGet(t, a); got.HolderIdentity != "a" {
			t.Fatalf("holder = %q after the conflict, want a", got.HolderIdentity)
		}
		mustGet(t, b)
		if err := b.Update(ctx, record("b", 1)); err != nil {
			t.Fatalf("Update after Get = %v", err)
		}
		if got, _ := mustGet(t, a); got.HolderIdentity != "b" || got.LeaderTransitions != 1 {
			t.Fatalf("record = %+v, want holder b with 1 transition", got)
		}
	})

	t.Run("labels are written on create and merged on update", func(t *testing.T) {
		h := newHarness(t)
		a := h.lock("a", map[string]string{"app": "demo", "leader": "a"})
		b := h.lock("b", map[string]string{"leader": "b"})
		mustCreate(t, a, record("a", 0))
		if got := h.labels(t); len(got) != 2 || got["app"] != "demo" || got["leader"] != "a" {
			t.Fatalf("labels after create = %v", got)
		}
		mustGet(t, b)
		if err := b.Update(ctx, record("b", 1)); err != nil {
			t.Fatal(err)
		}
		if got := h.labels(t); len(got) != 2 || got["app"] != "demo" || got["leader"] != "b" {
			t.Fatalf("labels after update = %v, want app=demo, leader=b", got)
		}
	})

	t.Run("after a delete an update is Conflict, a get NotFound, and a create succeeds", func(t *testing.T) {
		h := newHarness(t)
		a := h.lock("a", nil)
		mustCreate(t, a, record("a", 0))
		h.delete(t)
		if err := a.Update(ctx, record("a", 0)); !apierrors.IsConflict(err) {
			t.Fatalf("Update after delete = %v, want Conflict", err)
		}
		if _, _, err := a.Get(ctx); !apierrors.IsNotFound(err) {
			t.Fatalf("Get after delete = %v, want NotFound", err)
		}
		mustCreate(t, h.lock("b", nil), record("b", 1))
		if err := a.Update(ctx, record("a", 2)); !apierrors.IsConflict(err) {
			t.Fatalf("Update on the recreated lease with the old version = %v, want Conflict", err)
		}
	})

	t.Run("Describe is namespace/name and Identity is the identity", func(t *testing.T) {
		h := newHarness(t)
		l := h.lock("a", nil)
		if l.Describe() != namespace+"/"+h.name || l.Identity() != "a" {
			t.Fatalf("Describe, Identity = %q, %q", l.Describe(), l.Identity())
		}
	})
}
