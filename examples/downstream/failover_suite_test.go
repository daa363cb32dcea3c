// Package downstream_test is what a controller project adds to its own test
// suite to check leader election under its own timing and latency: the
// whole scenario catalog in a few lines, and a failover budget measured over
// many seeds.
package downstream_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/scenarios/benchmark"
	"github.com/leaderlab/leaderlab/sim"
)

// Our manager's settings: LeaseDuration 20s, RenewDeadline 15s,
// RetryPeriod 3s, two replicas, an API server 2-20ms away.
var ours = scenarios.Config{
	Timing:     sim.Timing{LeaseDuration: 20 * time.Second, RenewDeadline: 15 * time.Second, RetryPeriod: 3 * time.Second},
	Candidates: 2,
	Latency:    sim.Dist{Min: 2 * time.Millisecond, Max: 20 * time.Millisecond},
}

var suiteT *testing.T

func TestFailover(t *testing.T) {
	suiteT = t // the simulator needs the suite's *testing.T
	RegisterFailHandler(Fail)
	RunSpecs(t, "Downstream failover")
}

// Every scenario of the catalog, for our timing, over the default seeds.
var _ = scenarios.DescribeCatalog(func() *testing.T { return suiteT }, ours)

var _ = Describe("our failover budget", func() {
	It("keeps a crash failover under 35s at p99 over 50 seeds", func() {
		// The arithmetic already promises it: LD + 4.4 RP + 7 RT = 33.5s.
		Expect(scenarios.BoundsFor(sim.Options{Timing: ours.Timing, Latency: ours.Latency}).Crash().Hi).To(BeNumerically("<", 35*time.Second))

		results, err := benchmark.Run(suiteT, benchmark.Spec{
			Timings: []sim.Timing{ours.Timing}, Latency: ours.Latency, Candidates: ours.Candidates,
			Seeds: 50, Scenarios: []scenarios.Scenario{scenarios.LeaderCrash},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(results).To(HaveLen(1))
		Expect(results[0].FailoverSummary().P99).To(BeNumerically("<", 35*time.Second))
		Expect(results[0].Outside).To(BeZero())
	})
})
