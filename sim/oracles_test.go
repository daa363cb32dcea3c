package sim_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/leaderlab/leaderlab/examples/statuscounter"
	"github.com/leaderlab/leaderlab/sim"
)

// The leader's status writes and lease renewals take 20 s to arrive. One
// more pod: it counts 4 and sends that; two more pods come while its write
// is on its way. It loses the lease, the next leader counts 6 and writes
// it; then the deposed leader's write arrives, conflicts, and its retry,
// with a fresh resourceVersion and the count of 4, sets status.replicas back
// from 6 to 4. That write is harmful and names the next leader's write it
// undid; with the fix, nothing stale lands; without the slow network,
// nothing is stale at all.
func TestStaleStatusFromCacheIsHarmful(t *testing.T) {
	const slow = 20 * time.Second
	run := func(t *testing.T, ctl statuscounter.Controller, fault bool) (*sim.Report, string) {
		var leader string
		set := statuscounter.ReplicaSet()
		rep := sim.Test(t, sim.Options{Seed: 3, Candidates: 3, Run: ctl.Run}, func(c *sim.Cluster) {
			if err := c.AddObjects(set, statuscounter.Pod(0), statuscounter.Pod(1), statuscounter.Pod(2)); err != nil {
				t.Fatal(err)
			}
			leader = c.AwaitLeader(time.Minute)
			c.Advance(time.Second)
			if fault {
				c.Inject(sim.Fault{Kind: sim.FaultLatency, Candidate: leader, Verb: sim.VerbUpdate, Resource: "leases", Request: sim.Fixed(slow)})
				c.Inject(sim.Fault{Kind: sim.FaultLatency, Candidate: leader, Verb: sim.VerbUpdate, Resource: "replicasets/status", Request: sim.Fixed(slow)})
			}
			ctx := context.Background()
			if err := c.Client().Create(ctx, statuscounter.Pod(3)); err != nil {
				t.Fatal(err)
			}
			c.Advance(time.Second)
			for i := 4; i < 6; i++ {
				if err := c.Client().Create(ctx, statuscounter.Pod(i)); err != nil {
					t.Fatal(err)
				}
			}
			c.Advance(time.Minute)
		})
		return rep, leader
	}
	t.Run("re-read on conflict", func(t *testing.T) {
		rep, leader := run(t, statuscounter.Controller{}, true)
		var harmful []sim.StaleWrite
		for _, s := range rep.StaleWrites {
			if s.Harmful {
				harmful = append(harmful, s)
			}
		}
		if len(harmful) != 1 {
			t.Fatalf("harmful stale writes %v, want 1 (all stale writes: %v)", harmful, rep.StaleWrites)
		}
		s := harmful[0]
		if s.Write.Candidate != leader || s.Write.Resource != "replicasets/status" || !s.Write.Guarded {
			t.Errorf("harmful stale write %v: want %s's guarded status update", s, leader)
		}
		if len(s.Undid) != 1 || s.Undid[0].Field != "status.replicas" || s.Undid[0].From != "6" || s.Undid[0].To != "4" || s.Undid[0].By != s.NewLeader {
			t.Errorf("harmful stale write %v: want status.replicas set back from 6 to 4 over the write of the new leader %s", s, s.NewLeader)
		}
		// The history shows the step back.
		var counts []any
		for _, v := range rep.History.Of("replicasets", "default", "web") {
			counts = append(counts, v.Content["status"].(map[string]any)["replicas"])
		}
		if fmt.Sprint(counts) != "[0 3 6 4 6]" {
			t.Errorf("status.replicas over time %v, want [0 3 6 4 6]: as added, the first leader's count of the 3 pods, the new leader's 6, the deposed leader's 4, the new leader's 6 again", counts)
		}
	})
	t.Run("fixed", func(t *testing.T) {
		rep, _ := run(t, statuscounter.Controller{Fixed: true}, true)
		if len(rep.StaleWrites) != 0 || len(rep.LostUpdates) != 0 {
			t.Errorf("stale writes %v, lost updates %v: want none", rep.StaleWrites, rep.LostUpdates)
		}
		// The controller ran: it counted the six pods in the end.
		if h := rep.History.Of("replicasets", "default", "web"); len(h) == 0 || fmt.Sprint(h[len(h)-1].Content["status"].(map[string]any)["replicas"]) != "6" {
			t.Errorf("status.replicas did not end at 6: the controller did not count the pods")
		}
	})
	t.Run("no fault", func(t *testing.T) {
		rep, _ := run(t, statuscounter.Controller{}, false)
		if len(rep.StaleWrites) != 0 || len(rep.LostUpdates) != 0 {
			t.Errorf("stale writes %v, lost updates %v: want none", rep.StaleWrites, rep.LostUpdates)
		}
		// The controller ran: it counted the six pods in the end.
		if h := rep.History.Of("replicasets", "default", "web"); len(h) == 0 || fmt.Sprint(h[len(h)-1].Content["status"].(map[string]any)["replicas"]) != "6" {
			t.Errorf("status.replicas did not end at 6: the controller did not count the pods")
		}
	})
}

// A candidate under FaultWatchDelay sees a change Delay late, one response
// leg after that; its reads are current, and another candidate's watch is
// not delayed.
func TestWatchDelay(t *testing.T) {
	const delay = 7 * time.Second
	seen := map[string]time.Duration{}
	var mu sync.Mutex
	var cluster *sim.Cluster
	watcher := func(ctx context.Context, p *sim.Process) {
		cs := kubernetes.NewForConfigOrDie(p.Config)
		factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
		_, _ = factory.Core().V1().ConfigMaps().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(any) {
			mu.Lock()
			defer mu.Unlock()
			seen[p.Name] = cluster.Now()
		}})
		factory.Start(ctx.Done())
		factory.WaitForCacheSync(ctx.Done())
		<-ctx.Done()
		factory.Shutdown()
	}
	opts := sim.Options{Seed: 1, Candidates: 2, Run: watcher, Faults: []sim.Fault{{Kind: sim.FaultWatchDelay, Candidate: "c1", Delay: delay, At: time.Second}}}
	var created time.Duration
	rep := sim.Test(t, opts, func(c *sim.Cluster) {
		cluster = c
		c.Advance(2 * time.Second)
		created = c.Now()
		if err := c.Client().Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}}); err != nil {
			t.Error(err)
		}
		c.Advance(time.Minute)
	})
	leg := sim.DefaultLatency
	if got := seen["c0"] - created; got < leg.Min || got > leg.Max {
		t.Errorf("c0 saw the ConfigMap %v after its creation, want one response leg (%v)", got, leg)
	}
	if got := seen["c1"] - created; got < delay+leg.Min || got > delay+leg.Max {
		t.Errorf("c1 saw the ConfigMap %v after its creation, want %v and one response leg (%v)", got, delay, leg)
	}
	if len(rep.Faults) != 1 || rep.Faults[0].Kind != sim.FaultWatchDelay || rep.Faults[0].Detail != "c1 delay=7s" {
		t.Errorf("faults %+v, want the watch delay of c1 with its detail", rep.Faults)
	}
}
