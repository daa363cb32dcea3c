package fake_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/leaderlab/leaderlab/fake"
	ll "github.com/leaderlab/leaderlab/leaderelection"
)

// TestManagerWithFakeLock: a controller-runtime manager on the fake lock
// becomes leader at once and runs its leader-election runnables; when the
// lease is stolen or the lock blocked, Start returns "leader election lost".
func TestManagerWithFakeLock(t *testing.T) {
	needAPIServer(t)
	for _, tc := range []struct {
		name string
		lose func(*fake.Lock) error
	}{
		{"stolen", func(l *fake.Lock) error { return l.Lease().Steal("intruder") }},
		{"blocked", func(l *fake.Lock) error { l.BlockLeaderElection(); return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lock := newFakeLock(t, ll.Options{Identity: "manager-" + tc.name})
			mgr, err := manager.New(apiServer.Config, manager.Options{
				LeaderElection:                      true,
				LeaderElectionResourceLockInterface: lock,
				LeaseDuration:                       new(2 * time.Second),
				RenewDeadline:                       new(time.Second),
				RetryPeriod:                         new(200 * time.Millisecond),
				Metrics:                             metricsserver.Options{BindAddress: "0"},
				HealthProbeBindAddress:              "0",
			})
			if err != nil {
				t.Fatal(err)
			}
			running := make(chan struct{})
			stopped := make(chan struct{})
			// A runnable without NeedLeaderElection runs only while leading.
			if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
				close(running)
				<-ctx.Done()
				close(stopped)
				return nil
			})); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- mgr.Start(t.Context()) }()

			// Guards against a hang only; the bounds come from the timings above.
			const hang = 30 * time.Second
			select {
			case <-running:
			case err := <-done:
				t.Fatalf("Start returned %v before the runnable ran", err)
			case <-time.After(hang):
				t.Fatal("the leader-election runnable never ran")
			}
			if got := lock.Lease().State().Record.HolderIdentity; got != lock.Identity() {
				t.Fatalf("holder = %q, want the manager %q", got, lock.Identity())
			}
			if err := tc.lose(lock); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "leader election lost") {
					t.Fatalf("Start = %v, want leader election lost", err)
				}
			case <-time.After(hang):
				t.Fatal("Start did not return after leadership was lost")
			}
			select {
			case <-stopped:
			case <-time.After(hang):
				t.Fatal("the runnable was not stopped")
			}
		})
	}
}
