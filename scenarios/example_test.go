package scenarios_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// The arithmetic behind the catalog, for controller-runtime's defaults.
func ExampleBoundsFor() {
	b := scenarios.BoundsFor(sim.Options{})
	fmt.Println("margin LD - RD - RP:", b.Margin())
	fmt.Println("crash failover:", b.Crash())
	fmt.Println("handover with ReleaseOnCancel:", b.Handover())
	fmt.Println("pending release overlaps up to:", b.PartitionOverlap(b.Latency, true).Hi)
	fmt.Println("LeaseDuration that removes it:", b.SafeLeaseDuration())
	// Output:
	// margin LD - RD - RP: 3s
	// crash failover: [12.988s, 23.842s]
	// handover with ReleaseOnCancel: [0s, 4.442s]
	// pending release overlaps up to: 2.003s
	// LeaseDuration that removes it: 18s
}

func ExampleCatalog() {
	for _, s := range scenarios.Catalog()[:4] {
		fmt.Printf("%s: %s\n", s.ID, s.Name)
	}
	// Output:
	// steady-state: elects one leader that leads without a gap while nothing fails
	// crash: replaces a crashed leader within LD - RP .. LD + 4.4 RP
	// handover: hands over within 2.2 RP when a leader stops with ReleaseOnCancel
	// rolling-restart: keeps every failover of a rolling restart within the handover bound
}

// A ginkgo suite declares the whole catalog for its own timing; the suite's
// *testing.T is captured before RunSpecs (see the package documentation).
func ExampleDescribeCatalog() {
	var suiteT *testing.T
	_ = scenarios.DescribeCatalog(func() *testing.T { return suiteT }, scenarios.Config{
		Timing:     sim.Timing{LeaseDuration: 20 * time.Second, RenewDeadline: 15 * time.Second, RetryPeriod: 3 * time.Second},
		Candidates: 2,
	})
}
