package sim_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	k8smetrics "k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/leaderlab/leaderlab/sim"
)

// probeCounters are collectors a candidate registers at its start, as
// controllers do: the same collector objects in every process of every run,
// on controller-runtime's registry, prometheus' default one and
// component-base's legacyregistry (as kube-controller-manager's ReplicaSet
// controller does).
var (
	probeCR     = prometheus.NewCounter(prometheus.CounterOpts{Name: "leaderlab_probe_cr_total", Help: "probe"})
	probeProm   = prometheus.NewCounter(prometheus.CounterOpts{Name: "leaderlab_probe_prom_total", Help: "probe"})
	probeLegacy = k8smetrics.NewCounter(&k8smetrics.CounterOpts{Name: "leaderlab_probe_legacy_total", Help: "probe"})
)

// registerProbes registers the probe collectors and logs what each
// registration answered, as a controller logs "unable to register metrics".
func registerProbes(logger klog.Logger) {
	outcome := func(err error) string {
		if err != nil {
			return err.Error()
		}
		return "ok"
	}
	logger.Info("registered metrics",
		"controller-runtime", outcome(crmetrics.Registry.Register(probeCR)),
		"prometheus", outcome(prometheus.Register(probeProm)),
		"legacyregistry", outcome(legacyregistry.Register(probeLegacy)))
}

// probeCandidate is a candidate that touches what processes share in one
// test binary: it registers the probe collectors, logs through klog's global
// logger and through utilruntime.HandleError from a goroutine of its own,
// sends concurrent requests at one instant from several goroutines (each
// draws its latency), then runs client-go's elector.
func probeCandidate(ctx context.Context, p *sim.Process) {
	registerProbes(klog.FromContext(ctx))
	klog.Infof("probe %s through klog's global logger", p.Name)
	cs := kubernetes.NewForConfigOrDie(p.Config)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			_, err := cs.CoreV1().ConfigMaps("default").Get(ctx, fmt.Sprintf("probe-%d", i), metav1.GetOptions{})
			if i == 0 && apierrors.IsNotFound(err) {
				utilruntime.HandleError(fmt.Errorf("probe %s: configmap probe-0 not found", p.Name))
			}
		})
	}
	wg.Wait()
	runElector(ctx, p)
}

// runElector runs client-go's elector as the built-in candidate does, joining
// the election again after a loss.
func runElector(ctx context.Context, p *sim.Process) {
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(p.ElectionConfig(leaderelection.LeaderCallbacks{}))
		if err != nil {
			panic(err)
		}
		le.Run(ctx)
	}
}

// probeRun is the run compared alone and after other runs: three probe
// candidates, every request traced, a crash-failover.
func probeRun(t *testing.T, seed int64) (*sim.Report, string) {
	t.Helper()
	rep := sim.Test(t, sim.Options{Seed: seed, Candidates: 3, TraceRequests: true, Run: probeCandidate}, func(c *sim.Cluster) {
		c.Crash(c.AwaitLeader(ld))
		c.AwaitLeader(time.Minute)
		c.Advance(10 * time.Second)
	})
	js, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return rep, rep.TraceText() + "\n--- JSON report\n" + string(js)
}

// registeringCopier is the copier operator whose setup also registers
// collectors of its own on controller-runtime's registry and on prometheus'
// default one, logging a failure as controllers do.
func registeringCopier(mgr manager.Manager) error {
	log := mgr.GetLogger()
	for _, reg := range []prometheus.Registerer{crmetrics.Registry, prometheus.DefaultRegisterer} {
		c := prometheus.NewGauge(prometheus.GaugeOpts{Name: "leaderlab_copier_up", Help: "copier"})
		if err := reg.Register(c); err != nil {
			log.Error(err, "unable to register metrics")
		}
	}
	return copier(mgr)
}

// replayAloneEnv names the file a re-executed test binary writes the probe
// run to, run alone in a fresh process.
const replayAloneEnv = "LEADERLAB_REPLAY_ALONE"

// A run replays byte for byte, trace and JSON report, whether it runs alone
// in a fresh process or after other runs in the same one: runs of a manager
// whose controller registers collectors and writes, and of the same
// candidates with another seed. What a process keeps between runs (metrics
// registries, klog's global logger, apimachinery's error handlers) must not
// reach the run, and a candidate's concurrent requests must draw the same
// latencies whichever of its goroutines runs first.
func TestReplayAloneAndAfterOtherRuns(t *testing.T) {
	const seed = 11
	if out := os.Getenv(replayAloneEnv); out != "" {
		_, text := probeRun(t, seed)
		if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}

	out := filepath.Join(t.TempDir(), "alone.txt")
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplayAloneAndAfterOtherRuns$", "-test.count=1")
	cmd.Env = append(os.Environ(), replayAloneEnv+"="+out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the run alone, in a fresh process: %v\n%s", err, msg)
	}
	alone, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	for _, s := range []int64{5, 6} {
		sim.Test(t, sim.Options{Seed: s, Candidates: 3, Run: sim.Manager(registeringCopier)}, func(c *sim.Cluster) {
			setInput(c, "1")
			c.Crash(c.AwaitLeader(ld + 2*rp))
			setInput(c, "2")
			c.AwaitLeader(time.Minute)
			c.Advance(5 * time.Second)
			if !outputIs(c, "2") {
				t.Errorf("seed %d: the copier did not write ConfigMap out", s)
			}
		})
	}
	probeRun(t, seed+1)
	rep, after := probeRun(t, seed)

	if !rep.ReplayExact {
		t.Errorf("the run claims inexact replay: %s", rep.ReplayNote)
	}
	for _, want := range []string{
		"c0   log: registered metrics controller-runtime=ok prometheus=ok legacyregistry=ok",
		"c1   log: registered metrics controller-runtime=ok prometheus=ok legacyregistry=ok",
		"c0   log: probe c0 through klog's global logger",
		`c2   log: Unhandled Error err="probe c2: configmap probe-0 not found"`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("the trace lacks %q", want)
		}
	}
	if string(alone) != after {
		t.Errorf("alone and after other runs, the same seed gave different runs:\n%s", firstDifference("alone", string(alone), "after other runs", after))
	}
}

// firstDifference shows the first line where a and b differ, with a few
// lines before it.
func firstDifference(aName, a, bName, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			from := max(0, i-5)
			return fmt.Sprintf("line %d\n--- %s\n%s\n--- %s\n%s", i+1,
				aName, strings.Join(al[from:min(len(al), i+1)], "\n"), bName, strings.Join(bl[from:min(len(bl), i+1)], "\n"))
		}
	}
	return "no difference"
}

// burstCandidate sends eight requests at one instant, each from a goroutine
// of its own, then runs client-go's elector.
func burstCandidate(ctx context.Context, p *sim.Process) {
	cs := kubernetes.NewForConfigOrDie(p.Config)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, _ = cs.CoreV1().ConfigMaps("default").Get(ctx, fmt.Sprintf("burst-%d", i), metav1.GetOptions{})
		})
	}
	wg.Wait()
	runElector(ctx, p)
}

// A candidate's concurrent requests draw their latencies from the requests
// themselves, not from one stream in the order its goroutines happen to run:
// the same seed gives the same sent and applied instants every time.
func TestConcurrentRequestsReplay(t *testing.T) {
	run := func() (*sim.Report, string) {
		rep := sim.Test(t, sim.Options{Seed: 4, Candidates: 2, TraceRequests: true, Run: burstCandidate}, func(c *sim.Cluster) {
			c.AwaitLeader(ld)
		})
		js, err := rep.JSON()
		if err != nil {
			t.Fatal(err)
		}
		return rep, rep.TraceText() + "\n--- JSON report\n" + string(js)
	}
	rep, first := run()
	if n := strings.Count(rep.TraceText(), "get configmaps/burst-"); n != 16 {
		t.Fatalf("the trace shows %d of the 16 burst requests:\n%s", n, rep.TraceText())
	}
	for i := range 5 {
		if _, again := run(); again != first {
			t.Fatalf("run %d of the same seed differs:\n%s", i+2, firstDifference("first run", first, fmt.Sprintf("run %d", i+2), again))
		}
	}
}
