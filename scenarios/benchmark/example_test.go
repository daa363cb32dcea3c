package benchmark_test

import (
	"os"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/scenarios/benchmark"
	"github.com/leaderlab/leaderlab/sim"
)

// One call measures a timing and latency model and writes the table and
// pictures; t is the test's *testing.T.
func ExampleRun() {
	var t *testing.T
	results, err := benchmark.Run(t, benchmark.Spec{
		Timings: []sim.Timing{{LeaseDuration: 20 * time.Second, RenewDeadline: 15 * time.Second, RetryPeriod: 3 * time.Second}},
		Latency: sim.Dist{Min: 5 * time.Millisecond, Max: 40 * time.Millisecond},
		Seeds:   500,
		Dir:     "report",
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = benchmark.WriteTable(os.Stdout, results)
}
