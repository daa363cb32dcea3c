// Package stats summarises samples of durations for the module's reports and
// comparisons: nearest-rank percentiles and the Mann-Whitney rank test.
package stats

import (
	"math"
	"slices"
	"time"
)

// Summary describes a sample of durations. Percentiles are nearest-rank: the
// p-th percentile of n sorted values is the value at rank ceil(p x n), so
// every figure is a value that was measured, never an interpolation.
type Summary struct {
	N      int           `json:"n"`
	Min    time.Duration `json:"min"`
	Median time.Duration `json:"median"`
	P90    time.Duration `json:"p90"`
	P99    time.Duration `json:"p99"`
	Max    time.Duration `json:"max"`
}

// Summarize returns the summary of values; the zero Summary for none.
func Summarize(values []time.Duration) Summary {
	if len(values) == 0 {
		return Summary{}
	}
	s := slices.Sorted(slices.Values(values))
	return Summary{N: len(s), Min: s[0], Median: Rank(s, 0.5), P90: Rank(s, 0.9), P99: Rank(s, 0.99), Max: s[len(s)-1]}
}

// Rank is the nearest-rank p-th percentile of sorted (not empty).
func Rank(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// MannWhitney is the two-sided p-value of the Mann-Whitney U test (Wilcoxon
// rank-sum) that a and b come from the same distribution, against a shift of
// one against the other. Ties get mid-ranks; the p-value uses the normal
// approximation with tie and continuity corrections, which is close to the
// exact value for samples of ten or more and conservative below. It returns
// NaN when either sample has fewer than 3 values, or every value is tied.
func MannWhitney(a, b []time.Duration) float64 {
	n1, n2 := len(a), len(b)
	if n1 < 3 || n2 < 3 {
		return math.NaN()
	}
	type obs struct {
		v     time.Duration
		fromA bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(x, y obs) int { return int(min(max(x.v-y.v, -1), 1)) })
	n := float64(n1 + n2)
	var rankSumA, tieTerm float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		mid := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].fromA {
				rankSumA += mid
			}
		}
		t := float64(j - i)
		tieTerm += t*t*t - t
		i = j
	}
	u := rankSumA - float64(n1*(n1+1))/2
	mean := float64(n1*n2) / 2
	variance := float64(n1*n2) / 12 * ((n + 1) - tieTerm/(n*(n-1)))
	if variance <= 0 {
		return math.NaN()
	}
	z := (math.Abs(u-mean) - 0.5) / math.Sqrt(variance)
	if z < 0 {
		z = 0
	}
	return math.Erfc(z / math.Sqrt2)
}
