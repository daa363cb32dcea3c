package sim_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/leaderlab/leaderlab/sim"
)

// replayRuns are varied runs for the replay test: crashes, partitions,
// releases, error and latency faults, restarts with a new identity, foreign
// lease writes and a herd.
var replayRuns = map[string]struct {
	opts sim.Options
	body func(c *sim.Cluster)
}{
	"crash-failover": {sim.Options{Candidates: 3}, func(c *sim.Cluster) {
		c.Crash(c.AwaitLeader(ld))
		c.AwaitLeader(time.Minute)
		c.Advance(time.Minute)
	}},
	"partition-release": {sim.Options{Candidates: 3, ReleaseOnCancel: true, AllowOverlap: true}, func(c *sim.Cluster) {
		l := c.AwaitLeader(ld)
		c.Advance(20 * time.Second)
		c.Partition(l)
		c.Advance(time.Minute)
		c.Heal(l)
		c.Stop(c.Leader())
		c.Advance(time.Minute)
	}},
	"faults-plan": {sim.Options{Candidates: 4, TraceRequests: true, LogVerbosity: 4, Faults: []sim.Fault{
		{Kind: sim.FaultLatency, At: 5 * time.Second, For: time.Minute, Verb: sim.VerbUpdate, Response: sim.Dist{Min: time.Second, Max: 4 * time.Second}},
		{Kind: sim.FaultErrors, At: 30 * time.Second, For: 20 * time.Second, Code: 429, Rate: 0.5, RetryAfter: time.Second},
		{Kind: sim.FaultErrors, At: 60 * time.Second, For: 20 * time.Second, Candidate: "c1", Code: 503, Rate: 0.7},
		{Kind: sim.FaultOutage, At: 90 * time.Second, For: 12 * time.Second},
		{Kind: sim.FaultBlackHole, At: 120 * time.Second, For: 8 * time.Second},
		{Kind: sim.FaultCrash, At: 150 * time.Second, Candidate: "c0"},
		{Kind: sim.FaultStart, At: 170 * time.Second, Candidate: "c0", Identity: "c0-again"},
	}}, func(c *sim.Cluster) { c.Advance(4 * time.Minute) }},
	"foreign-writer": {sim.Options{Candidates: 3}, func(c *sim.Cluster) {
		c.AwaitLeader(ld)
		c.Advance(10 * time.Second)
		c.DeleteLease()
		c.Advance(10 * time.Second)
		c.OverwriteLease("intruder")
		c.Advance(time.Minute)
	}},
	"herd": {sim.Options{Candidates: 20, SameInstantStart: true}, func(c *sim.Cluster) {
		c.Crash(c.AwaitLeader(ld))
		c.Advance(time.Minute)
	}},
}

// failingReconciler's every reconcile of a ConfigMap fails.
func failingReconciler(mgr manager.Manager) error {
	return builder.ControllerManagedBy(mgr).For(&corev1.ConfigMap{}).
		Complete(reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
			return reconcile.Result{}, errors.New("always fails")
		}))
}

// controller-runtime gives every reconcile a random UUID and logs it with
// the reconciler's errors: the run's seed draws them, so a run replays the
// same IDs. (A manager's trace is not promised byte for byte: its
// goroutines' concurrent requests can shift a line by a poll; replayRuns,
// whose traces and JSON must match, hold no managers.)
func TestReconcileIDsReplay(t *testing.T) {
	body := func(c *sim.Cluster) {
		c.AwaitLeader(ld)
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "input", Namespace: "default"}}
		if err := c.Client().Create(context.Background(), cm); err != nil {
			c.T().Fatal(err)
		}
		c.Advance(30 * time.Second)
	}
	run := func(seed int64) *sim.Report {
		return sim.Test(t, sim.Options{Seed: seed, Candidates: 2, Run: sim.Manager(failingReconciler)}, body)
	}
	ids := func(rep *sim.Report) []string {
		return regexp.MustCompile(`reconcileID=([0-9a-f-]{36})`).FindAllString(rep.TraceText(), -1)
	}
	a, b := ids(run(7)), ids(run(7))
	if len(a) == 0 {
		t.Fatal("no reconcile error was traced: the run shows nothing of the UUIDs")
	}
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different reconcile IDs:\n%q\n%q", a, b)
	}
	if c := ids(run(8)); len(c) > 0 && c[0] == a[0] {
		t.Errorf("seeds 7 and 8 drew the same first reconcile ID %s: the seed drives nothing", a[0])
	}
}

func TestSameSeedReplaysByteForByte(t *testing.T) {
	for name, sc := range replayRuns {
		t.Run(name, func(t *testing.T) {
			run := func(seed int64) (*sim.Report, []byte) {
				opts := sc.opts
				opts.Seed = seed
				rep := sim.Test(t, opts, sc.body)
				js, err := rep.JSON()
				if err != nil {
					t.Fatal(err)
				}
				return rep, js
			}
			a, aj := run(7)
			b, bj := run(7)
			if !a.ReplayExact || !b.ReplayExact {
				t.Fatalf("runs claim inexact replay: %q", a.ReplayNote)
			}
			if a.TraceText() != b.TraceText() {
				t.Fatalf("same seed, different traces:\n--- first\n%s\n--- second\n%s", a.TraceText(), b.TraceText())
			}
			if !bytes.Equal(aj, bj) {
				t.Errorf("same seed, different JSON reports")
			}
			if !bytes.Equal(a.SVG(), b.SVG()) {
				t.Errorf("same seed, different SVG timelines")
			}
			if c, _ := run(8); c.TraceText() == a.TraceText() {
				t.Errorf("seeds 7 and 8 gave the same trace: the seed drives nothing")
			}
		})
	}
}

func TestConcurrentRunsSayReplayIsNotExact(t *testing.T) {
	// A barrier outside both bubbles: blocking on it is not durable, so each
	// bubble waits in real time until the other has started.
	var mu sync.Mutex
	arrived, all := 0, make(chan struct{})
	reports := make([]*sim.Report, 2)
	t.Run("group", func(t *testing.T) {
		for i := range reports {
			t.Run("run", func(t *testing.T) {
				t.Parallel()
				reports[i] = sim.Test(t, sim.Options{Seed: 1, Candidates: 2}, func(c *sim.Cluster) {
					// Both bubbles are running once both have arrived here.
					mu.Lock()
					if arrived++; arrived == 2 {
						close(all)
					}
					mu.Unlock()
					<-all
					c.Advance(time.Minute)
				})
			})
		}
	})
	for i, rep := range reports {
		if rep == nil {
			t.Fatalf("run %d has no report", i)
		}
		if rep.ReplayExact || rep.ReplayNote == "" {
			t.Errorf("run %d overlapped another but claims exact replay", i)
		}
	}
}
