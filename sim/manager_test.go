package sim_test

import (
	"context"
	"errors"
	"html"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// copier is a small real operator: it copies the data of ConfigMap "in" to
// ConfigMap "out" in the same namespace, with a merge patch (no
// resourceVersion precondition, as many controllers write).
func copier(mgr manager.Manager) error { return copierWith(mgr, false) }

// guardedCopier is copier with the fix: its patch names the resourceVersion
// it was based on.
func guardedCopier(mgr manager.Manager) error { return copierWith(mgr, true) }

func copierWith(mgr manager.Manager, guard bool) error {
	c := mgr.GetClient()
	return ctrl.NewControllerManagedBy(mgr).For(&corev1.ConfigMap{}).Complete(reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		if req.Name != "in" {
			return reconcile.Result{}, nil
		}
		var in corev1.ConfigMap
		if err := c.Get(ctx, req.NamespacedName, &in); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
		var out corev1.ConfigMap
		err := c.Get(ctx, types.NamespacedName{Namespace: req.Namespace, Name: "out"}, &out)
		switch {
		case apierrors.IsNotFound(err):
			out = corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "out", Namespace: req.Namespace}, Data: in.Data}
			return reconcile.Result{}, c.Create(ctx, &out)
		case err != nil:
			return reconcile.Result{}, err
		}
		patch := client.MergeFrom(out.DeepCopy())
		if guard {
			patch = client.MergeFromWithOptions(out.DeepCopy(), client.MergeFromWithOptimisticLock{})
		}
		out.Data = in.Data
		return reconcile.Result{}, c.Patch(ctx, &out, patch)
	}))
}

var inKey = types.NamespacedName{Namespace: "default", Name: "in"}

// setInput creates or updates ConfigMap "in" through the outside client.
func setInput(c *sim.Cluster, v string) {
	cl := c.Client()
	var in corev1.ConfigMap
	err := cl.Get(context.Background(), inKey, &in)
	if apierrors.IsNotFound(err) {
		in = corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "in", Namespace: "default"}, Data: map[string]string{"v": v}}
		err = cl.Create(context.Background(), &in)
	} else if err == nil {
		in.Data = map[string]string{"v": v}
		err = cl.Update(context.Background(), &in)
	}
	if err != nil {
		c.T().Fatalf("writing ConfigMap in: %v", err)
	}
}

// outputIs reports whether ConfigMap "out" holds v.
func outputIs(c *sim.Cluster, v string) bool {
	var out corev1.ConfigMap
	err := c.Client().Get(context.Background(), types.NamespacedName{Namespace: "default", Name: "out"}, &out)
	return err == nil && out.Data["v"] == v
}

// dataWriters are the candidates that wrote ConfigMap "out".
func dataWriters(rep *sim.Report) map[string]int {
	m := map[string]int{}
	for _, w := range rep.Writes {
		if w.Kind == sim.WriteData && w.Name == "out" {
			m[w.Candidate]++
		}
	}
	return m
}

// Three replicas of a real controller-runtime manager: one leads and
// reconciles; after it crashes, another takes over within the crash bound of
// client-go's arithmetic and reconciles what changed meanwhile. The same
// seed gives the same trace, byte for byte.
func TestManagersFailOverAndReconcile(t *testing.T) {
	opts := sim.Options{Seed: 3, Candidates: 3, Run: sim.Manager(copier)}
	var first, second string
	body := func(c *sim.Cluster) {
		setInput(c, "1")
		first = c.AwaitLeader(ld + 2*rp)
		c.Advance(5 * time.Second)
		if !outputIs(c, "1") {
			t.Fatalf("the leader %s did not reconcile: ConfigMap out does not hold v=1", first)
		}
		c.Crash(first)
		setInput(c, "2")
		second = c.AwaitLeader(scenarios.BoundsFor(c.Report().Options).Crash().Hi)
		c.Advance(5 * time.Second)
		if !outputIs(c, "2") {
			t.Fatalf("the new leader %s did not reconcile the change made while no one led", second)
		}
	}
	rep := sim.Test(t, opts, body)
	if first == second {
		t.Fatalf("the crashed leader %s led again", first)
	}
	if len(rep.Failovers) != 1 || rep.Failovers[0].Cause != sim.EndCrash {
		t.Fatalf("failovers = %+v, want one after the crash", rep.Failovers)
	}
	if win := scenarios.BoundsFor(rep.Options).Crash(); !win.Contains(rep.Failovers[0].Duration) {
		t.Errorf("crash failover took %v, outside client-go's bound %v", rep.Failovers[0].Duration, win)
	}
	writers := dataWriters(rep)
	if writers[first] == 0 || writers[second] == 0 || len(writers) != 2 {
		t.Errorf("ConfigMap out written by %v, want by %s and by %s only", writers, first, second)
	}
	if len(rep.StaleWrites) != 0 || len(rep.OverlapWrites) != 0 {
		t.Errorf("stale writes %v, overlap writes %v, want none", rep.StaleWrites, rep.OverlapWrites)
	}
	var outside []string
	for _, w := range rep.Writes {
		if w.Candidate == sim.Outside {
			outside = append(outside, w.Verb+" "+w.Namespace+"/"+w.Name)
		}
	}
	if want := []string{"create default/in", "update default/in"}; !slices.Equal(outside, want) {
		t.Errorf("outside writes %q, want %q (the create and the update of in, each naming it)", outside, want)
	}
	// A manager's goroutines issue concurrent requests, so the package doc
	// promises no byte-for-byte trace (a controller's cache-sync poll can
	// land a tick later); the election itself replays.
	again := sim.Test(t, opts, body)
	if !reflect.DeepEqual(again.Terms, rep.Terms) || !reflect.DeepEqual(again.Failovers, rep.Failovers) {
		t.Errorf("same seed, different elections:\n--- first\n%v\n%v\n--- second\n%v\n%v", rep.Terms, rep.Failovers, again.Terms, again.Failovers)
	}
}

// A stale write, constructed: the leader's lease updates take 20 s to
// arrive, so its renewals time out and it loses the lease, and so does the
// patch it sends to ConfigMap out during its term: that patch is applied
// after its term ended and after the next leader began, and overwrites what
// the next leader wrote since. The same run without the slow writes has no
// stale write and the output is current.
func TestManagerStaleWriteAcrossTermEnd(t *testing.T) {
	const slow = 20 * time.Second
	run := func(t *testing.T, fault bool, setup func(manager.Manager) error) (*sim.Report, string, bool) {
		var leader string
		current := false
		rep := sim.Test(t, sim.Options{Seed: 5, Candidates: 3, Run: sim.Manager(setup)}, func(c *sim.Cluster) {
			setInput(c, "1")
			leader = c.AwaitLeader(ld + 2*rp)
			c.Advance(5 * time.Second)
			if !outputIs(c, "1") {
				t.Fatalf("the leader %s did not reconcile", leader)
			}
			if fault {
				c.Inject(sim.Fault{Kind: sim.FaultLatency, Candidate: leader, Verb: sim.VerbUpdate, Resource: "leases", Request: sim.Fixed(slow)})
				c.Inject(sim.Fault{Kind: sim.FaultLatency, Candidate: leader, Verb: sim.VerbPatch, Resource: "configmaps", Request: sim.Fixed(slow)})
			}
			setInput(c, "2")
			if fault {
				// The leader gives up after RenewDeadline; another takes
				// over once the lease has expired.
				for deadline := c.Now() + rd + ld + 2*rp; c.Leader() == leader || c.Leader() == ""; c.Advance(100 * time.Millisecond) {
					if c.Now() > deadline {
						t.Fatalf("no other candidate took over from %s", leader)
					}
				}
			}
			setInput(c, "3")
			c.Advance(time.Minute)
			current = outputIs(c, "3")
		})
		return rep, leader, current
	}
	t.Run("slow writes", func(t *testing.T) {
		rep, leader, current := run(t, true, copier)
		if current {
			t.Errorf("ConfigMap out holds the current input: the late patch did not land")
		}
		var stale []sim.StaleWrite
		for _, s := range rep.StaleWrites {
			if s.Write.Candidate == leader && s.Write.Name == "out" {
				stale = append(stale, s)
			}
		}
		if len(stale) != 1 {
			t.Fatalf("stale writes of out by %s: %v, want 1 (all: %v)", leader, stale, rep.StaleWrites)
		}
		s := stale[0]
		if s.Cause != sim.StaleInFlight || !s.Write.LeaderAtSend || s.Write.LeaderAtApply || s.Write.Guarded {
			t.Errorf("stale write %v: want cause %q, sent as leader, applied not", s, sim.StaleInFlight)
		}
		if s.Write.Applied-s.Write.Sent != slow {
			t.Errorf("applied %v after it was sent, want the %v request leg", s.Write.Applied-s.Write.Sent, slow)
		}
		if s.NewLeader == "" || s.NewLeader == leader || s.NewLeaderStart > s.Write.Applied || s.TermEnd > s.Write.Applied {
			t.Errorf("stale write %v: want a new leader acting when it was applied", s)
		}
		// The late patch carries the input it read in its term, "2"; the
		// next leader had copied "3" since: the patch set it back.
		if !s.Harmful || len(s.Undid) != 1 || s.Undid[0].Field != "data.v" || s.Undid[0].From != `"3"` || s.Undid[0].To != `"2"` || s.Undid[0].By != s.NewLeader {
			t.Errorf("stale write %v: want harmful, setting data.v back from \"3\" to \"2\" over %s's write", s, s.NewLeader)
		}
		if !strings.Contains(rep.Text(), "\n  "+s.String()+"\n") {
			t.Errorf("the report's text does not list the stale write %q", s)
		}
		if svg := string(rep.SVG()); !strings.Contains(svg, "<title>stale, harmful: "+html.EscapeString(s.String())+"</title>") {
			t.Errorf("the timeline does not mark the stale write %q", s.Write)
		}
		if os.Getenv("LEADERLAB_SVG_DIR") != "" {
			_ = os.WriteFile(filepath.Join(os.Getenv("LEADERLAB_SVG_DIR"), "timeline-stale-write.svg"), rep.SVG(), 0o644)
		}
	})
	t.Run("slow writes, guarded", func(t *testing.T) {
		// The late patch names the version it read; the next leader has
		// written since, so the server refuses it (409) and it changes
		// nothing.
		rep, _, current := run(t, true, guardedCopier)
		if len(rep.StaleWrites) != 0 || !current {
			t.Errorf("stale writes %v, output current %v: want none, and current", rep.StaleWrites, current)
		}
	})
	t.Run("no fault", func(t *testing.T) {
		rep, _, current := run(t, false, copier)
		if len(rep.StaleWrites) != 0 {
			t.Errorf("stale writes without a fault: %v", rep.StaleWrites)
		}
		if !current {
			t.Errorf("ConfigMap out does not hold the current input")
		}
	})
}

// unregistered is a kind no scheme knows.
type unregistered struct{ corev1.ConfigMap }

// A setup that fails, or panics, is a violation of the run that says so.
func TestManagerBadSetup(t *testing.T) {
	for name, tc := range map[string]struct {
		setup func(manager.Manager) error
		opt   func(*manager.Options)
		want  string
	}{
		"error": {setup: func(manager.Manager) error { return errors.New("no CRD") }, want: "c0: sim.Manager: setup: no CRD"},
		"panic": {setup: func(manager.Manager) error { panic("boom") }, want: "c0: sim.Manager: setup panicked: boom"},
		"nil":   {want: "c0: sim.Manager: setup is nil"},
		// client-go's scheme is named after the line that made it.
		"a type missing from the scheme": {setup: func(mgr manager.Manager) error {
			return ctrl.NewControllerManagedBy(mgr).For(&unregistered{}).Complete(reconcile.Func(nil))
		}, want: `c0: sim.Manager: setup: no kind is registered for the type sim_test.unregistered in scheme "pkg/runtime/scheme.go:111"`},
		"metrics": {setup: copier, opt: func(o *manager.Options) { o.Metrics.BindAddress = ":8080" }, want: `c0: sim.Manager: option Metrics.BindAddress ":8080": a listening socket never blocks durably, so virtual time could not pass; leave it "0"`},
		"probes":  {setup: copier, opt: func(o *manager.Options) { o.HealthProbeBindAddress = ":8081" }, want: `c0: sim.Manager: option HealthProbeBindAddress ":8081": a listening socket never blocks durably, so virtual time could not pass; leave it "0"`},
		"no election": {setup: copier, opt: func(o *manager.Options) { o.LeaderElection = false },
			want: "c0: sim.Manager: option LeaderElection is false: every candidate of the run takes part in the election"},
	} {
		t.Run(name, func(t *testing.T) {
			var rep *sim.Report
			ok := asTest(func(t *testing.T) {
				rep = sim.Test(t, sim.Options{Seed: 1, Candidates: 1, Run: sim.Manager(tc.setup, tc.opt)}, func(c *sim.Cluster) { c.Advance(time.Second) })
			})
			if ok {
				t.Fatal("the run passed")
			}
			if rep == nil || len(rep.Violations) != 1 {
				t.Fatalf("violations = %v, want one", rep)
			}
			// A violation is "at OFFSET: MESSAGE"; the offset is the
			// process's start, a few drawn milliseconds into the run.
			at, msg, _ := strings.Cut(rep.Violations[0], ": ")
			if !strings.HasPrefix(at, "at 0.00") || msg != tc.want {
				t.Errorf("violation = %q, want %q at the process's start", rep.Violations[0], tc.want)
			}
		})
	}
}

// A rolling update replaces the three managers one by one with new
// identities; with ReleaseOnCancel each stopped leader hands over within
// client-go's handover bound, nothing is written stale, and the new
// processes go on reconciling.
func TestManagerRollingUpdate(t *testing.T) {
	opts := sim.Options{Seed: 11, Candidates: 3, ReleaseOnCancel: true, Run: sim.Manager(copier)}
	rep := sim.Test(t, opts, func(c *sim.Cluster) {
		setInput(c, "1")
		c.AwaitLeader(ld + 2*rp)
		c.Advance(5 * time.Second)
		c.RollingUpdate(10 * time.Second)
		setInput(c, "2")
		c.AwaitLeader(ld + 2*rp)
		c.Advance(5 * time.Second)
		if !outputIs(c, "2") {
			t.Errorf("no new process reconciled the change made after the update")
		}
	})
	last := rep.Terms[len(rep.Terms)-1]
	if !strings.HasSuffix(last.Identity, "-2") || last.EndCause != sim.EndRunning {
		t.Errorf("the last term is %+v, want a new process (identity ending -2) still leading", last)
	}
	handover := scenarios.BoundsFor(rep.Options).Handover()
	for _, f := range rep.Failovers {
		if f.Cause != sim.EndStop || !handover.Contains(f.Duration) {
			t.Errorf("failover %+v: want a stop handed over within %v", f, handover)
		}
	}
	if len(rep.Failovers) == 0 || len(rep.Overlaps) != 0 || len(rep.StaleWrites) != 0 {
		t.Errorf("failovers %v, overlaps %v, stale writes %v: want handovers only", rep.Failovers, rep.Overlaps, rep.StaleWrites)
	}
}

// With Options.Restart, a manager that exits after losing its lease is
// started again as the kubelet would: 10 s after the first exit, 20 s after
// the second.
func TestManagerRestartBackOff(t *testing.T) {
	rep := sim.Test(t, sim.Options{Seed: 2, Candidates: 1, Restart: true, Run: sim.Manager(copier)}, func(c *sim.Cluster) {
		for range 2 {
			c.AwaitLeader(ld + 2*rp + sim.RestartBackOffMax)
			c.Partition("c0")
			c.Advance(rd + 2*rp)
			c.Heal("c0")
		}
		c.Advance(sim.RestartBackOffMax)
	})
	var exits, starts []time.Duration
	for _, e := range rep.Trace {
		switch {
		case e.Who == "c0" && strings.HasPrefix(e.What, "process exited; restarting in "):
			exits = append(exits, e.At)
		case e.Who == "c0" && strings.HasPrefix(e.What, "process started"):
			starts = append(starts, e.At)
		}
	}
	want := []time.Duration{sim.RestartBackOff, 2 * sim.RestartBackOff}
	if len(exits) != 2 || len(starts) != 3 {
		t.Fatalf("exits at %v, starts at %v: want 2 exits and 3 starts\n%s", exits, starts, rep.TraceText())
	}
	for i, w := range want {
		if got := starts[i+1] - exits[i]; got != w {
			t.Errorf("restart %d came %v after the exit, want %v", i+1, got, w)
		}
	}
}

// flooder is a runnable of every manager, leader or not, that lists
// ConfigMaps every 50 ms from workers goroutines through the candidate's own
// API reader: the list traffic of a busy controller.
type flooder struct {
	mgr     manager.Manager
	workers int
}

func (f flooder) NeedLeaderElection() bool { return false }

func (f flooder) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range f.workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				var list corev1.ConfigMapList
				_ = f.mgr.GetAPIReader().List(ctx, &list)
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	return nil
}

// An overloaded API server (one seat, a second per request, a queue of 30 s)
// behind a flood of lists: the lease renewals wait behind the flood longer
// than client-go's client timeout, fail, and the leader loses its lease
// without any crash (kubernetes/kubernetes#49472); some requests are turned
// away with 429. The same flood on a server without the limit loses nothing.
func TestManagerOverloadDelaysRenewals(t *testing.T) {
	flooding := func(mgr manager.Manager) error {
		if err := copier(mgr); err != nil {
			return err
		}
		return mgr.Add(flooder{mgr: mgr, workers: 2})
	}
	run := func(t *testing.T, overload bool) *sim.Report {
		return sim.Test(t, sim.Options{Seed: 4, Candidates: 3, Run: sim.Manager(flooding)}, func(c *sim.Cluster) {
			c.AwaitLeader(ld + 2*rp)
			if overload {
				c.Overload(1, time.Second, 30*time.Second, 0)
			}
			c.Advance(time.Minute)
		})
	}
	t.Run("overloaded", func(t *testing.T) {
		rep := run(t, true)
		if len(rep.LostWithoutCrash) == 0 {
			t.Errorf("no leadership lost under the flood; terms:\n%v", rep.Terms)
		}
		if rep.Requests.Timeouts == 0 {
			t.Errorf("no request timed out in the queue")
		}
	})
	t.Run("not overloaded", func(t *testing.T) {
		rep := run(t, false)
		if len(rep.LostWithoutCrash) != 0 || len(rep.Terms) != 1 {
			t.Errorf("leadership changed without overload: %v", rep.Terms)
		}
	})
}

// After an API server restart every watch breaks: the leader's informer (the
// only one: followers start no controller) watches again from scratch, and
// the leader goes on reconciling.
func TestManagerAPIRestart(t *testing.T) {
	rep := sim.Test(t, sim.Options{Seed: 6, Candidates: 3, Run: sim.Manager(copier)}, func(c *sim.Cluster) {
		setInput(c, "1")
		c.AwaitLeader(ld + 2*rp)
		c.Advance(5 * time.Second)
		watches := c.Report().Requests.ByVerb[sim.VerbWatch]
		c.RestartAPIServer()
		c.Advance(10 * time.Second)
		if again := c.Report().Requests.ByVerb[sim.VerbWatch] - watches; again < 1 {
			t.Errorf("no watch after the restart: the informer did not watch again")
		}
		setInput(c, "2")
		c.Advance(5 * time.Second)
		if !outputIs(c, "2") {
			t.Errorf("the leader did not reconcile after the API server restart")
		}
	})
	if len(rep.Terms) != 1 {
		t.Errorf("terms %v: the restart of the API server changed the leader", rep.Terms)
	}
}

// heartbeat is a runnable of every replica, leader or not: it writes its own
// ConfigMap every 5 s, with the context it was started with or, when
// detached, with a context of its own.
type heartbeat struct {
	mgr      manager.Manager
	id       int64 // which process's
	detached bool
}

func (h heartbeat) NeedLeaderElection() bool { return false }

func (h heartbeat) Start(ctx context.Context) error {
	writeCtx := ctx
	if h.detached {
		writeCtx = context.Background()
	}
	name := "heartbeat-" + strconv.FormatInt(h.id, 10)
	for i := 0; ; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
		_, _ = controllerutil.CreateOrUpdate(writeCtx, h.mgr.GetClient(), cm, func() error {
			cm.Data = map[string]string{"beat": strconv.Itoa(i)}
			return nil
		})
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
}

// The writes of a runnable that does not need leader election are exempt
// from staleness: a follower's heartbeat is not a stale write. A write such
// a runnable makes with a context of its own cannot be attributed to it; it
// is stale unless its object is named in Options.WritesWithoutLeadership.
func TestManagerWritesWithoutLeadership(t *testing.T) {
	run := func(detached bool, allowed []string) *sim.Report {
		var processes atomic.Int64
		setup := func(mgr manager.Manager) error {
			if err := copier(mgr); err != nil {
				return err
			}
			return mgr.Add(heartbeat{mgr: mgr, id: processes.Add(1), detached: detached})
		}
		return sim.Test(t, sim.Options{Seed: 8, Candidates: 3, WritesWithoutLeadership: allowed, Run: sim.Manager(setup)}, func(c *sim.Cluster) {
			c.AwaitLeader(ld + 2*rp)
			c.Advance(30 * time.Second)
		})
	}
	followerBeats := func(rep *sim.Report) (exempt, all int) {
		for _, w := range rep.Writes {
			if strings.HasPrefix(w.Name, "heartbeat-") && !w.LeaderAtSend {
				all++
				if w.Exempt != "" {
					exempt++
				}
			}
		}
		return exempt, all
	}
	t.Run("attributed to the runnable", func(t *testing.T) {
		rep := run(false, nil)
		if exempt, all := followerBeats(rep); all == 0 || exempt != all || len(rep.StaleWrites) != 0 {
			t.Errorf("%d of %d follower heartbeats exempt, stale writes %v: want all exempt, none stale", exempt, all, rep.StaleWrites)
		}
	})
	t.Run("detached, not named", func(t *testing.T) {
		rep := run(true, nil)
		if _, all := followerBeats(rep); all == 0 || len(rep.StaleWrites) < all {
			t.Errorf("%d follower heartbeats, stale writes %v: want each one stale (%s)", all, rep.StaleWrites, sim.StaleNeverLed)
		}
	})
	t.Run("detached, named", func(t *testing.T) {
		rep := run(true, []string{"configmaps default/heartbeat-*"})
		if exempt, all := followerBeats(rep); all == 0 || exempt != all || len(rep.StaleWrites) != 0 {
			t.Errorf("%d of %d follower heartbeats exempt, stale writes %v: want all exempt, none stale", exempt, all, rep.StaleWrites)
		}
	})
}

// A dry-run write changes nothing, so the report does not count it: neither
// a candidate's (by its dryRun parameter, or for a delete by its options)
// nor the outside client's.
func TestDryRunWritesAreNotWrites(t *testing.T) {
	dry := []string{metav1.DryRunAll}
	opts := sim.Options{Seed: 1, Candidates: 1}
	opts.Run = func(ctx context.Context, p *sim.Process) {
		cms := kubernetes.NewForConfigOrDie(p.Config).CoreV1().ConfigMaps("default")
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept", Namespace: "default"}}
		_, _ = cms.Create(ctx, cm, metav1.CreateOptions{DryRun: dry})
		_, _ = cms.Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "real", Namespace: "default"}}, metav1.UpdateOptions{DryRun: dry})
		_ = cms.Delete(ctx, "real", metav1.DeleteOptions{DryRun: dry})
		_, _ = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "written", Namespace: "default"}}, metav1.CreateOptions{})
		<-ctx.Done()
	}
	rep := sim.Test(t, opts, func(c *sim.Cluster) {
		ctx := context.Background()
		if err := c.Client().Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "real", Namespace: "default"}}); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second)
		if err := c.Client().Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "real", Namespace: "default"}}, client.DryRunAll); err != nil {
			t.Fatal(err)
		}
	})
	var got []string
	for _, w := range rep.Writes {
		if w.Kind == sim.WriteData {
			got = append(got, w.Candidate+" "+w.Verb+" "+w.Name)
		}
	}
	if want := []string{"outside create real", "c0 create written"}; !slices.Equal(got, want) {
		t.Errorf("data writes %q, want %q", got, want)
	}
}
