package realapi

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/leaderlab/leaderlab/internal/testenv"
)

// apiServer is a real kube-apiserver and etcd shared by this package's tests.
var apiServer *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, func(env *testenv.Env) { apiServer = env }) }

// config is the test server's config with controller-runtime's manager rate
// limits (QPS 20, burst 30): client-go's own default of 5 QPS would throttle
// a leader that renews every 100ms and distort the timing under test.
func config() *rest.Config {
	cfg := rest.CopyConfig(apiServer.Config)
	cfg.QPS, cfg.Burst = 20, 30
	return cfg
}

const ms = time.Millisecond

// bounds are the expectations written out by hand from DESIGN.md's
// arithmetic and the elector's code (see Scenario.Expect for the derivation),
// with RT = 100ms (DefaultAllowance, no added latency). Grain G is 1s when the
// leader's renews can fall inside one wall-clock second (RetryPeriod < 1s):
// client-go compares the lease record with its renew time in whole seconds,
// so a follower may count the lease from a renew up to 1s before the last.
//
// Harness defaults LD 3s, RD 2s, RP 500ms: 2.2 RP = 1.1s, client timeout 1s,
// margin 500ms, G = 1s; a follower acts by LD + 2 x 2.2 RP + 5 RT after the
// last write it saw (follow = 2.7s).
//
// WholeSecondRetry LD 4s, RD 2s, RP 1s: client-go's defaults scaled down
// (margin 1s), with every renew visible (G = 0); follow = 4.9s.
//
// OverlapTiming LD 4s, RD 3.6s, RP 100ms: 2.2 RP = 220ms, client timeout
// 1.8s, margin 300ms, follow = 940ms, G = 1s, late answer L = 1.8s - 2 RT =
// 1.6s (late renews are RP + L apart: G = 0 for them).
var bounds = map[string]Expectation{
	// [LD - RP - RT - G, LD + follow + RT]
	"crash": {VictimEnd: "crash", Takeover: &Bound{1400 * ms, 5800 * ms}},
	// [0, 2.2 RP + 7 RT]
	"release": {VictimEnd: "stop", Takeover: &Bound{0, 1800 * ms}},
	// client timeout 1s + RP 500ms + 3 RT = 1.8s < RD 2s: keeps leading.
	"slow": {VictimEnd: "running"},
	// step-down [RD - RT, RD + RT], takeover [LD - G, LD + follow + RT],
	// overlap at most RD + RT - LD + G.
	"slow-no-timeout": {VictimEnd: "lost", StepDown: &Bound{1900 * ms, 2100 * ms}, Takeover: &Bound{2000 * ms, 5800 * ms}, Overlap: &Bound{0, 100 * ms}},
	// step-down [RP + RD, RP + RD + RT], takeover [LD - RT - G, LD + follow];
	// overlap at most 2 RT - margin + G.
	"partition": {VictimEnd: "lost", StepDown: &Bound{2500 * ms, 2600 * ms}, Takeover: &Bound{1900 * ms, 5700 * ms}, Overlap: &Bound{0, 700 * ms}},
	// As above with G = 0: overlap at most 2 RT - 1s < 0: none.
	"partition-whole-second-retry": {VictimEnd: "lost", StepDown: &Bound{3000 * ms, 3100 * ms}, Takeover: &Bound{3900 * ms, 8900 * ms}},
	// step-down [RD - RT, RP + RD + 2 RT], takeover [LD, LD + follow + RT]
	// (a new holder is always visible).
	"overwrite": {VictimEnd: "lost", StepDown: &Bound{1900 * ms, 2700 * ms}, Takeover: &Bound{3000 * ms, 5800 * ms}},
	// OverlapTiming, case (a): step-down RP + RD + 1.8s (+ RT); overlap
	// [1.8s - margin - follow, 1.8s - margin + 2 RT + G].
	"release-partition": {VictimEnd: "lost", StepDown: &Bound{5500 * ms, 5600 * ms}, Takeover: &Bound{2900 * ms, 4940 * ms}, Overlap: &Bound{560 * ms, 2700 * ms}},
	// OverlapTiming, case (b): takeover [LD - L - RT, LD - L + follow];
	// overlap [L - margin - follow, L - margin + 2 RT].
	"late-partition": {VictimEnd: "lost", StepDown: &Bound{3700 * ms, 3800 * ms}, Takeover: &Bound{2300 * ms, 3340 * ms}, Overlap: &Bound{360 * ms, 1500 * ms}},
	// Harness defaults, case (a): overlap possible, at most
	// client timeout - margin + 2 RT + G = 1.7s, not certain.
	"release-partition-defaults": {VictimEnd: "lost", StepDown: &Bound{3500 * ms, 3600 * ms}, Takeover: &Bound{1900 * ms, 5700 * ms}, Overlap: &Bound{0, 1700 * ms}},
}

// wholeSecondRetry keeps client-go's default proportions with a retry
// period of a whole second, so that every renew changes the record.
var wholeSecondRetry = Timing{LeaseDuration: 4 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: time.Second}

type scenarioCase struct {
	key      string
	scenario Scenario
	opts     Options
}

var cases = []scenarioCase{
	{"crash", LeaderCrash, Options{}},
	{"release", GracefulRelease, Options{}},
	{"slow", SlowRenew, Options{}},
	{"slow-no-timeout", SlowRenew, Options{NoClientTimeout: true}},
	{"partition", LeaderPartition, Options{}},
	{"partition-whole-second-retry", LeaderPartition, Options{Timing: wholeSecondRetry}},
	{"overwrite", LeaseOverwrite, Options{}},
	{"release-partition", PartitionWithRelease, Options{Timing: OverlapTiming()}},
	{"late-partition", LateRenewThenPartition, Options{Timing: OverlapTiming()}},
}

// TestExpect shows that Expect states the hand-derived bounds.
func TestExpect(t *testing.T) {
	all := append(cases, scenarioCase{"release-partition-defaults", PartitionWithRelease, Options{}})
	for _, c := range all {
		t.Run(c.key, func(t *testing.T) {
			got, err := c.scenario.Expect(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := bounds[c.key]
			if got.VictimEnd != want.VictimEnd {
				t.Errorf("VictimEnd = %q, want %q", got.VictimEnd, want.VictimEnd)
			}
			for _, b := range []struct {
				name      string
				got, want *Bound
			}{{"Takeover", got.Takeover, want.Takeover}, {"StepDown", got.StepDown, want.StepDown}, {"Overlap", got.Overlap, want.Overlap}} {
				if boundText(b.got, "nil") != boundText(b.want, "nil") {
					t.Errorf("%s = %s, want %s", b.name, boundText(b.got, "nil"), boundText(b.want, "nil"))
				}
			}
			if got.Why == "" {
				t.Error("Why is empty")
			}
		})
	}
}

// TestScenarios runs every scenario once on the real server and checks the
// trial against the hand-derived bounds. The scenarios run at once (each has
// its own lease, and most of a trial is waiting), not through t.Parallel,
// whose limit is the number of cores.
func TestScenarios(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type outcome struct {
		res *Results
		err error
	}
	outcomes := make([]outcome, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			res, err := Run(ctx, config(), c.opts, c.scenario)
			outcomes[i] = outcome{res, err}
		})
	}
	wg.Wait()
	for i, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			res, err := outcomes[i].res, outcomes[i].err
			if err != nil {
				t.Fatal(err)
			}
			t.Log("\n" + res.Text())
			tr := res.Trials[0]
			want := bounds[c.key]
			if tr.VictimEnd != want.VictimEnd {
				t.Errorf("the leader's term ended %q, want %q", tr.VictimEnd, want.VictimEnd)
			}
			assertWithin(t, "takeover", tr.Takeover, want.Takeover)
			if want.Takeover == nil && tr.Takeover >= 0 {
				t.Errorf("takeover after %v, want none", tr.Takeover)
			}
			assertWithin(t, "step-down", tr.StepDown, want.StepDown)
			switch {
			case want.Overlap == nil && len(tr.Report.Overlaps) > 0:
				t.Errorf("overlaps %+v, want none", tr.Report.Overlaps)
			case want.Overlap != nil && !want.Overlap.Contains(tr.Overlap):
				t.Errorf("longest overlap %v, want %v; overlaps %+v", tr.Overlap, want.Overlap, tr.Report.Overlaps)
			}
			assertFailovers(t, tr, want)
			if err := res.Check(); err != nil {
				t.Errorf("Check: %v", err)
			}
			if t.Failed() {
				t.Log("trace:\n" + tr.Report.TraceText())
			}
		})
	}
}

// assertWithin checks got against want; a nil want is not checked.
func assertWithin(t *testing.T, what string, got time.Duration, want *Bound) {
	t.Helper()
	if want != nil && !want.Contains(got) {
		t.Errorf("%s after %v, want %v", what, got, want)
	}
}

// assertFailovers checks the report's terms and failovers line up with the
// scenario: a leader that keeps leading has one term; one that stops without
// overlap hands over in exactly one failover caused by its end.
func assertFailovers(t *testing.T, tr Trial, want Expectation) {
	t.Helper()
	rep := tr.Report
	if want.VictimEnd == "running" {
		if len(rep.Terms) != 1 || len(rep.Failovers) != 0 {
			t.Errorf("terms %+v, failovers %+v: want the one term of the leader and no failover", rep.Terms, rep.Failovers)
		}
		return
	}
	if len(rep.Overlaps) > 0 {
		if len(rep.Failovers) != 0 {
			t.Errorf("failovers %+v, want none: the new leader started before the old stopped", rep.Failovers)
		}
		return
	}
	if len(rep.Failovers) != 1 {
		t.Fatalf("failovers %+v, want exactly one", rep.Failovers)
	}
	f := rep.Failovers[0]
	if f.From != tr.Victim || f.Cause != want.VictimEnd || f.Duration != f.End-f.Start || f.Duration < 0 {
		t.Errorf("failover %+v, want from %s caused by %q", f, tr.Victim, want.VictimEnd)
	}
	if want.VictimEnd == "lost" && (len(rep.LostWithoutCrash) != 1 || rep.LostWithoutCrash[0].Candidate != tr.Victim) {
		t.Errorf("lost without crash %+v, want the leader's term", rep.LostWithoutCrash)
	}
	if rep.Leaderless < f.Duration {
		t.Errorf("leaderless %v is less than the failover %v", rep.Leaderless, f.Duration)
	}
}

// TestClusterFaults drives a cluster by hand: partition and heal, crash and
// restart with the same identity, and checks what client-go must do.
func TestClusterFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	timing := DefaultTiming()
	cl, err := NewCluster(config(), ClusterOptions{Timing: timing, Candidates: 2, Namespace: "default", Lease: "realapi-cluster-faults"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	defer func() { _ = cl.DeleteLease(context.Background()) }()
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	within := timing.LeaseDuration + 2*timing.maxPoll() + time.Second
	leader, err := cl.AwaitLeader(ctx, within)
	if err != nil {
		t.Fatal(err)
	}
	follower := "c0"
	if leader == "c0" {
		follower = "c1"
	}

	// A partitioned follower cannot take over a healthy leader; healed, it
	// still follows.
	if err := cl.Partition(follower); err != nil {
		t.Fatal(err)
	}
	if err := sleep(ctx, timing.LeaseDuration, nil); err != nil {
		t.Fatal(err)
	}
	if err := cl.Heal(follower); err != nil {
		t.Fatal(err)
	}
	if got := cl.Leaders(); len(got) != 1 || got[0] != leader {
		t.Fatalf("leaders %v after the follower's partition, want [%s]", got, leader)
	}

	// Crash the leader, then restart it with the same identity at once: the
	// lease still names it, so client-go's elector renews instead of waiting
	// (it is the holder), and it leads again at its first poll, before the
	// follower's lease duration is up.
	if err := cl.Crash(leader); err != nil {
		t.Fatal(err)
	}
	if err := cl.Heal(leader); err == nil || !strings.Contains(err.Error(), "crashed") {
		t.Errorf("Heal of a crashed candidate: %v, want an error saying it crashed", err)
	}
	if err := cl.Crash(leader); err == nil {
		t.Error("a second Crash succeeded, want an error")
	}
	restart := time.Now()
	if err := cl.Restart(leader); err != nil {
		t.Fatal(err)
	}
	if err := cl.Restart(leader); err == nil {
		t.Error("Restart of a running candidate succeeded, want an error")
	}
	// The first poll is immediate: a Get and an Update, 2 RT.
	ok, err := cl.await(ctx, restart.Add(2*DefaultAllowance), func() bool {
		l := cl.Leaders()
		return len(l) == 1 && l[0] == leader
	})
	if err != nil || !ok {
		t.Fatalf("the restarted %s did not lead again within 2 RT (%v); trace:\n%s", leader, err, cl.traceTail(30))
	}
	rep := cl.Close()
	if len(rep.Terms) != 2 || rep.Terms[0].Candidate != leader || rep.Terms[0].EndCause != "crash" ||
		rep.Terms[1].Candidate != leader || rep.Terms[1].EndCause != "running" {
		t.Errorf("terms %+v, want %s's term ended by crash, then its new term running to the end", rep.Terms, leader)
	}
	if len(rep.Overlaps) != 0 {
		t.Errorf("overlaps %+v, want none", rep.Overlaps)
	}
	if rep.Requests.Dropped == 0 {
		t.Error("no dropped request counted, but the follower was partitioned")
	}
	if err := cl.Partition(leader); err == nil {
		t.Error("Partition after Close succeeded, want an error")
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, nil, Options{}, LeaderCrash); err == nil || !strings.Contains(err.Error(), "rest config") {
		t.Errorf("nil config: %v", err)
	}
	if _, err := Run(ctx, config(), Options{}, "no-such-scenario"); err == nil || !strings.Contains(err.Error(), "unknown scenario") {
		t.Errorf("unknown scenario: %v", err)
	}
	if _, err := Run(nil, config(), Options{}, LeaderCrash); err == nil || !strings.Contains(err.Error(), "ctx") {
		t.Errorf("nil ctx: %v", err)
	}
	unreachable := &rest.Config{Host: "http://127.0.0.1:1"}
	if _, err := Run(ctx, unreachable, Options{}, LeaderCrash); err == nil || !strings.Contains(err.Error(), "cannot list leases") {
		t.Errorf("unreachable server: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Run(cancelled, config(), Options{}, LeaderCrash); err == nil {
		t.Error("cancelled ctx: want an error")
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"negative lease", Options{Timing: Timing{LeaseDuration: -time.Second}}, "Timing.LeaseDuration (-1s) must not be negative"},
		{"fractional lease", Options{Timing: Timing{LeaseDuration: 2500 * ms}}, "whole number of seconds"},
		{"sub-second lease", Options{Timing: Timing{LeaseDuration: 500 * ms, RenewDeadline: 300 * ms, RetryPeriod: 100 * ms}}, "whole number of seconds"},
		{"renew deadline too long", Options{Timing: Timing{LeaseDuration: 3 * time.Second, RenewDeadline: 3 * time.Second}}, "RenewDeadline (3s) must be less than LeaseDuration (3s)"},
		{"retry period too long", Options{Timing: Timing{RetryPeriod: 2 * time.Second}}, "must be greater than 1.2 x RetryPeriod"},
		{"one candidate", Options{Candidates: 1}, "Candidates (1) must be between 2 and 50"},
		{"too many candidates", Options{Candidates: 51}, "Candidates (51) must be between 2"},
		{"negative trials", Options{Trials: -1}, "Trials (-1) must not be negative"},
		{"negative parallel", Options{Parallel: -2}, "Parallel (-2) must not be negative"},
		{"negative latency", Options{Latency: Latency{Response: -ms}}, "Latency (request 0s, response -1ms) must not be negative"},
		{"negative allowance", Options{Allowance: -ms}, "Allowance (-1ms) must not be negative"},
		{"bad namespace", Options{Namespace: "Not_A_Namespace"}, "realapi: Namespace"},
		{"slow response not slow", Options{SlowResponse: time.Second}, "SlowResponse (1s) must be longer than RenewDeadline (2s)"},
		{"late response past the timeout", Options{LateResponse: 950 * ms}, "LateResponse (950ms) must be positive and shorter than the request bound (1s) minus one round trip (100ms)"},
		{"late response too long for the lease", Options{Timing: Timing{LeaseDuration: 2 * time.Second, RenewDeadline: 1900 * ms, RetryPeriod: 500 * ms}, LateResponse: 800 * ms}, "too long for LeaseDuration (2s)"},
		{"negative late renews", Options{LateRenews: -1}, "LateRenews (-1) must not be negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.o.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, c.want)
			}
			if _, err := LeaderCrash.Expect(c.o); err == nil {
				t.Error("Expect accepted options that Validate rejects")
			}
		})
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
	if err := (Options{Timing: OverlapTiming()}).Validate(); err != nil {
		t.Errorf("OverlapTiming: %v", err)
	}
}

func TestNewClusterRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  *rest.Config
		o    ClusterOptions
		want string
	}{
		{"nil config", nil, ClusterOptions{Candidates: 1, Namespace: "default", Lease: "x"}, "rest config must not be nil"},
		{"no candidates", config(), ClusterOptions{Namespace: "default", Lease: "x"}, "Candidates (0) must be between 1 and 50"},
		{"no lease", config(), ClusterOptions{Candidates: 1, Namespace: "default"}, "Lease (\"\") must be set"},
		{"bad lease name", config(), ClusterOptions{Candidates: 1, Namespace: "default", Lease: "Bad_Name"}, "not a valid object name"},
		{"bad timing", config(), ClusterOptions{Candidates: 1, Namespace: "default", Lease: "x", Timing: Timing{RenewDeadline: 5 * time.Second}}, "must be less than LeaseDuration"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewCluster(c.cfg, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewCluster() = %v, want an error containing %q", err, c.want)
			}
		})
	}
	cl, err := NewCluster(config(), ClusterOptions{Candidates: 1, Namespace: "default", Lease: "realapi-unstarted"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Crash("c9"); err == nil || !strings.Contains(err.Error(), `no candidate "c9"`) {
		t.Errorf("Crash of an unknown candidate: %v", err)
	}
	if err := cl.Stop("c0"); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Errorf("Stop before Start: %v", err)
	}
	if rep := cl.Close(); rep.FirstLeader != -1 || len(rep.Terms) != 0 {
		t.Errorf("report of an unstarted cluster: %+v", rep)
	}
	if err := cl.Start(); err == nil {
		t.Error("Start after Close succeeded")
	}
}
