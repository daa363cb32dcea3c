package realapi

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"

	"github.com/leaderlab/leaderlab/examples/operator"
	"github.com/leaderlab/leaderlab/internal/testenv"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// apiConfig reaches the API server the tests run against: envtest's, or the
// cluster of the kubeconfig in LEADERLAB_KUBECONFIG (kind, staging).
var apiConfig *rest.Config

func TestMain(m *testing.M) {
	if path := os.Getenv("LEADERLAB_KUBECONFIG"); path != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "realapi: LEADERLAB_KUBECONFIG=%s: %v\n", path, err)
			os.Exit(2)
		}
		apiConfig = cfg
		os.Exit(m.Run())
	}
	testenv.Main(m, func(env *testenv.Env) { apiConfig = env.Config })
}

// config is a copy of the test API server's config, as a user passes theirs.
func config() *rest.Config { return rest.CopyConfig(apiConfig) }

// The catalog's entries run unchanged on a real kube-apiserver and their
// reports meet the same Gomega matchers as the simulator's: crash and
// handover failover windows, an outage (refused connections) and a storm of
// forged 500 and 429 answers, a foreign delete. The expectations come from
// scenarios.Bounds with the real server's round-trip allowance.
func TestCatalogOnARealAPIServer(t *testing.T) {
	cfg := scenarios.Config{Timing: DefaultTiming, Candidates: 3}
	for _, s := range []scenarios.Scenario{scenarios.LeaderCrash, scenarios.GracefulHandover, scenarios.ShortOutage, scenarios.ErrorStorm, scenarios.LeaseDeleted} {
		t.Run(s.ID, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, p, err := s.RunReal(ctx, config(), cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			g := gomega.NewWithT(t)
			g.Expect(rep).To(s.Expect(p), "%s on %s\n%s", s.Name, rep.Backend, rep.TraceText())
			g.Expect(rep.Backend).To(gomega.Equal("API server " + apiConfig.Host))
			g.Expect(rep.RoundTrips).NotTo(gomega.BeEmpty(), "the real server's round trips are measured")
			g.Expect(rep.ReplayExact).To(gomega.BeFalse())
			switch s.Fault {
			case sim.FaultOutage:
				g.Expect(rep.Requests.Refused).To(gomega.BeNumerically(">", 0), "the outage refused requests")
			case sim.FaultErrors:
				g.Expect(rep.Requests.Injected).To(gomega.BeNumerically(">", 0), "error answers were forged")
			}
		})
	}
}

// A partition the instant the leader's renew is answered, on a real server:
// the leader's last successful renew is that answer, so it steps down RP + RD
// after it (client-go's renew loop), within a round trip of timer slack.
func TestPartitionAfterWritesFiresOnTheAnswer(t *testing.T) {
	tm := DefaultTiming
	rep, err := sim.Real(context.Background(), config(), sim.Options{Candidates: 2, Timing: tm}, func(c *sim.Cluster) {
		c.AwaitLeader(tm.LeaseDuration + 5*tm.RetryPeriod)
		c.Inject(sim.Fault{Kind: sim.FaultPartition, Candidate: sim.Leader, AfterWrites: 1})
		c.Advance(2*tm.RetryPeriod + tm.RenewDeadline + time.Second)
	})
	if err != nil {
		t.Fatal(err)
	}
	var part sim.FaultSpan
	for _, f := range rep.Faults {
		if f.Kind == sim.FaultPartition {
			part = f
		}
	}
	first := rep.Terms[0]
	if part.Candidate != first.Candidate || first.LastRenew == nil {
		t.Fatalf("partition %+v, first term %+v: want the leader partitioned after a renew\n%s", part, first, rep.Text())
	}
	// The trigger runs on the goroutine that hands the answer to the client,
	// just after it is read: the same instant in the simulator, microseconds
	// apart in real time.
	if gap := part.Start - first.LastRenew.Answered; gap < 0 || gap > time.Millisecond {
		t.Errorf("last renew answered at %v, partition at %v: want the partition at the answer", first.LastRenew.Answered, part.Start)
	}
	if first.LastRenew.Applied != -1 {
		t.Errorf("Applied = %v on a real server, want -1 (not observable)", first.LastRenew.Applied)
	}
	stepDown := first.End - part.Start
	if want := tm.RetryPeriod + tm.RenewDeadline; stepDown < want || stepDown > want+scenarios.DefaultAllowance {
		t.Errorf("stepped down %v after its last renew, want RP + RD = %v (+ %v)\n%s", stepDown, want, scenarios.DefaultAllowance, rep.Text())
	}
}

func TestRealRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	body := func(*sim.Cluster) {}
	for _, tc := range []struct {
		name string
		run  func() (*sim.Report, error)
		want string
	}{
		{"nil context", func() (*sim.Report, error) { return sim.Real(nil, config(), sim.Options{Candidates: 1}, body) }, "sim: Real needs a context"}, //nolint:staticcheck // the point
		{"nil config", func() (*sim.Report, error) { return sim.Real(ctx, nil, sim.Options{Candidates: 1}, body) }, "sim: Real needs a rest config"},
		{"nil body", func() (*sim.Report, error) { return sim.Real(ctx, config(), sim.Options{Candidates: 1}, nil) }, "sim: Real needs a body"},
		{"too many candidates", func() (*sim.Report, error) { return sim.Real(ctx, config(), sim.Options{Candidates: 51}, body) },
			"sim: Candidates (51) must be at most 50 on a real API server: every candidate polls it"},
		{"bad options", func() (*sim.Report, error) { return sim.Real(ctx, config(), sim.Options{}, body) }, "sim: Candidates (0) must be at least 1"},
		{"CRDs for the simulated server", func() (*sim.Report, error) {
			return sim.Real(ctx, config(), sim.Options{Candidates: 1, CRDPaths: []string{"config/crd/bases"}}, body)
		}, "sim: Options.CRDs and CRDPaths serve custom resources on the simulated API server; on a real one, install the CRDs first (envtest's CRDInstallOptions take the same manifests)"},
		{"unreachable server", func() (*sim.Report, error) {
			return sim.Real(ctx, &rest.Config{Host: "http://127.0.0.1:1"}, sim.Options{Candidates: 1}, body)
		}, `sim: cannot list leases in namespace "default" on http://127.0.0.1:1: Get "http://127.0.0.1:1/apis/coordination.k8s.io/v1/namespaces/default/leases?limit=1": dial tcp 127.0.0.1:1: connect: connection refused`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := tc.run()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
			if rep != nil {
				t.Errorf("a report for a run that never started: %+v", rep)
			}
		})
	}
}

// A body that fails on a real server (a bad fault, a store the real backend
// does not have) ends the run with the simulator's message, and the run's
// lease is gone afterwards.
func TestRealBodyFailuresAreErrors(t *testing.T) {
	cfg := config()
	opts := sim.Options{Candidates: 2, Timing: DefaultTiming, LeaseName: "realapi-body-failure"}
	rep, err := sim.Real(context.Background(), cfg, opts, func(c *sim.Cluster) {
		c.AwaitLeader(10 * time.Second)
		if err := c.AddObjects(&coordinationv1.Lease{}); err == nil || err.Error() != "sim: AddObjects: not on a real API server: use a client of your own" {
			t.Errorf("AddObjects: %v", err)
		}
		c.Crash("c9")
		t.Error("the body went on after a bad fault")
	})
	if err == nil || err.Error() != `sim: crash: unknown candidate "c9" (candidates are c0..c1)` {
		t.Fatalf("err = %v", err)
	}
	if rep == nil || len(rep.Terms) == 0 {
		t.Fatalf("want the report of the run so far, got %+v", rep)
	}
	if strings.Contains(rep.TraceText(), "process crashed") {
		t.Errorf("a process crashed although the fault was rejected:\n%s", rep.TraceText())
	}
	_, err = kubernetes.NewForConfigOrDie(cfg).CoordinationV1().Leases("default").Get(context.Background(), opts.LeaseName, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("after the run, getting its lease gives %v, want NotFound", err)
	}
}

// A candidate of the user's own (Options.Run) gets the faults and the report
// on a real server too: here a client-go elector whose leading callback does
// work until its context ends, crashed as leader; the report's failover
// lies in client-go's crash bound.
func TestOwnCandidateOnARealAPIServer(t *testing.T) {
	opts := sim.Options{Seed: 7, Candidates: 2, Timing: DefaultTiming}
	worked := make(chan string, 16)
	opts.Run = func(ctx context.Context, p *sim.Process) {
		le, err := leaderelection.NewLeaderElector(p.ElectionConfig(leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { worked <- p.Name; <-ctx.Done() },
		}))
		if err != nil {
			t.Error(err)
			return
		}
		le.Run(ctx)
	}
	b := scenarios.BoundsFor(opts)
	b.Allowance = scenarios.DefaultAllowance
	rep, err := sim.Real(context.Background(), config(), opts, func(c *sim.Cluster) {
		c.Crash(c.AwaitLeader(b.Crash().Hi))
		c.AwaitLeader(b.Crash().Hi)
		c.Advance(time.Second)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failovers) != 1 || !b.Crash().Contains(rep.Failovers[0].Duration) {
		t.Fatalf("failovers %+v, want one within the crash bound %v\n%s", rep.Failovers, b.Crash(), rep.Text())
	}
	if got := len(worked); got != 2 {
		t.Errorf("the user's leading callback ran %d times, want once per term (2)", got)
	}
}

// The manager catalog's crash and slow-writes entries on a real
// kube-apiserver, with the same matchers as in the simulator: three real
// managers running the examples' mirror operator hand over within the
// crash bound; with the guarded operator no write lands stale, and the
// unguarded one is caught: its patch, slowed past the end of its term,
// reaches the server after the next leader began. The runs go one after the
// other, since they share the server's objects.
func TestManagerCatalogOnARealAPIServer(t *testing.T) {
	cfg := scenarios.Config{Timing: DefaultTiming, Candidates: 3}
	guarded := scenarios.Controller{Setup: operator.Mirror{Guarded: true}.Setup, Change: operator.Change}
	unguarded := scenarios.Controller{Setup: operator.Mirror{}.Setup, Change: operator.Change}
	catalog := scenarios.ManagerCatalog(guarded)
	for _, s := range []scenarios.Scenario{catalog[0], scenarios.SlowDataWritesOf(guarded)} {
		t.Run(s.ID, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, p, err := s.RunReal(ctx, config(), cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			gomega.NewWithT(t).Expect(rep).To(s.Expect(p), "%s on %s\n%s", s.Name, rep.Backend, rep.TraceText())
		})
	}
	t.Run("unguarded slow-writes", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		rep, _, err := scenarios.SlowDataWritesOf(unguarded).RunReal(ctx, config(), cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		gomega.NewWithT(t).Expect(rep).NotTo(scenarios.HaveNoStaleWrites(), "the unguarded operator's late patch\n%s", rep.TraceText())
	})
}
