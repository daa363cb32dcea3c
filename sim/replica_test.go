package sim_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/leaderlab/leaderlab/sim"
)

// taskRunner is a one-shot controller: for each pending task (a ConfigMap
// labelled task) it starts a run (a ConfigMap "<task>-run", standing for a
// Job), marks the task done and deletes the run. It decides from its cache,
// as controller-runtime controllers do: running a task twice is its bug.
// It indexes the ConfigMaps by state, as operators index what they list,
// so every candidate's cache watches them from the start, leader or not.
func taskRunner(mgr manager.Manager) error {
	c := mgr.GetClient()
	byState := func(o client.Object) []string { return []string{o.(*corev1.ConfigMap).Data["state"]} }
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &corev1.ConfigMap{}, "data.state", byState); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).For(&corev1.ConfigMap{}).Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		var task corev1.ConfigMap
		if err := c.Get(ctx, req.NamespacedName, &task); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
		if task.Labels["task"] == "" || task.Data["state"] != "pending" {
			return reconcile.Result{}, nil
		}
		run := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: task.Name + "-run", Namespace: task.Namespace}, Data: map[string]string{"task": task.Name}}
		var seen corev1.ConfigMap
		if err := c.Get(ctx, client.ObjectKeyFromObject(run), &seen); apierrors.IsNotFound(err) {
			if err := c.Create(ctx, run); err != nil && !apierrors.IsAlreadyExists(err) {
				return reconcile.Result{}, err
			}
		}
		task.Data["state"] = "done"
		if err := c.Update(ctx, &task); err != nil {
			return reconcile.Result{}, err
		}
		return reconcile.Result{}, client.IgnoreNotFound(c.Delete(ctx, run))
	}))
}

// A new leader whose API server replica lags reruns a task the old leader
// had already run: its cache has the task pending and no run. The report
// catches the second run as a lost update (a create over a deletion its
// writer was never sent); without the lag the new leader sees the task done.
func TestLaggingReplicaRerunsATask(t *testing.T) {
	const lag = time.Minute
	run := func(t *testing.T, faults []sim.Fault, mgrOpts ...func(*manager.Options)) *sim.Report {
		opts := sim.Options{Seed: 2, Candidates: 2, Run: sim.Manager(taskRunner, mgrOpts...), Faults: faults}
		return sim.Test(t, opts, func(c *sim.Cluster) {
			if got := c.AwaitLeader(time.Minute); got != "c0" {
				t.Fatalf("first leader %s, want c0", got)
			}
			c.Advance(10 * time.Second)
			task := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "backup", Namespace: "default", Labels: map[string]string{"task": "yes"}}, Data: map[string]string{"state": "pending"}}
			if err := c.Client().Create(context.Background(), task); err != nil {
				t.Fatal(err)
			}
			c.Advance(5 * time.Second)
			var done corev1.ConfigMap
			if err := c.Client().Get(context.Background(), types.NamespacedName{Namespace: "default", Name: "backup"}, &done); err != nil || done.Data["state"] != "done" {
				t.Fatalf("c0 has not run the task: %v, %v", done.Data, err)
			}
			c.Crash("c0")
			c.Advance(3 * time.Minute)
		})
	}
	runs := func(rep *sim.Report) (by []string) {
		for _, v := range rep.History.Of("configmaps", "default", "backup-run") {
			if !v.Deleted && v.Verb == sim.VerbCreate {
				by = append(by, v.Writer)
			}
		}
		return by
	}
	t.Run("lagging", func(t *testing.T) {
		rep := run(t, []sim.Fault{{Kind: sim.FaultStaleReplica, Candidate: "c1", At: 5 * time.Second, Delay: lag}})
		if got := runs(rep); strings.Join(got, " ") != "c0 c1" {
			t.Fatalf("the task ran by %v, want by c0 and then c1\n%s", got, rep.Text())
		}
		if len(rep.LostUpdates) != 1 {
			t.Fatalf("lost updates %v, want the rerun", rep.LostUpdates)
		}
		l := rep.LostUpdates[0]
		t.Log(l)
		if l.Write.Candidate != "c1" || l.Write.Verb != sim.VerbCreate || l.Write.Name != "backup-run" || l.Seen != "" {
			t.Errorf("lost update %v: want c1's create of backup-run, never sent the object", l)
		}
		if len(l.Undid) != 1 || l.Undid[0].Field != "data.task" || l.Undid[0].From != "(absent)" || l.Undid[0].To != `"backup"` || l.Undid[0].By != "c0" {
			t.Errorf("lost update %v: want data.task set back from (absent) to \"backup\" over c0's deletion", l)
		}
	})
	// controller-runtime's read-your-own-writes client makes a read wait
	// until the cache has the reader's own writes; the new leader has
	// written nothing about the task, so its stale cache still answers.
	t.Run("lagging, read-your-own-writes client", func(t *testing.T) {
		ryw := func(o *manager.Options) {
			o.Client.Cache = &client.CacheOptions{EnableReadYourWritesConsistency: ptr.To(true)}
		}
		rep := run(t, []sim.Fault{{Kind: sim.FaultStaleReplica, Candidate: "c1", At: 5 * time.Second, Delay: lag}}, ryw)
		if got := runs(rep); strings.Join(got, " ") != "c0 c1" {
			t.Fatalf("the task ran by %v, want by c0 and then c1: the client waits only for its own writes", got)
		}
		if len(rep.LostUpdates) != 1 || rep.LostUpdates[0].Write.Name != "backup-run" {
			t.Errorf("lost updates %v, want the rerun", rep.LostUpdates)
		}
	})
	t.Run("fresh", func(t *testing.T) {
		rep := run(t, nil)
		if got := runs(rep); strings.Join(got, " ") != "c0" {
			t.Fatalf("the task ran by %v, want by c0 alone", got)
		}
		if len(rep.LostUpdates) != 0 || len(rep.StaleWrites) != 0 {
			t.Errorf("lost updates %v, stale writes %v: want none", rep.LostUpdates, rep.StaleWrites)
		}
	})
}

// The replica's rules, seen by a client-go informer in each candidate: a
// lagging cache delays the changes a watch sends, a frozen one holds them
// until the candidate's connections break and it reaches a fresh replica,
// and an informer that starts on a replica more than 3 s behind never
// syncs (client-go 1.37's watch-list is answered 504 and tries again).
func TestStaleReplicaAsInformersSeeIt(t *testing.T) {
	type result struct {
		seen    map[string]time.Duration // when each candidate's informer first saw ConfigMap x
		created time.Duration
		rep     *sim.Report
	}
	// The informers start at start.
	run := func(t *testing.T, start time.Duration, faults []sim.Fault, body func(c *sim.Cluster)) result {
		res := result{seen: map[string]time.Duration{}}
		var mu sync.Mutex
		var cluster *sim.Cluster
		watcher := func(ctx context.Context, p *sim.Process) {
			time.Sleep(start)
			cs := kubernetes.NewForConfigOrDie(p.Config)
			factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
			_, _ = factory.Core().V1().ConfigMaps().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
				if obj.(*corev1.ConfigMap).Name != "x" {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				res.seen[p.Name] = cluster.Now()
			}})
			factory.Start(ctx.Done())
			<-ctx.Done()
			factory.Shutdown()
		}
		res.rep = sim.Test(t, sim.Options{Seed: 1, Candidates: 2, Run: watcher, Faults: faults}, func(c *sim.Cluster) {
			cluster = c
			c.Advance(2 * time.Second)
			res.created = c.Now()
			if err := c.Client().Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}}); err != nil {
				t.Error(err)
			}
			body(c)
		})
		return res
	}
	leg := sim.DefaultLatency
	t.Run("lag", func(t *testing.T) {
		const lag = 7 * time.Second
		res := run(t, 0, []sim.Fault{{Kind: sim.FaultStaleReplica, Candidate: "c1", Delay: lag, At: time.Second}}, func(c *sim.Cluster) { c.Advance(time.Minute) })
		if got := res.seen["c0"] - res.created; got < leg.Min || got > leg.Max {
			t.Errorf("c0 saw x %v after its creation, want one response leg (%v)", got, leg)
		}
		if got := res.seen["c1"] - res.created; got < lag || got > lag+2*leg.Max {
			t.Errorf("c1 saw x %v after its creation, want the lag %v and at most two legs (%v)", got, lag, leg)
		}
		if f := res.rep.Faults; len(f) != 1 || f[0].Kind != sim.FaultStaleReplica || f[0].Detail != "c1 lag=7s" {
			t.Errorf("faults %+v, want c1's stale replica with its detail", f)
		}
	})
	t.Run("frozen until the connections break", func(t *testing.T) {
		const outage = 30 * time.Second
		res := run(t, 0, []sim.Fault{{Kind: sim.FaultStaleReplica, Candidate: "c1", Frozen: true, At: time.Second}, {Kind: sim.FaultOutage, At: outage, For: time.Second}},
			func(c *sim.Cluster) { c.Advance(time.Minute) })
		if got := res.seen["c1"]; got < outage+time.Second {
			t.Errorf("c1 saw x at %v, want after the outage (%v..%v) moved it to a fresh replica", got, outage, outage+time.Second)
		}
		if f := res.rep.Faults; len(f) != 2 || f[0].Detail != "c1 frozen" || f[0].End != outage {
			t.Errorf("faults %+v, want c1's frozen replica ended by the outage at %v", f, outage)
		}
		if !strings.Contains(res.rep.Text(), "30.000000s sim  stale replica of c1 ended: its connections broke") {
			t.Errorf("the trace does not say why the replica fault ended")
		}
	})
	t.Run("an informer never syncs on a replica 7 s behind a changing store", func(t *testing.T) {
		tick := func(c *sim.Cluster) {
			for i := range 60 {
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "tick" + strconv.Itoa(i), Namespace: "default"}}
				if err := c.Client().Create(context.Background(), cm); err != nil {
					t.Error(err)
				}
				c.Advance(time.Second)
			}
		}
		res := run(t, 10*time.Second, []sim.Fault{{Kind: sim.FaultStaleReplica, Candidate: "c1", Delay: 7 * time.Second}}, tick)
		if _, ok := res.seen["c1"]; ok {
			t.Errorf("c1's informer saw x at %v, want never: its watch-list cannot be served", res.seen["c1"])
		}
		if _, ok := res.seen["c0"]; !ok {
			t.Errorf("c0's informer never saw x")
		}
		if !strings.Contains(res.rep.Text(), "c1   watch configmaps: answered 504: the lagging replica's cache did not reach resourceVersion") {
			t.Errorf("no 504 for c1's watch-list in the trace")
		}
	})
}

// A stale replica is a fault of the simulated API server: a run on a real
// one refuses it before it starts.
func TestStaleReplicaNeedsTheSimulator(t *testing.T) {
	opts := sim.Options{Candidates: 2, Faults: []sim.Fault{{Kind: sim.FaultStaleReplica, Candidate: "c1", Frozen: true}}}
	_, err := sim.Real(context.Background(), &rest.Config{Host: "http://127.0.0.1:1"}, opts, func(*sim.Cluster) {})
	want := "sim: Faults[0]: stale-replica needs the simulated API server: a real API server's replicas cannot be made to lag from a client; FaultWatchDelay delays the candidate's watch events there"
	if err == nil || err.Error() != want {
		t.Errorf("Real: %v, want %q", err, want)
	}
}
