package stats

import (
	"math"
	"testing"
	"time"
)

const ms = time.Millisecond

func durations(vs ...int) []time.Duration {
	out := make([]time.Duration, len(vs))
	for i, v := range vs {
		out[i] = time.Duration(v) * ms
	}
	return out
}

func TestSummarizeIsNearestRank(t *testing.T) {
	got := Summarize(durations(5, 1, 4, 2, 3, 10, 9, 8, 7, 6))
	want := Summary{N: 10, Min: 1 * ms, Median: 5 * ms, P90: 9 * ms, P99: 10 * ms, Max: 10 * ms}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if got := Summarize(nil); got != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v, want zero", got)
	}
}

// The Mann-Whitney values are worked by hand: for two samples of five with
// no overlap U = 0, mean 12.5, variance 5 x 5 x 11 / 12; z = 12 / 4.787 =
// 2.507, two-sided p = 0.0122 (the exact p is 2/252 = 0.0079).
func TestMannWhitney(t *testing.T) {
	if p := MannWhitney(durations(1, 2, 3, 4, 5), durations(6, 7, 8, 9, 10)); math.Abs(p-0.0122) > 0.0005 {
		t.Errorf("separated samples: p = %v, want 0.0122", p)
	}
	if p := MannWhitney(durations(1, 2, 3), durations(1, 2, 3)); p != 1 {
		t.Errorf("identical samples with ties: p = %v, want 1", p)
	}
	if p := MannWhitney(durations(1, 2), durations(1, 2, 3)); !math.IsNaN(p) {
		t.Errorf("two values: p = %v, want NaN", p)
	}
	if p := MannWhitney(durations(4, 4, 4), durations(4, 4, 4)); !math.IsNaN(p) {
		t.Errorf("all tied: p = %v, want NaN", p)
	}
}
