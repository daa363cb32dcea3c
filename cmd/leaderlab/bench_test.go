package main

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkShards runs the same sweep with --shards 1 and with --shards 2,
// one after the other in each iteration, so that both see the same load on
// the machine, and reports the seconds of each and their ratio, the
// speed-up of worker processes. Measure when the machine is quiet.
//
//	go test ./cmd/leaderlab -run '^$' -bench Shards -benchtime 5x
func BenchmarkShards(b *testing.B) {
	var one, two time.Duration
	for b.Loop() {
		one += sweep(b, 1)
		two += sweep(b, 2)
	}
	b.ReportMetric(one.Seconds()/float64(b.N), "s/shards-1")
	b.ReportMetric(two.Seconds()/float64(b.N), "s/shards-2")
	b.ReportMetric(float64(one)/float64(two), "speed-up")
}

// sweep is the wall time of one bench of every common timing over 40 seeds
// (720 runs) with the given number of shards.
func sweep(b *testing.B, shards int) time.Duration {
	start := time.Now()
	r := leaderlab(b, "bench", "--timing", "common", "--seeds", "40", "--progress", "none",
		"--out", b.TempDir(), "--shards", strconv.Itoa(shards))
	if r.code != exitOK {
		b.Fatalf("--shards %d: exit %d\n%s", shards, r.code, r.stderr)
	}
	return time.Since(start)
}
