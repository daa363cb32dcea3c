package benchmark_test

import (
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/scenarios/benchmark"
	"github.com/leaderlab/leaderlab/sim"
)

func TestShardsCoverEverySeedOnce(t *testing.T) {
	for n := 1; n <= 30; n++ {
		for count := 1; count <= n; count++ {
			next := int64(1)
			for i := 1; i <= count; i++ {
				lo, hi := benchmark.Shard{Index: i, Count: count}.Seeds(n)
				if lo != next || hi < lo {
					t.Fatalf("%d seeds, shard %d/%d: seeds %d..%d, want a non-empty slice from %d", n, i, count, lo, hi, next)
				}
				next = hi + 1
			}
			if next != int64(n)+1 {
				t.Fatalf("%d seeds in %d shards: the last shard ends at %d", n, count, next-1)
			}
		}
	}
	if lo, hi := (benchmark.Shard{}).Seeds(7); lo != 1 || hi != 7 {
		t.Errorf("the zero Shard: seeds %d..%d, want 1..7", lo, hi)
	}
	for _, bad := range []benchmark.Shard{{Index: 0, Count: 2}, {Index: 3, Count: 2}, {Index: 1, Count: 0}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("shard %v: no error", bad)
		}
	}
}

func TestMergeRefusesAMissingOrRepeatedSeed(t *testing.T) {
	b := benchmark.Spec{Timings: []sim.Timing{{}}, Seeds: 3, Scenarios: []scenarios.Scenario{scenarios.LeaderCrash}}
	part := func(seeds ...int64) []benchmark.Result {
		r := benchmark.Result{Scenario: scenarios.LeaderCrash, Timing: sim.Timing{}.WithDefaults()}
		for _, s := range seeds {
			r.Runs = append(r.Runs, benchmark.SeedRun{Seed: s, Failovers: []time.Duration{15 * time.Second}})
		}
		return []benchmark.Result{r}
	}
	for _, tt := range []struct {
		parts [][]benchmark.Result
		want  string
	}{
		{[][]benchmark.Result{part(1), part(3)}, "expected seed 2, found seed 3"},
		{[][]benchmark.Result{part(1, 2), part(2, 3)}, "expected seed 3, found seed 2"},
		{[][]benchmark.Result{part(1, 2)}, "2 of 3 seeds"},
	} {
		_, err := b.Merge(t, tt.parts...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Merge: %v, want an error saying %q", err, tt.want)
		}
	}
}
