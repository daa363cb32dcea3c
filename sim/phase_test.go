package sim_test

import (
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// Runs start at a seeded instant of the virtual second, as real clusters start
// at any instant: client-go's whole-second renew times make that phase matter
// when RetryPeriod is under a second.
func TestRunsStartAtASeededPhaseOfTheSecond(t *testing.T) {
	phase := func(seed int64) time.Duration {
		var start time.Time
		sim.Test(t, sim.Options{Seed: seed, Candidates: 1}, func(c *sim.Cluster) { start = c.StartTime() })
		return start.Sub(start.Truncate(time.Second))
	}
	seen := map[time.Duration]bool{}
	for seed := range int64(20) {
		p := phase(seed)
		if again := phase(seed); again != p {
			t.Fatalf("seed %d started at phase %v, then at %v", seed, p, again)
		}
		seen[p.Truncate(100*time.Millisecond)] = true
	}
	if len(seen) < 5 {
		t.Errorf("20 seeds start in only %d distinct tenths of a second; want them spread over the second", len(seen))
	}
}
