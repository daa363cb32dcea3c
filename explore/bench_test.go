package explore_test

// Benchmarks are measurements (BENCHMARKS.md in this directory), and two
// of them check the search's claims over more schedules than a test runs:
// the unguarded mirror's stale write is found within 200 schedules for each
// of 10 master seeds, and 1,000 schedules find nothing in the guarded one.

import (
	"context"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/explore"
	"github.com/leaderlab/leaderlab/internal/gotest"
	"github.com/leaderlab/leaderlab/sim"
)

// benchSchedules is how many schedules a speed benchmark runs per
// iteration; each is 80 s of faults and 40 s of quiet: two virtual minutes.
const benchSchedules = 300

func benchSearch(guarded bool) explore.Options {
	o := mirrorSearch(guarded, 1, benchSchedules)
	o.Length, o.Quiet = 80*time.Second, 40*time.Second
	return o
}

// search runs o as a test named after the benchmark (so that Shards
// workers run the benchmark) and fails b on an error.
func search(b *testing.B, o explore.Options) *explore.Result {
	var res *explore.Result
	var err error
	if !gotest.AsTest(b.Name(), func(t *testing.T) { res, err = explore.Search(t, o) }) || err != nil {
		b.Fatalf("search: %v", err)
	}
	return res
}

// The search over three managers of the guarded mirror, one process.
func BenchmarkSearch3Managers(b *testing.B) {
	peak, stop := gotest.WatchPeakHeap()
	for b.Loop() {
		if res := search(b, benchSearch(true)); len(res.Failures) > 0 {
			b.Fatalf("the guarded mirror failed:\n%s", res)
		}
	}
	stop()
	b.ReportMetric(float64(benchSchedules*b.N)/b.Elapsed().Seconds(), "schedules/s")
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MiB")
}

// The same, in two worker processes of this binary.
func BenchmarkSearch3ManagersShards2(b *testing.B) {
	for b.Loop() {
		o := benchSearch(true)
		o.Shards = 2
		if res := search(b, o); len(res.Failures) > 0 || res.Schedules != benchSchedules {
			b.Fatalf("%d schedules, failures:\n%s", res.Schedules, res)
		}
	}
	b.ReportMetric(float64(benchSchedules*b.N)/b.Elapsed().Seconds(), "schedules/s")
}

// The floor: the same schedules run back to back by hand, with the same
// outside changes, without the search (no checks, no shrinking).
func BenchmarkByHand3Managers(b *testing.B) {
	o := benchSearch(true)
	for b.Loop() {
		ok := gotest.AsTest("byhand", func(t *testing.T) {
			for i := range benchSchedules {
				s, err := o.Draw(i)
				if err != nil {
					t.Fatal(err)
				}
				opts := o.Sim
				opts.Seed, opts.Candidates, opts.Faults = s.Seed, s.Candidates, s.Faults
				opts.Restart, opts.SkipLeaderlessFaults, opts.AllowOverlap = true, true, true
				sim.Test(t, opts, func(c *sim.Cluster) {
					for j := 0; c.Now() < s.Length; j++ {
						if err := o.Action(context.Background(), c, j); err != nil {
							t.Fatal(err)
						}
						c.Advance(2 * time.Second)
					}
					c.Advance(o.Quiet)
				})
			}
		})
		if !ok {
			b.Fatal("a run failed")
		}
	}
	b.ReportMetric(float64(benchSchedules*b.N)/b.Elapsed().Seconds(), "schedules/s")
}

// For each of 10 master seeds, the first schedule that fails the unguarded
// mirror is a harmful stale write within the first 200, shrunk to at most
// two faults.
func BenchmarkFindStaleWrite10Seeds(b *testing.B) {
	var sum, most int
	for b.Loop() {
		sum, most = 0, 0
		for seed := int64(1); seed <= 10; seed++ {
			o := mirrorSearch(false, seed, 200)
			o.StopOnFailure = true
			res := search(b, o)
			if len(res.Failures) == 0 || res.Failures[0].Check != explore.CheckStale {
				b.Fatalf("seed %d: the first failure in 200 schedules is not a harmful stale write:\n%s", seed, res)
			}
			f := res.Failures[0]
			if len(f.Shrunk.Faults) > 2 {
				b.Fatalf("seed %d: shrunk to %d faults:\n%s", seed, len(f.Shrunk.Faults), f)
			}
			sum += f.Index + 1
			most = max(most, f.Index+1)
		}
	}
	b.ReportMetric(float64(sum)/10, "mean-schedules-to-find")
	b.ReportMetric(float64(most), "max-schedules-to-find")
}

// 1,000 schedules of the guarded mirror fail nothing, and it has caught up
// at the end of each.
func BenchmarkGuardedMirror1000(b *testing.B) {
	for b.Loop() {
		o := mirrorSearch(true, 1, 1000)
		o.Shards, o.Eventually = 2, []explore.Invariant{mirrored}
		if res := search(b, o); len(res.Failures) > 0 || res.Schedules != 1000 {
			b.Fatalf("%d schedules, failures:\n%s", res.Schedules, res)
		}
	}
}
