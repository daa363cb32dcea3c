package realapi_test

import (
	"fmt"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/scenarios/realapi"
)

// The fidelity plans are catalog entries at the fast timings: each runs
// unchanged on a real kube-apiserver and in the simulator, and is measured
// from the fault the entry is about.
func ExampleValidationPlans() {
	for _, p := range realapi.ValidationPlans() {
		fmt.Printf("%-36s %-15s measured from %s\n", p.Name, scenarios.TimingLabel(p.Config.Timing), p.Scenario.Fault)
	}
	// Output:
	// crash                                3s/2s/500ms     measured from crash
	// handover                             3s/2s/500ms     measured from stop
	// slow-renew                           3s/2s/500ms     measured from slow-response
	// slow-renew-no-timeout                3s/2s/500ms     measured from slow-response
	// partition                            3s/2s/500ms     measured from partition
	// partition-release                    3s/2s/500ms     measured from partition
	// late-renews-partition                3s/2s/500ms     measured from partition
	// lease-overwritten                    3s/2s/500ms     measured from overwrite-lease
	// outage-short                         3s/2s/500ms     measured from outage
	// outage-long                          3s/2s/500ms     measured from outage
	// error-storm                          3s/2s/500ms     measured from errors
	// partition/overlap-timing             4s/3.6s/100ms   measured from partition
	// partition-release/overlap-timing     4s/3.6s/100ms   measured from partition
	// late-renews-partition/overlap-timing 4s/3.6s/100ms   measured from partition
}
