package scenarios

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/leaderlab/leaderlab/sim"
)

// Controller is the user's own controller as the manager catalog runs it:
// every candidate is a real controller-runtime manager (sim.Manager) with
// Setup's reconcilers, and an outside actor keeps giving them work, so that
// every fault of the catalog finds a leader in the middle of it.
type Controller struct {
	// Setup adds the reconcilers to each candidate's manager.
	Setup func(manager.Manager) error
	// Options adjust each manager's options (see sim.Manager).
	Options []func(*manager.Options)
	// Scheme serves the controller's own types (sim.Options.Scheme); nil is
	// client-go's scheme.
	Scheme *runtime.Scheme
	// CRDs and CRDPaths are the controller's CustomResourceDefinitions, as
	// values or manifest files and directories (sim.Options.CRDs and
	// CRDPaths): the simulated API server serves them with their schemas'
	// defaults and validation rules.
	CRDs     []*apiextensionsv1.CustomResourceDefinition
	CRDPaths []string
	// Change makes the i-th outside change the controller must act on,
	// through c.Client() (create or update the objects it reconciles). The
	// catalog calls it at the start of the run and then every ChangeEvery
	// until the plan ends; an error fails the spec. Nil makes no change.
	Change func(c *sim.Cluster, i int) error
	// ChangeEvery is the pace of the changes; zero means the run's
	// RetryPeriod.
	ChangeEvery time.Duration
}

// ManagerCatalog is the catalog for ctl's managers: leader crash, graceful
// handover, rolling restart, partitioned leader (with and without
// ReleaseOnCancel), slow data writes across the end of a term, an
// overloaded API server and API server restarts. Each expects what its
// election scenario expects, from Bounds alone, no harmful stale write
// (HaveNoStaleWrites), no lost update (HaveNoLostUpdates) and, when ctl
// makes changes, that the controllers wrote (HaveWrittenData): a controller
// that never ran fails.
func ManagerCatalog(ctl Controller) []Scenario {
	return []Scenario{
		ctl.scenario(LeaderCrash), ctl.scenario(GracefulHandover), ctl.scenario(RollingRestart),
		ctl.scenario(PartitionedLeader), ctl.scenario(PartitionedLeaderWithRelease),
		ctl.scenario(SlowDataWrites), ctl.scenario(APIOverload), ctl.scenario(APIRestarts),
	}
}

// SlowDataWritesOf is the slow-writes scenario of ctl's managers alone:
// the one that catches a write in flight across the end of a term.
func SlowDataWritesOf(ctl Controller) Scenario { return ctl.scenario(SlowDataWrites) }

// DescribeManagerCatalog declares ManagerCatalog(ctl) for a ginkgo suite, as
// DescribeCatalog does for the electors: one DescribeTable per scenario with
// one entry per seed of cfg. suiteT returns the suite's *testing.T (the
// simulator needs it; see DescribeCatalog).
func DescribeManagerCatalog(suiteT func() *testing.T, ctl Controller, cfg Config) bool {
	return ginkgo.Describe("controller-runtime managers running the controller", func() {
		DescribeCatalog(suiteT, cfg, ManagerCatalog(ctl)...)
	})
}

// scenario is s run by ctl's managers, with ctl's outside changes during
// the plan and no stale write expected on top of s's expectations.
func (ctl Controller) scenario(s Scenario) Scenario {
	setup, plan, expect := s.Setup, s.Plan, s.Expect
	s.ID = "manager-" + s.ID
	s.Setup = func(o *sim.Options) {
		if setup != nil {
			setup(o)
		}
		o.Run = sim.Manager(ctl.Setup, ctl.Options...)
		o.Scheme = ctl.Scheme
		o.CRDs, o.CRDPaths = ctl.CRDs, ctl.CRDPaths
	}
	s.Plan = func(c *sim.Cluster, p Params) {
		stop := ctl.drive(c, p)
		stopped := false
		defer func() {
			if !stopped { // the plan failed: end the changes all the same
				_ = stop()
			}
		}()
		plan(c, p)
		stopped = true
		if err := stop(); err != nil {
			c.Fatalf("scenarios: an outside change of the controller's objects failed: %v", err)
		}
	}
	s.Expect = func(p Params) types.GomegaMatcher {
		if ctl.Change == nil {
			return gomega.And(expect(p), HaveNoStaleWrites(), HaveNoLostUpdates())
		}
		return gomega.And(expect(p), HaveNoStaleWrites(), HaveNoLostUpdates(), HaveWrittenData())
	}
	return s
}

// drive makes ctl's changes until the returned stop is called; stop waits
// for the changer to end and returns its first error.
func (ctl Controller) drive(c *sim.Cluster, p Params) (stop func() error) {
	if ctl.Change == nil {
		return func() error { return nil }
	}
	every := ctl.ChangeEvery
	if every <= 0 {
		every = p.Timing.RetryPeriod
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var err error
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			if e := ctl.Change(c, i); e != nil {
				err = fmt.Errorf("change %d at %v: %w", i, c.Now(), e)
				return
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() error {
		close(done)
		wg.Wait()
		return err
	}
}

// SlowDataWrites: the leader's writes take longer than a lease duration to
// arrive.
var SlowDataWrites = Scenario{
	ID:    "slow-writes",
	Fault: sim.FaultLatency,
	Name:  "lets no write a leader sent during its term land unguarded after the term ended",
	Description: "Every create, update and patch of the leader takes LD + 2 RP to reach the API: its " +
		"lease renewals time out, so it stops acting RD after its last renew and a follower takes over " +
		"once the lease expires, while the writes its controllers sent during the term are still on the " +
		"way. They arrive after the next leader began. Leader election has no fencing: only a write " +
		"that names the resourceVersion it was based on (a precondition) is refused then, instead of " +
		"overwriting what the next leader wrote.",
	Plan: func(c *sim.Cluster, p Params) {
		leader := settle(c, p)
		slow := sim.Fixed(p.Timing.LeaseDuration + 2*p.Timing.RetryPeriod)
		for _, verb := range []string{sim.VerbCreate, sim.VerbUpdate, sim.VerbPatch} {
			c.Inject(sim.Fault{Kind: sim.FaultLatency, Candidate: leader, Verb: verb, Request: slow})
		}
		c.Advance(p.Crash().Hi + slow.Max + p.Timing.LeaseDuration)
	},
	Expect: func(p Params) types.GomegaMatcher { return base() },
}

// APIOverload: one seat, a queue, 429 beyond it.
var APIOverload = Scenario{
	ID:    "overload",
	Fault: sim.FaultOverload,
	Name:  "keeps one leader at a time while an overloaded API server queues and turns requests away",
	Description: "For four lease durations the API server serves one request at a time, each for " +
		"RP / 4, and queues the rest for at most RD / 2 before answering 429 (max-in-flight and priority " +
		"and fairness in miniature). Lease renewals wait behind the controllers' own traffic; a leader " +
		"may lose its lease, but never while another acts, and one leads at the end.",
	Plan: func(c *sim.Cluster, p Params) {
		settle(c, p)
		c.Overload(1, p.Timing.RetryPeriod/4, p.Timing.RenewDeadline/2, 4*p.Timing.LeaseDuration)
		c.Advance(4*p.Timing.LeaseDuration + p.Crash().Hi + p.Timing.RetryPeriod)
	},
	Expect: func(p Params) types.GomegaMatcher { return base() },
}

// APIRestarts: every watch breaks, three times.
var APIRestarts = Scenario{
	ID:    "api-restart",
	Fault: sim.FaultAPIRestart,
	Name:  "keeps the leader through API server restarts that break every watch",
	Description: "The API server restarts three times, a lease duration apart: every watch breaks and " +
		"its history is gone, so every informer lists again. Requests in between are served, so the " +
		"leader renews on time and keeps the lease: one term, no leaderless time.",
	Plan: func(c *sim.Cluster, p Params) {
		settle(c, p)
		for range 3 {
			c.RestartAPIServer()
			c.Advance(p.Timing.LeaseDuration)
		}
	},
	Expect: func(p Params) types.GomegaMatcher {
		return base(HaveNoLossWithoutCrash(), HaveLeaderlessTimeAtMost(0))
	},
}
