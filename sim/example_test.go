package sim_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/leaderlab/leaderlab/internal/gotest"
	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// A leader crashes; the report shows who took over, after how long, and why.
// In a test, call sim.Test with the test's own *testing.T; the example runs
// it through asTest only because examples have none.
func Example_crash() {
	asTest(func(t *testing.T) {
		opts := sim.Options{Seed: 1, Candidates: 3}
		var leader string
		rep := sim.Test(t, opts, func(c *sim.Cluster) {
			leader = c.AwaitLeader(30 * time.Second)
			c.Advance(20 * time.Second)
			c.Crash(leader)
			c.AwaitLeader(time.Minute)
		})
		// client-go's arithmetic (scenarios.Bounds): a follower takes over a
		// crashed leader's lease within [LD - RP, LD + 4.4 RP] plus round trips.
		w := scenarios.BoundsFor(opts).Crash()
		for _, f := range rep.Failovers {
			fmt.Printf("failover after %s from the first leader: %v; to another candidate: %v; within %v: %v\n",
				f.Cause, f.From == leader, f.To != leader, w, w.Contains(f.Duration))
		}
		fmt.Println("overlaps:", len(rep.Overlaps), "exact replay:", rep.ReplayExact)
	})
	// Output:
	// failover after crash from the first leader: true; to another candidate: true; within [12.988s, 23.842s]: true
	// overlaps: 0 exact replay: true
}

// A fault plan in the options instead of calls from the body: the API
// answers 503 to every request for 4s, shorter than RenewDeadline, so the
// leader keeps its lease.
func Example_faultPlan() {
	asTest(func(t *testing.T) {
		rep := sim.Test(t, sim.Options{Seed: 1, Candidates: 2, Faults: []sim.Fault{
			{Kind: sim.FaultErrors, At: 30 * time.Second, For: 4 * time.Second, Code: 503, Rate: 1},
		}}, func(c *sim.Cluster) { c.Advance(time.Minute) })
		fmt.Println("terms:", len(rep.Terms), "injected errors > 0:", rep.Requests.Injected > 0)
	})
	// Output:
	// terms: 1 injected errors > 0: true
}

// asTest runs f as a test of its own, so that an example (or a benchmark)
// gets the *testing.T that testing/synctest needs (gotest.AsTest).
func asTest(f func(t *testing.T)) bool { return gotest.AsTest("sim", f) }

// Real runs the same body on a real API server (envtest here, or a cluster
// from a kubeconfig), in real time, and returns the same report.
func ExampleReal() {
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		panic(err)
	}
	defer func() { _ = env.Stop() }()
	rep, err := sim.Real(context.Background(), cfg, sim.Options{Candidates: 3, Timing: sim.Timing{LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 500 * time.Millisecond}},
		func(c *sim.Cluster) {
			c.AwaitLeader(10 * time.Second)
			c.Inject(sim.Fault{Kind: sim.FaultPartition, Candidate: sim.Leader, AfterWrites: 1})
			c.Advance(10 * time.Second)
		})
	if err != nil {
		panic(err)
	}
	fmt.Print(rep.Text())
}
