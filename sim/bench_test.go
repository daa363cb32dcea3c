package sim_test

// Benchmarks are measurements, not assertions. testing/synctest.Test takes
// only a *testing.T, so each benchmark iteration runs its bubble through
// asTest (testing.RunTests), which hands it a real *testing.T.

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// 3 candidates, default timing, no faults, the full REST path, 1 virtual hour.
func BenchmarkSteadyStateHour(b *testing.B) {
	var requests int
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for b.Loop() {
		ok := asTest(func(t *testing.T) {
			rep := sim.Test(t, sim.Options{Seed: 1, Candidates: 3}, func(c *sim.Cluster) { c.Advance(time.Hour) })
			requests += rep.Requests.Total
		})
		if !ok {
			b.Fatal("run failed")
		}
	}
	runtime.ReadMemStats(&m1)
	perRun := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perRun/3600, "ns/virtual-s")
	b.ReportMetric(3600e9/perRun, "x-realtime")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(requests), "us/request")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(requests), "allocs/request")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/run")
}

// 1,000 seeds of a crash failover, run as parallel bubbles (replay is not
// needed for a distribution; each report says so).
func BenchmarkCrashFailover1000Seeds(b *testing.B) {
	for b.Loop() {
		var failovers atomic.Int64
		ok := asTest(func(t *testing.T) {
			for seed := range int64(1000) {
				t.Run("seed", func(t *testing.T) {
					t.Parallel()
					rep := sim.Test(t, sim.Options{Seed: seed, Candidates: 3}, func(c *sim.Cluster) {
						c.Crash(c.AwaitLeader(ld))
						c.AwaitLeader(ld + 5*rp + 2*rt)
					})
					failovers.Add(int64(len(rep.Failovers)))
				})
			}
		})
		if !ok || failovers.Load() != 1000 {
			b.Fatalf("ok=%v failovers=%d", ok, failovers.Load())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/1000-seeds")
}

// 1,000 candidates for 10 virtual minutes: wall time and peak heap.
func BenchmarkThousandCandidates10Min(b *testing.B) {
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	for b.Loop() {
		if !asTest(func(t *testing.T) {
			rep := sim.Test(t, sim.Options{Seed: 1, Candidates: 1000}, func(c *sim.Cluster) { c.Advance(10 * time.Minute) })
			if len(rep.Terms) != 1 {
				t.Errorf("terms = %d", len(rep.Terms))
			}
		}) {
			b.Fatal("run failed")
		}
	}
	close(stop)
	<-done
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/run")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}
