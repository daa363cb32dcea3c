package sim_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/klog/v2"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/leaderlab/leaderlab/sim"
)

func TestErrorsShorterThanRenewDeadlineKeepTheLeader(t *testing.T) {
	for _, code := range []int{500, 503, 429} {
		t.Run(strings.TrimSpace(http(code)), func(t *testing.T) {
			rep := sim.Test(t, sim.Options{Seed: 3, Candidates: 3, Faults: []sim.Fault{
				{Kind: sim.FaultErrors, At: 20 * time.Second, For: rd / 2, Code: code, Rate: 1, RetryAfter: time.Second},
			}}, func(c *sim.Cluster) { c.Advance(time.Minute) })
			if len(rep.Terms) != 1 {
				t.Errorf("errors for RD/2 cost the leader its lease\n%s", rep.Text())
			}
			if rep.Requests.Injected == 0 {
				t.Errorf("no injected errors counted")
			}
		})
	}
}

func http(code int) string { return map[int]string{500: "500", 503: "503", 429: "429"}[code] }

func TestLongOutageAndBlackHoleDepose(t *testing.T) {
	for _, kind := range []sim.FaultKind{sim.FaultOutage, sim.FaultBlackHole} {
		t.Run(string(kind), func(t *testing.T) {
			rep := sim.Test(t, sim.Options{Seed: 2, Candidates: 3, Faults: []sim.Fault{
				{Kind: kind, At: 20 * time.Second, For: ld + rd},
			}}, func(c *sim.Cluster) {
				c.Advance(20*time.Second + rp + rd + rt)
				if l := c.Leaders(); len(l) != 0 {
					t.Errorf("leaders %v still acting RP+RD after the API went away", l)
				}
				c.AwaitLeader(ld + rd + ld)
			})
			if rep.Terms[0].EndCause != "lost" || len(rep.Overlaps) != 0 {
				t.Errorf("want the leader deposed without overlap\n%s", rep.Text())
			}
			if kind == sim.FaultOutage && rep.Requests.Refused == 0 || kind == sim.FaultBlackHole && rep.Requests.Dropped == 0 {
				t.Errorf("fault left no trace in the request stats: %+v", rep.Requests)
			}
			if len(rep.Faults) != 1 || rep.Faults[0].End-rep.Faults[0].Start != ld+rd {
				t.Errorf("fault spans %+v, want one of %v", rep.Faults, ld+rd)
			}
		})
	}
}

func TestForeignWriters(t *testing.T) {
	t.Run("deleted lease is recreated by its leader", func(t *testing.T) {
		rep := sim.Test(t, sim.Options{Seed: 4, Candidates: 3}, func(c *sim.Cluster) {
			leader := c.AwaitLeader(ld)
			c.Advance(10 * time.Second)
			c.DeleteLease()
			if h := c.Holder(); h != "" {
				t.Errorf("holder after delete = %q", h)
			}
			c.Advance(rp + rt)
			if h := c.Holder(); h != leader {
				t.Errorf("holder %q, want the leader %s to recreate the lease at its next renew", h, leader)
			}
		})
		if len(rep.Terms) != 1 {
			t.Errorf("leader lost its term to a delete\n%s", rep.Text())
		}
	})
	t.Run("overwritten lease deposes the leader", func(t *testing.T) {
		var at time.Duration
		rep := sim.Test(t, sim.Options{Seed: 4, Candidates: 3}, func(c *sim.Cluster) {
			c.AwaitLeader(ld)
			c.Advance(10 * time.Second)
			at = c.Now()
			c.OverwriteLease("intruder")
			c.Advance(rp + rd + rt)
			c.AwaitLeader(ld + 3*rp)
		})
		first := rep.Terms[0]
		if first.EndCause != "lost" || first.End-at > rp+rd+rt {
			t.Errorf("first term %+v, want lost within RP+RD of the overwrite at %v", first, at)
		}
		found := false
		for _, h := range rep.Holders {
			found = found || h.Holder == "intruder"
		}
		if !found {
			t.Errorf("holders %+v lack the intruder", rep.Holders)
		}
	})
}

func TestRestartWithNewIdentity(t *testing.T) {
	rep := sim.Test(t, sim.Options{Seed: 5, Candidates: 1}, func(c *sim.Cluster) {
		c.Crash(c.AwaitLeader(ld))
		c.StartAs("c0", "c0-replacement")
		// The old identity's lease must expire first: LD after the
		// replacement first sees it.
		c.AwaitLeader(ld + 3*rp)
		if h := c.Holder(); h != "c0-replacement" {
			t.Errorf("holder %q, want the new identity", h)
		}
	})
	if len(rep.Terms) != 2 || rep.Terms[1].Identity != "c0-replacement" || rep.Terms[0].EndCause != "crash" {
		t.Errorf("terms %+v", rep.Terms)
	}
}

// A downstream project's own leader-elected code, wired as in production.
func TestBringYourOwnCandidate(t *testing.T) {
	run := func(ctx context.Context, p *sim.Process) {
		client, err := kubernetes.NewForConfig(p.Config)
		if err != nil {
			klog.FromContext(ctx).Error(err, "no client")
			return
		}
		cfg := p.ElectionConfig(leaderelection.LeaderCallbacks{OnStartedLeading: func(ctx context.Context) {
			klog.FromContext(ctx).Info("reconciler started", "identity", p.Identity)
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: "default"}, Data: map[string]string{"leader": p.Identity}}
			if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				cur, getErr := client.CoreV1().ConfigMaps("default").Get(ctx, "owner", metav1.GetOptions{})
				if getErr != nil {
					return
				}
				cur.Data = cm.Data
				_, _ = client.CoreV1().ConfigMaps("default").Update(ctx, cur, metav1.UpdateOptions{})
			}
		}})
		le, err := leaderelection.NewLeaderElector(cfg)
		if err != nil {
			return
		}
		le.Run(ctx)
	}
	rep := sim.Test(t, sim.Options{Seed: 6, Candidates: 3, Run: run}, func(c *sim.Cluster) {
		first := c.AwaitLeader(ld)
		c.Advance(time.Second)
		checkOwner(t, c, first)
		c.Crash(first)
		second := c.AwaitLeader(ld + 5*rp)
		c.Advance(time.Second)
		checkOwner(t, c, second)
	})
	if !strings.Contains(rep.TraceText(), "log: reconciler started identity=") {
		t.Errorf("the user's klog lines are not in the trace")
	}
}

func checkOwner(t *testing.T, c *sim.Cluster, want string) {
	t.Helper()
	obj, err := c.Object(corev1.SchemeGroupVersion.WithResource("configmaps"), "default", "owner")
	if err != nil {
		t.Fatalf("configmap: %v", err)
	}
	if got := obj.(*corev1.ConfigMap).Data["leader"]; got != want {
		t.Errorf("configmap names %q, want %q", got, want)
	}
}

// Failures must say how to replay. The failing runs happen in a child process
// (this test binary, selected by an environment variable) so that their
// failure can be inspected.
func TestFailuresPrintSeedTraceAndReplay(t *testing.T) {
	for name, want := range map[string][]string{
		"await": {"sim: no leader within 30s", "seed 42", "last trace lines", "replay: go test ./sim -count=1 -run '^TestFailingChild$'\n", "refused: API outage"},
		"split": {"invariant violation", "split brain", "replay: go test ./sim -count=1 -run '^TestFailingChild$'\n", "last trace lines"},
		// A bad fault from the body fails the test with Validate's message,
		// never a panic that aborts the test binary.
		"unknown": {"    faults_test.go:", `sim: crash: unknown candidate "c9" (candidates are c0..c1)` + "\n", "--- FAIL: TestFailingChild"},
		"latency": {`sim: latency: Request (-1s) must not be negative` + "\n", "--- FAIL: TestFailingChild"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFailingChild$", "-test.v")
			cmd.Env = append(os.Environ(), "SIM_FAILING_CHILD="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("child passed:\n%s", out)
			}
			if strings.Contains(string(out), "panic:") {
				t.Errorf("child panicked:\n%s", out)
			}
			for _, w := range want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// runChild runs TestFailingChild's case name in a child process and returns
// its output; the child must fail.
func runChild(t *testing.T, name string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFailingChild$", "-test.v")
	cmd.Env = append(os.Environ(), "SIM_FAILING_CHILD="+name)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child passed:\n%s", out)
	}
	return string(out)
}

func TestFailingChild(t *testing.T) {
	switch os.Getenv("SIM_FAILING_CHILD") {
	case "await":
		sim.Test(t, sim.Options{Seed: 42, Candidates: 2, Faults: []sim.Fault{{Kind: sim.FaultOutage}}}, func(c *sim.Cluster) {
			c.AwaitLeader(30 * time.Second)
		})
	case "split":
		// The ReleaseOnCancel + partition scenario of
		// TestReleaseOnCancelPartitionOverlap, without AllowOverlap; that
		// test shows that some of these seeds overlap.
		for _, seed := range seeds {
			sim.Test(t, sim.Options{Seed: seed, Candidates: 3, ReleaseOnCancel: true}, func(c *sim.Cluster) {
				leader := c.AwaitLeader(ld)
				c.Advance(20*time.Second + time.Duration(seed)*271*time.Millisecond)
				c.Partition(leader)
				c.Advance(ld + rd + 5*rp)
			})
		}
	case "unknown":
		sim.Test(t, sim.Options{Seed: 1, Candidates: 2}, func(c *sim.Cluster) { c.Crash("c9") })
	case "stuck":
		opts := sim.Options{Seed: 1, Candidates: 2}
		opts.Run = func(ctx context.Context, p *sim.Process) {
			if p.Name == "c1" {
				waitForever(make(chan struct{}))
			}
			<-ctx.Done()
		}
		sim.Test(t, opts, func(c *sim.Cluster) { c.Advance(time.Second) })
	case "setup-fails-then-await":
		sim.Test(t, sim.Options{Seed: 1, Candidates: 1, Run: sim.Manager(func(manager.Manager) error { return errors.New("no CRD") })},
			func(c *sim.Cluster) { c.AwaitLeader(time.Minute) })
	case "setup-blocks":
		opts := sim.Options{Seed: 1, Candidates: 1, Run: sim.Manager(func(manager.Manager) error {
			waitForever(make(chan struct{}))
			return nil
		})}
		sim.Test(t, opts, func(c *sim.Cluster) { c.Advance(time.Second) })
	case "unserved":
		opts := sim.Options{Seed: 1, Candidates: 1}
		opts.Run = func(ctx context.Context, p *sim.Process) {
			rc, err := rest.UnversionedRESTClientFor(&rest.Config{Host: p.Config.Host, Transport: p.Config.Transport,
				ContentConfig: rest.ContentConfig{NegotiatedSerializer: scheme.Codecs.WithoutConversion()}})
			if err == nil {
				_ = rc.Get().AbsPath("/api/v1/namespaces/default/pods/p/log").Do(ctx).Error()
			}
			<-ctx.Done()
		}
		sim.Test(t, opts, func(c *sim.Cluster) { c.Advance(time.Second) })
	case "server-error":
		// kube-apiserver answers a scale read of a custom resource whose
		// spec replicas are missing with 500; the simulated server does too,
		// and says so.
		opts := sim.Options{Seed: 1, Candidates: 1, CRDs: []*apiextensionsv1.CustomResourceDefinition{scaledWidgets()}}
		opts.Run = func(ctx context.Context, p *sim.Process) {
			rc, err := rest.UnversionedRESTClientFor(&rest.Config{Host: p.Config.Host, Transport: p.Config.Transport,
				ContentConfig: rest.ContentConfig{NegotiatedSerializer: scheme.Codecs.WithoutConversion()}})
			if err == nil {
				_ = rc.Get().AbsPath("/apis/example.com/v1/namespaces/default/widgets/w/scale").Do(ctx).Error()
			}
			<-ctx.Done()
		}
		sim.Test(t, opts, func(c *sim.Cluster) {
			w := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "example.com/v1", "kind": "Widget",
				"metadata": map[string]any{"name": "w", "namespace": "default"}}}
			if err := c.AddObjects(w); err != nil {
				t.Fatal(err)
			}
			c.Advance(time.Second)
		})
	case "bad-crd":
		crd := scaledWidgets()
		crd.Spec.Versions[0].Storage = false
		sim.Test(t, sim.Options{Seed: 1, Candidates: 1, CRDs: []*apiextensionsv1.CustomResourceDefinition{crd}}, func(c *sim.Cluster) {})
	case "latency":
		sim.Test(t, sim.Options{Seed: 1, Candidates: 2}, func(c *sim.Cluster) {
			c.SetLatency("", "", sim.Fixed(-time.Second), sim.Dist{})
		})
	default:
		// Only meaningful as the child of TestFailuresPrintSeedTraceAndReplay;
		// on its own it checks that a fault-free run has no violations.
		rep := sim.Test(t, sim.Options{Seed: 42, Candidates: 2}, func(c *sim.Cluster) { c.Advance(time.Minute) })
		if len(rep.Violations) != 0 {
			t.Errorf("violations: %v", rep.Violations)
		}
	}
}

// scaledWidgets is a CRD of Widgets with a scale subresource on
// .spec.replicas and no schema beyond that.
func scaledWidgets() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: "Widget", Plural: "widgets"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec":   {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"replicas": {Type: "integer"}}},
						"status": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"replicas": {Type: "integer"}}},
					},
				}},
				Subresources: &apiextensionsv1.CustomResourceSubresources{Scale: &apiextensionsv1.CustomResourceSubresourceScale{
					SpecReplicasPath: ".spec.replicas", StatusReplicasPath: ".status.replicas",
				}},
			}},
		},
	}
}

// waitForever is a Run's bug: it waits on a channel nobody closes.
func waitForever(never chan struct{}) { <-never }

// A Run that does not return after its context ends, or a manager's setup
// that blocks, is named with where it is blocked, before testing/synctest's
// own deadlock report.
func TestStuckRunIsNamed(t *testing.T) {
	for child, cand := range map[string]string{"stuck": "c1", "setup-blocks": "c0"} {
		t.Run(child, func(t *testing.T) {
			out := runChild(t, child)
			want := "sim: the Run of " + cand + " (start 1, identity " + cand + ") did not return within 30s after its context ended; its goroutines are blocked here:\ngoroutine "
			if !strings.Contains(out, want) {
				t.Fatalf("output lacks %q:\n%s", want, out)
			}
			// The first goroutine shown is the stuck one, in waitForever.
			report := out[strings.Index(out, want):]
			report = report[:strings.Index(report, "\n\n")+1]
			if !strings.Contains(report, "sim_test.waitForever(") {
				t.Errorf("the report does not show %s's goroutine in waitForever:\n%s", cand, report)
			}
			if strings.Contains(out, "the Run of c0") && cand != "c0" {
				t.Errorf("c0, whose Run returned, is reported stuck:\n%s", out)
			}
		})
	}
}

// A fault held for a term's end applies at the instant the term ends, and
// its span names its place in the plan.
func TestFaultAfterTermEnds(t *testing.T) {
	opts := sim.Options{Seed: 4, Candidates: 3, Faults: []sim.Fault{
		{Kind: sim.FaultAPIRestart, At: time.Second, AfterTermEnds: 1},
		{Kind: sim.FaultOutage, At: time.Second, AfterTermEnds: 2, For: time.Second},
	}}
	rep := sim.Test(t, opts, func(c *sim.Cluster) {
		first := c.AwaitLeader(time.Minute)
		c.Advance(10 * time.Second)
		c.Crash(first)
		c.Advance(time.Minute)
		c.Crash(c.AwaitLeader(time.Minute))
		c.Advance(time.Minute)
	})
	var ends []time.Duration
	for _, term := range rep.Terms {
		if term.EndCause != sim.EndRunning {
			ends = append(ends, term.End)
		}
	}
	if len(ends) < 2 {
		t.Fatalf("terms %+v, want two that ended", rep.Terms)
	}
	var restart, outage *sim.FaultSpan
	for i, f := range rep.Faults {
		switch {
		case f.Plan == 1:
			restart = &rep.Faults[i]
		case f.Plan == 2:
			outage = &rep.Faults[i]
		case f.Kind != sim.FaultCrash || f.Plan != 0:
			t.Errorf("span %+v: want only the plan's two faults and the body's crashes (Plan 0)", f)
		}
	}
	if restart == nil || restart.Kind != sim.FaultAPIRestart || restart.Start != ends[0] {
		t.Errorf("API restart %+v, want it at the first term's end %v", restart, ends[0])
	}
	if outage == nil || outage.Kind != sim.FaultOutage || outage.Start != ends[1] || outage.Detail != "for=1s" {
		t.Errorf("outage %+v, want it at the second term's end %v", outage, ends[1])
	}
}

// RollingUpdate gives a stopped process TerminationGrace to exit: one that
// exits at its last instant (shutdown work that takes the whole grace, as a
// manager's 30 s shutdown timeout does) has exited, every time; one that
// takes longer is crashed, as the kubelet kills it.
func TestRollingUpdateGrace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		linger  time.Duration
		crashed bool
	}{
		{"exits at the grace's last instant", sim.TerminationGrace, false},
		{"outlasts the grace", sim.TerminationGrace + time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(ctx context.Context, p *sim.Process) {
				leaderelection.RunOrDie(ctx, p.ElectionConfig(leaderelection.LeaderCallbacks{OnStartedLeading: func(context.Context) {}}))
				if p.Identity == "c0" { // the first start; RollingUpdate's is c0-2
					time.Sleep(tc.linger) // shutdown work that ignores the context
				}
			}
			for range 5 {
				rep := sim.Test(t, sim.Options{Seed: 1, Candidates: 1, Run: run}, func(c *sim.Cluster) {
					c.AwaitLeader(time.Minute)
					c.RollingUpdate(time.Second)
				})
				crashes := 0
				for _, f := range rep.Faults {
					if f.Kind == sim.FaultCrash {
						crashes++
					}
				}
				said := strings.Contains(rep.TraceText(), "c0 did not exit within 30s of its stop")
				if (crashes == 1) != tc.crashed || said != tc.crashed || crashes > 1 {
					t.Fatalf("%d crash(es), said it did not exit: %v; want crashed %v:\n%s", crashes, said, tc.crashed, rep.TraceText())
				}
			}
		})
	}
}

// The end of a run waits ExitGrace for every Run to return: one that
// returns at the grace's last instant has returned, every time.
func TestRunReturningAtTheExitGraceIsNotStuck(t *testing.T) {
	run := func(ctx context.Context, p *sim.Process) {
		leaderelection.RunOrDie(ctx, p.ElectionConfig(leaderelection.LeaderCallbacks{OnStartedLeading: func(context.Context) {}}))
		time.Sleep(sim.ExitGrace) // shutdown work that ignores the context
	}
	for range 5 {
		sim.Test(t, sim.Options{Seed: 1, Candidates: 2, Run: run}, func(c *sim.Cluster) {
			c.AwaitLeader(time.Minute)
			c.Advance(time.Second)
		})
	}
}
