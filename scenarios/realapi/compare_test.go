package realapi

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, v := range ms {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestSummarizeIsNearestRank(t *testing.T) {
	got := Summarize(durations(5, 1, 4, 2, 3, 10, 9, 8, 7, 6))
	want := Summary{N: 10, Min: 1 * ms, Median: 5 * ms, P90: 9 * ms, Max: 10 * ms}
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

func TestLatencyModelHalvesTheRoundTrips(t *testing.T) {
	var updates []time.Duration
	for i := 1; i <= 20; i++ {
		updates = append(updates, time.Duration(i)*ms) // 5th pct 1ms, 95th 19ms
	}
	m := NewLatencyModel(map[string][]time.Duration{"update": updates, "create": durations(40)})
	if got, want := m.leg("update"), (sim.Dist{Min: 500 * time.Microsecond, Max: 9500 * time.Microsecond}); got != want {
		t.Errorf("update leg = %v, want %v", got, want)
	}
	// One create is too few for a rule: it falls back to all verbs pooled.
	if _, ok := m.ByVerb["create"]; ok {
		t.Error("create has a rule of its own from one sample")
	}
	if m.leg("create") != m.Default || m.RoundTrips["all"].N != 21 {
		t.Errorf("create leg %v, default %v, pooled %+v: want the pooled default", m.leg("create"), m.Default, m.RoundTrips["all"])
	}
	if NewLatencyModel(nil).Default != sim.DefaultLatency {
		t.Error("no measurement should give sim's default latency")
	}
}

func measures(end string, takeovers ...int) []Measure {
	out := make([]Measure, len(takeovers))
	for i, v := range takeovers {
		out[i] = Measure{VictimEnd: end, Takeover: time.Duration(v) * ms, StepDown: -1}
	}
	return out
}

// TestJudgeAppliesTheCriterion shows both halves of the criterion: a real
// value beyond the envelope by more than the tolerance fails, one inside
// the tolerance passes, and an outcome no seed shows fails.
func TestJudgeAppliesTheCriterion(t *testing.T) {
	exp, err := LeaderCrash.Expect(Options{})
	if err != nil {
		t.Fatal(err)
	}
	simulated := measures("crash", 2000, 2500, 3000, 3500)
	for _, c := range []struct {
		name  string
		real  []Measure
		agree bool
		diff  string
	}{
		{"inside", measures("crash", 2100, 3400), true, ""},
		{"within tolerance", measures("crash", 1950, 3590), true, ""},
		{"beyond tolerance", measures("crash", 1850, 3000), false, "takeover: real 1.85s outside the sim envelope [1.9s, 3.6s]"},
		{"unseen outcome", append(measures("crash", 2500), Measure{VictimEnd: "crash", Takeover: -1, StepDown: -1}), false, `outcome "crash, no takeover"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var side SimSide
			side.judge(exp, c.real, simulated, 100*ms)
			if side.Agrees != c.agree {
				t.Errorf("Agrees = %v, want %v; differences %q", side.Agrees, c.agree, side.Differences)
			}
			if c.diff != "" && !strings.Contains(strings.Join(side.Differences, "; "), c.diff) {
				t.Errorf("differences %q, want one containing %q", side.Differences, c.diff)
			}
			for _, m := range side.Metrics {
				if m.Name == "step-down" {
					t.Errorf("a crash has no step-down to compare: %+v", m)
				}
			}
		})
	}
}

func TestCompareRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		opts CompareOptions
		want string
	}{
		{CompareOptions{Trials: -1}, "CompareOptions.Trials (-1) must not be negative"},
		{CompareOptions{Tolerance: -ms}, "CompareOptions.Tolerance (-1ms) must not be negative"},
		{CompareOptions{Plans: []Plan{{Name: "a", Scenario: LeaderCrash}, {Name: "a", Scenario: GracefulRelease}}}, `Name ("a") must be set and unique`},
		{CompareOptions{Plans: []Plan{{Name: "x", Scenario: "nope"}}}, `unknown scenario "nope"`},
	} {
		_, err := Compare(t, t.Context(), config(), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Compare(%+v) = %v, want an error containing %q", c.opts, err, c.want)
		}
	}
}

// TestSimulateReproducesTheRealFaultPoints runs the simulated half alone: the
// partition fires the instant a renew is answered, so the victim's last
// renew is answered exactly at the fault, and the step-down follows
// RetryPeriod + RenewDeadline later, as the arithmetic says.
func TestSimulateReproducesTheRealFaultPoints(t *testing.T) {
	plan := Plan{Name: "partition", Scenario: LeaderPartition}
	st, err := Simulate(t, plan, NewLatencyModel(nil), 7)
	if err != nil {
		t.Fatal(err)
	}
	var victim *Term
	for i, term := range st.Report.Terms {
		if term.Candidate == st.Victim {
			victim = &st.Report.Terms[i]
		}
	}
	if victim == nil || victim.LastRenew == nil {
		t.Fatalf("no term with a renew for victim %q: %+v", st.Victim, st.Report.Terms)
	}
	if victim.LastRenew.Answered != st.Fault {
		t.Errorf("last renew answered at %v, fault at %v: want the same instant", victim.LastRenew.Answered, st.Fault)
	}
	rp, rd := DefaultRetryPeriod, DefaultRenewDeadline
	if want := rp + rd; st.StepDown < want || st.StepDown > want+2*sim.DefaultLatency.Max {
		t.Errorf("step-down %v after the fault, want RP + RD = %v (plus a round trip)", st.StepDown, want)
	}
}

// The speed-up compares one trial with one trial: the sides run different
// numbers of them, so their summed wall times are not the same work.
func TestSpeedupIsPerTrial(t *testing.T) {
	if got := speedup(10*time.Second, 10, 2*time.Second, 200); got != 100 {
		t.Errorf("10 real trials in 10s against 200 seeds in 2s: speed-up %v, want 100 (1s against 10ms)", got)
	}
	if got := speedup(time.Second, 0, time.Second, 1); !math.IsNaN(got) {
		t.Errorf("no real trials: speed-up %v, want NaN", got)
	}
}
