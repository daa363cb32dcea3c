package main

import (
	"strconv"
	"testing"
)

// BenchmarkShards runs the same sweep with --shards 1 and --shards 2: the
// ratio of the two ns/op is the speed-up of worker processes. The other
// load on the machine counts: measure when it is quiet.
//
//	go test ./cmd/leaderlab -run '^$' -bench Shards -benchtime 3x
func BenchmarkShards(b *testing.B) {
	for _, shards := range []int{1, 2} {
		b.Run("shards="+strconv.Itoa(shards), func(b *testing.B) {
			args := []string{"bench", "--timing", "common", "--seeds", "40", "--progress", "none",
				"--out", b.TempDir(), "--shards", strconv.Itoa(shards)}
			for b.Loop() {
				if r := leaderlab(b, args...); r.code != exitOK {
					b.Fatalf("exit %d\n%s", r.code, r.stderr)
				}
			}
		})
	}
}
