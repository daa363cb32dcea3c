package sim_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/leaderlab/leaderlab/sim"
)

// A candidate's informer lives on the simulated API server through its
// network: it syncs, sees objects written while it watches, loses its watch
// to a partition and, once healed, watches again and catches up; each
// event crossed the network one response leg after the server sent it.
func TestInformersWatchThroughTheNetwork(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]time.Duration{}
	var start time.Time
	opts := sim.Options{Seed: 1, Candidates: 1, Latency: sim.Fixed(5 * time.Millisecond)}
	opts.Run = func(ctx context.Context, p *sim.Process) {
		factory := informers.NewSharedInformerFactoryWithOptions(kubernetes.NewForConfigOrDie(p.Config), 0, informers.WithNamespace("default"))
		inf := factory.Core().V1().ConfigMaps().Informer()
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
			mu.Lock()
			seen[obj.(*corev1.ConfigMap).Name] = time.Since(start)
			mu.Unlock()
		}})
		factory.Start(ctx.Done())
		<-ctx.Done()
		factory.Shutdown()
	}
	add := func(c *sim.Cluster, name string) {
		if err := c.AddObjects(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}); err != nil {
			t.Fatal(err)
		}
	}
	var written = map[string]time.Duration{}
	rep := sim.Test(t, opts, func(c *sim.Cluster) {
		start = c.StartTime()
		c.Advance(time.Second)
		add(c, "a")
		written["a"] = c.Now()
		c.Advance(time.Second)
		c.Partition("c0")
		add(c, "b")
		written["b"] = c.Now()
		c.Advance(10 * time.Second)
		c.Heal("c0")
		c.Advance(sim.HealthCheck + 30*time.Second)
	})
	mu.Lock()
	defer mu.Unlock()
	if got, want := seen["a"]-written["a"], 5*time.Millisecond; got != want {
		t.Errorf("the informer saw a %v after it was written, want one response leg (%v)\n%s", got, want, rep.TraceText())
	}
	// The informer's watch again during the partition is lost; without a
	// deadline it fails at the connection health check, and the reflector
	// watches again after its backoff (at most 30s in client-go).
	healed := written["b"] + 10*time.Second
	if at, ok := seen["b"]; !ok || at < healed || at > healed+sim.HealthCheck+30*time.Second {
		t.Errorf("b, written during the partition, seen at %v (ok %v): want after the heal at %v, within the health check and a backoff\n%s", at, ok, healed, rep.TraceText())
	}
	if !strings.Contains(rep.TraceText(), "watch stream broken: c0 is partitioned") {
		t.Errorf("the partition did not break the watch:\n%s", rep.TraceText())
	}
}

// A server error the simulated server answers itself (not an injected
// fault) is an invariant violation with its message, and its trace line
// says what went wrong.
func TestServerErrorsAreViolations(t *testing.T) {
	out := runChild(t, "server-error")
	const msg = `500 InternalError: Internal error occurred: the spec replicas field ".spec.replicas" does not exist`
	for _, w := range []string{
		"the API server could not serve GET /apis/example.com/v1/namespaces/default/widgets/w/scale: " + msg,
		"get widgets/w/scale: " + msg,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// A CRD kube-apiserver would refuse fails the run before it starts, with
// kube-apiserver's message naming the CRD and the field.
func TestMalformedCRDFailsTheRun(t *testing.T) {
	out := runChild(t, "bad-crd")
	// The schema of the only version is hoisted to spec.validation in the
	// internal form kube-apiserver validates, hence "Schema":null.
	const want = ": sim: apiserver: " +
		`CustomResourceDefinition.apiextensions.k8s.io "widgets.example.com" is invalid: [` +
		`spec.versions: Invalid value: [{"Name":"v1","Served":true,"Storage":false,"Deprecated":false,"DeprecationWarning":null,"Schema":null,"Subresources":null,"AdditionalPrinterColumns":null,"SelectableFields":null}]: ` +
		`must have exactly one version marked as storage version, ` +
		`status.storedVersions: Invalid value: null: must have at least one stored version]` + "\n"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

// When no leader comes because a candidate's setup failed, the failure says
// so first, not only somewhere in the trace.
func TestAwaitLeaderNamesTheViolations(t *testing.T) {
	out := runChild(t, "setup-fails-then-await")
	// In this order, each on a line of its own (the test log indents them).
	head := strings.Index(out, "sim: no leader within 1m0s (time 1m0s, seed 1); invariant violations first:\n")
	cause := strings.Index(out, "s: c0: sim.Manager: setup: no CRD\n")
	trace := strings.Index(out, "last trace lines:\n")
	if head < 0 || cause < head || trace < cause {
		t.Errorf("the failure does not name the violation before the trace:\n%s", out)
	}
}

// A request the simulated server cannot serve is an invariant violation, so
// a test whose code never got an answer cannot pass quietly.
func TestUnservedRequestsAreViolations(t *testing.T) {
	out := runChild(t, "unserved")
	for _, w := range []string{"invariant violation", "the API server could not serve GET /api/v1/namespaces/default/pods/p/log: the server could not find the requested resource (GET /api/v1/namespaces/default/pods/p/log)"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}
