// Package replicaset_test runs kube-controller-manager's ReplicaSet controller
// (k8s.io/kubernetes v1.37.2, pkg/controller/replicaset), unmodified, as three
// leader-elected candidates in leaderlab's simulator, and asks whether KEP-5647's
// ConsistencyStore (feature gate StaleControllerConsistencyReplicaSet, beta and
// on by default since 1.36) stops the status write with which a deposed leader
// sets status.replicas back after a failover.
//
// It does not. The ConsistencyStore makes a sync wait until the controller's
// own informers have seen the controller's own last writes (EnsureReady at the
// start of syncReplicaSet). The reverting write does not come from a sync
// that starts on a stale cache: it is the conflict retry inside
// updateReplicaSetStatus, which reads the ReplicaSet again and resends the
// status it computed before the conflict, with context.TODO(), after its term
// has ended. Nothing the store records, and nothing it checks, lies on that
// path, and the write that it undoes is another process's, which this
// process's store never records. What the store does stop is the deposed
// process's next sync, from the cache of its stopped informers, which has not
// seen that process's own last write: with the gate off that sync makes a
// second harmful status write.
//
// kube-controller-manager itself exits when it loses the lease, and then
// neither write leaves the process: the reverting write needs the controller
// in a process that outlives its term.
package replicaset_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	featuregatetesting "k8s.io/component-base/featuregate/testing"
	"k8s.io/kubernetes/pkg/controller/replicaset"
	"k8s.io/kubernetes/pkg/features"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/leaderlab/leaderlab/sim"
)

// slow is how long the first leader's lease renewals and status writes take to
// reach the server once the fault is on: longer than RenewDeadline (10 s), so
// it loses the lease with a status write on the wire, and longer than the
// failover (LeaseDuration, 15 s, and a retry period), so the next leader
// writes the status before that write arrives.
const slow = 20 * time.Second

// kcmSyncs is kube-controller-manager's default --concurrent-replicaset-syncs.
const kcmSyncs = 5

// candidate is one kube-controller-manager process that runs only the
// ReplicaSet controller. As in kube-controller-manager, the informers and the
// controller are built when the process starts to lead and run for the term.
//
// exitOnLoss is what kube-controller-manager does when it loses the lease: it
// exits at once (klog.FlushAndExit in OnStoppedLeading), without waiting for
// its workers. Without it the process stays, waits for the term's controller
// to finish and joins the election again, as the simulator's built-in
// candidate and a controller embedded in a longer-lived process do.
type candidate struct{ exitOnLoss bool }

func (k candidate) run(ctx context.Context, p *sim.Process) {
	cfg := rest.CopyConfig(p.Config)
	cfg.QPS, cfg.Burst = 20, 30 // kube-controller-manager's --kube-api-qps and --kube-api-burst
	cs := kubernetes.NewForConfigOrDie(cfg)
	for ctx.Err() == nil {
		// One elector, so at most one term: client-go starts
		// OnStartedLeading on a goroutine of its own and does not wait for
		// it, so the term is run here, where Run can wait for it.
		started := make(chan context.Context, 1)
		le, err := leaderelection.NewLeaderElector(p.ElectionConfig(leaderelection.LeaderCallbacks{
			OnStartedLeading: func(term context.Context) { started <- term },
		}))
		if err != nil {
			panic(err)
		}
		lost := make(chan struct{})
		go func() {
			defer close(lost)
			le.Run(ctx)
		}()
		select {
		case term := <-started:
			if k.exitOnLoss {
				// The process ends when Run returns, whatever the
				// controller's goroutines still do: the simulator cuts
				// off every request they send after that.
				go runController(term, cs)
				<-lost
				return
			}
			runController(term, cs)
		case <-lost:
		}
		<-lost
	}
}

// runController runs the ReplicaSet controller for one term, as
// kube-controller-manager's newReplicaSetController does, and returns when its
// workers and informers have stopped. The feature gate is read here, in
// NewReplicaSetController.
func runController(term context.Context, cs kubernetes.Interface) {
	factory := informers.NewSharedInformerFactory(cs, 0)
	rsc := replicaset.NewReplicaSetController(term, factory.Apps().V1().ReplicaSets(), factory.Core().V1().Pods(), cs, replicaset.BurstReplicas)
	factory.Start(term.Done())
	rsc.Run(term, kcmSyncs)
	factory.Shutdown()
}

func webSet(replicas int32) *appsv1.ReplicaSet {
	labels := map[string]string{"app": "web"}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
}

// scenario: ReplicaSet default/web with 3 replicas, which the first leader
// creates and counts. Then its lease renewals and status writes slow to 20 s
// (slow), and web is scaled to 6. The leader creates 3 pods (pod creates are
// fast) and sends the status it computed from its cache, which has not seen
// them yet: 3 replicas. It loses the lease with that write on the wire (its
// term ends, and with it its informers); the next leader starts, counts 6 and
// writes 6. The deposed leader's write arrives (slow after it was sent) and
// conflicts; updateReplicaSetStatus reads the ReplicaSet again and resends
// its status with the fresh resourceVersion, which passes the
// resourceVersion check and lands slow later: status.replicas from 6 back to
// 3, until the new leader sees that and writes 6 again.
//
// Then the deposed process's worker takes the ReplicaSet's key once more
// (the pod events of its term queued it while it was writing; a shut-down
// workqueue still hands out what it holds): a sync from its stopped cache,
// which still has 6 pods and the status it saw at the end of its term, and
// not the status it has just written. web is scaled down to 4 meanwhile, so
// that what this sync writes, 6 replicas, another slow write and its retry
// later, undoes the new leader's 4. With the ConsistencyStore that sync
// does not run: the cache has not seen the controller's own last write.
//
// With exitOnLoss the deposed process is gone before its first write
// conflicts, and neither write is sent.
func scenario(t *testing.T, seed int64, k candidate) (*sim.Report, string) {
	var leader string
	rep := sim.Test(t, sim.Options{Seed: seed, Candidates: 3, Run: k.run}, func(c *sim.Cluster) {
		if err := c.AddObjects(webSet(3)); err != nil {
			t.Fatal(err)
		}
		leader = c.AwaitLeader(time.Minute)
		c.Advance(5 * time.Second)
		if got := statusReplicas(c.Report().History.Of("replicasets", "default", "web")); len(got) == 0 || got[len(got)-1] != "3" {
			t.Fatalf("status.replicas over time %v before the fault, want it to end at 3: the first leader did not create and count the pods", got)
		}
		c.Inject(sim.Fault{Kind: sim.FaultLatency, Candidate: leader, Verb: sim.VerbUpdate, Resource: "leases", Request: sim.Fixed(slow)})
		c.Inject(sim.Fault{Kind: sim.FaultLatency, Candidate: leader, Verb: sim.VerbUpdate, Resource: "replicasets/status", Request: sim.Fixed(slow)})
		scale(t, c, 6)
		// The deposed leader's retry lands two slow writes after the scale;
		// its next sync's write is then on the wire for two more.
		c.Advance(2*slow + 5*time.Second)
		scale(t, c, 4)
		c.Advance(2 * time.Minute)
	})
	return rep, leader
}

// scale sets web's spec.replicas, as kubectl scale does.
func scale(t *testing.T, c *sim.Cluster, replicas int32) {
	ctx := context.Background()
	rs := &appsv1.ReplicaSet{}
	if err := c.Client().Get(ctx, client.ObjectKey{Namespace: "default", Name: "web"}, rs); err != nil {
		t.Fatal(err)
	}
	rs.Spec.Replicas = ptr.To(replicas)
	if err := c.Client().Update(ctx, rs); err != nil {
		t.Fatal(err)
	}
}

// statusReplicas is status.replicas in each version of h, each value once
// for as long as it stays the same.
func statusReplicas(h sim.History) []string {
	var out []string
	for _, v := range h {
		status, _ := v.Content["status"].(map[string]any)
		n := fmt.Sprint(status["replicas"])
		if status["replicas"] == nil {
			n = "0"
		}
		if len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	return out
}

func harmful(rep *sim.Report) []sim.StaleWrite {
	var out []sim.StaleWrite
	for _, s := range rep.StaleWrites {
		if s.Harmful {
			out = append(out, s)
		}
	}
	return out
}

// undid finds the deposed leader's harmful stale status write that set
// status.replicas from one value to another over the new leader's write.
func undid(rep *sim.Report, leader, from, to string) (sim.StaleWrite, bool) {
	for _, s := range harmful(rep) {
		if s.Write.Candidate != leader || s.Write.Resource != "replicasets/status" {
			continue
		}
		for _, u := range s.Undid {
			if u.Field == "status.replicas" && u.From == from && u.To == to && u.By == s.NewLeader {
				return s, true
			}
		}
	}
	return sim.StaleWrite{}, false
}

// The deposed leader's status writes, with the ConsistencyStore off and on.
// Both times the conflict retry sets status.replicas back from 6 to 3: the
// store is not on its path. Its next sync, from its stopped cache, sets the
// new leader's 4 back to 6 only with the store off.
func TestReplicaSetStatusRevertAfterFailover(t *testing.T) {
	for _, tc := range []struct {
		gate bool
		// harmful is how many harmful stale writes there are; history
		// status.replicas over time: 0 (as added, and the first leader's
		// count before its pods reached its cache), the first leader's 3,
		// the new leader's 6, the retry's 3, the new leader's 6 and, after
		// the scale-down, 4; with the store off the stale sync's 6 and the
		// new leader's 4 again.
		harmful int
		history string
	}{
		{gate: false, harmful: 2, history: "[0 3 6 3 6 4 6 4]"},
		{gate: true, harmful: 1, history: "[0 3 6 3 6 4]"},
	} {
		t.Run(fmt.Sprintf("%s=%v", features.StaleControllerConsistencyReplicaSet, tc.gate), func(t *testing.T) {
			featuregatetesting.SetFeatureGateDuringTest(t, utilfeature.DefaultFeatureGate, features.StaleControllerConsistencyReplicaSet, tc.gate)
			for _, seed := range []int64{1, 2, 3} {
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					rep, leader := scenario(t, seed, candidate{})
					h := statusReplicas(rep.History.Of("replicasets", "default", "web"))
					t.Logf("%d harmful of %d stale writes; status.replicas over time %v", len(harmful(rep)), len(rep.StaleWrites), h)
					if len(rep.Failovers) == 0 {
						t.Fatalf("no failover: the plan did not depose %s", leader)
					}
					s, ok := undid(rep, leader, "6", "3")
					if !ok {
						t.Errorf("no harmful stale write of %s setting status.replicas back from 6 to 3 over the new leader's write; harmful: %v", leader, harmful(rep))
					} else if !s.Write.Guarded {
						t.Errorf("reverting write %v is not guarded: want the conflict retry, which names the resourceVersion it read again", s)
					}
					if _, ok := undid(rep, leader, "4", "6"); ok != !tc.gate {
						t.Errorf("a harmful stale write of %s setting the new leader's 4 back to 6: %v, want %v (harmful: %v)", leader, ok, !tc.gate, harmful(rep))
					}
					if n := len(harmful(rep)); n != tc.harmful {
						t.Errorf("%d harmful stale writes, want %d: %v", n, tc.harmful, harmful(rep))
					}
					if fmt.Sprint(h) != tc.history {
						t.Errorf("status.replicas over time %v, want it to end %s", h, tc.history)
					}
				})
			}
		})
	}
}

// kube-controller-manager itself exits when it loses the lease, without
// waiting for its workers. The deposed leader's status write on the wire
// still arrives, but it names the resourceVersion it was computed from and
// conflicts with the new leader's write (it is not applied); the re-read
// before the retry that would set the status back is sent after the process
// has gone and never arrives, and nothing else of it does. So the
// reverting write needs a process that outlives its term (the ReplicaSet
// controller embedded in a process that does not exit when it loses the
// lease), whether the ConsistencyStore is on or off.
func TestReplicaSetStatusNoRevertWhenTheProcessExits(t *testing.T) {
	for _, gate := range []bool{false, true} {
		t.Run(fmt.Sprintf("%s=%v", features.StaleControllerConsistencyReplicaSet, gate), func(t *testing.T) {
			featuregatetesting.SetFeatureGateDuringTest(t, utilfeature.DefaultFeatureGate, features.StaleControllerConsistencyReplicaSet, gate)
			rep, leader := scenario(t, 1, candidate{exitOnLoss: true})
			h := statusReplicas(rep.History.Of("replicasets", "default", "web"))
			t.Logf("%d harmful of %d stale writes; status.replicas over time %v; cut off: %v", len(harmful(rep)), len(rep.StaleWrites), h, rep.CutOffs)
			if len(rep.Failovers) == 0 {
				t.Fatalf("no failover: the plan did not depose %s", leader)
			}
			if len(rep.StaleWrites) != 0 {
				t.Errorf("stale writes %v: want none", rep.StaleWrites)
			}
			if len(rep.CutOffs) == 0 || len(rep.CutOffs[0].Senders) == 0 || !strings.Contains(rep.CutOffs[0].Senders[0], "replicaset.updateReplicaSetStatus") {
				t.Errorf("cut off %v: want the deposed leader's re-read before its status retry, sent after its process ended", rep.CutOffs)
			}
			if fmt.Sprint(h[max(len(h)-3, 0):]) != "[3 6 4]" {
				t.Errorf("status.replicas over time %v, want it to end [3 6 4]", h)
			}
		})
	}
}
