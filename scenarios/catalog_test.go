package scenarios_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

func timing(ld, rd, rp time.Duration) sim.Timing {
	return sim.Timing{LeaseDuration: ld, RenewDeadline: rd, RetryPeriod: rp}
}

// The whole catalog at controller-runtime's defaults and at timings users
// run, each over DefaultSeeds.
var (
	_ = scenarios.DescribeCatalog(T, scenarios.Config{})
	_ = scenarios.DescribeCatalog(T, scenarios.Config{Timing: timing(5*time.Second, 3*time.Second, time.Second)})
	_ = scenarios.DescribeCatalog(T, scenarios.Config{Timing: timing(137*time.Second, 107*time.Second, 26*time.Second), Candidates: 2})
	// LD - RD - RP = 0: both margin-breaking cases overlap in every run,
	// which their expectations then require.
	_ = scenarios.DescribeCatalog(T, scenarios.Config{Timing: timing(15*time.Second, 14*time.Second, time.Second)})
	// A sub-second RetryPeriod, as the real-API comparison runs: renews can
	// look alike to followers (Bounds.Grain).
	_ = scenarios.DescribeCatalog(T, scenarios.Config{Timing: timing(3*time.Second, 2*time.Second, 500*time.Millisecond)})
)

var _ = Describe("the catalog", func() {
	It("names every scenario with a unique ID, a sentence and a description", func() {
		ids := map[string]bool{}
		for _, s := range scenarios.Catalog() {
			Expect(ids).NotTo(HaveKey(s.ID))
			ids[s.ID] = true
			Expect(s.Name).NotTo(BeEmpty())
			Expect(len(s.Description)).To(BeNumerically(">", 100), s.ID)
			Expect(s.Plan).NotTo(BeNil(), s.ID)
			Expect(s.Expect).NotTo(BeNil(), s.ID)
		}
		Expect(ids).To(HaveLen(17))
	})

	It("makes the margin-breaking overlaps certain when LD - RD - RP is 0 and impossible with the safe lease", func() {
		tight := scenarios.Config{Timing: timing(15*time.Second, 14*time.Second, time.Second)}
		for _, s := range []scenarios.Scenario{scenarios.PartitionedLeaderWithRelease, scenarios.LateRenewsThenPartition} {
			Expect(s.Overlap(s.Params(tight, 1)).Lo).To(BeNumerically(">", 0), s.ID)
			Expect(s.Params(tight, 1).Options.AllowOverlap).To(BeTrue(), s.ID)
		}
		for _, s := range []scenarios.Scenario{scenarios.PartitionedLeaderWithReleaseSafeLease, scenarios.LateRenewsThenPartitionSafeLease} {
			Expect(s.Overlap(s.Params(tight, 1)).Hi).To(BeNumerically("<=", 0), s.ID)
			Expect(s.Params(tight, 1).Options.AllowOverlap).To(BeFalse(), s.ID)
		}
	})
})
