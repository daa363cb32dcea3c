package sim_test

// Fidelity: each expectation below comes from client-go's algorithm, never
// from an observed run. RP, LD and RD are the run's timing; rt is one round
// trip at the worst default latency.

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

const (
	ld = sim.DefaultLeaseDuration
	rd = sim.DefaultRenewDeadline
	rp = sim.DefaultRetryPeriod
	// ct is the client timeout leaderelection.NewResourceLock sets: max(RD/2, 1s).
	ct = rd / 2
)

// rt is one round trip (both legs) at the default latency's maximum.
var rt = 2 * sim.DefaultLatency.Max

var seeds = []int64{1, 2, 3, 4, 5, 6}

func forSeeds(t *testing.T, f func(t *testing.T, seed int64)) {
	for _, seed := range seeds {
		t.Run("seed="+strconv.FormatInt(seed, 10), func(t *testing.T) { f(t, seed) })
	}
}

func TestSteadyStateOneLeaderOneTerm(t *testing.T) {
	rep := sim.Test(t, sim.Options{Seed: 1, Candidates: 3}, func(c *sim.Cluster) {
		c.Advance(time.Hour)
	})
	if len(rep.Terms) != 1 {
		t.Fatalf("terms = %d, want exactly 1 in a fault-free hour\n%s", len(rep.Terms), rep.Text())
	}
	if got := rep.Terms[0]; got.EndCause != "running" || got.End != rep.Duration {
		t.Errorf("the only term ended early: %+v", got)
	}
	if len(rep.Overlaps)+len(rep.Failovers)+len(rep.LostWithoutCrash)+len(rep.Violations) != 0 {
		t.Errorf("fault-free run shows overlaps/failovers/losses/violations:\n%s", rep.Text())
	}
	// The leader renews every RP, so about LD/RP... an hour has 3600s/RP renews.
	if updates := rep.Requests.ByVerb[sim.VerbUpdate]; updates < int(time.Hour/(rp+rt))-1 || updates > int(time.Hour/rp)+1 {
		t.Errorf("updates = %d, want one renew per RP..RP+rt over an hour", updates)
	}
}

func TestCrashTakeoverWithinArithmeticBounds(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed int64) {
		var crashedAt time.Duration
		var crashed string
		rep := sim.Test(t, sim.Options{Seed: seed, Candidates: 3}, func(c *sim.Cluster) {
			crashed = c.AwaitLeader(ld)
			c.Advance(30*time.Second + time.Duration(seed)*333*time.Millisecond)
			crashedAt = c.Now()
			c.Crash(crashed)
			c.AwaitLeader(ld + 5*rp + 2*rt)
			c.Advance(time.Second)
		})
		if len(rep.Failovers) != 1 {
			t.Fatalf("failovers = %d, want 1\n%s", len(rep.Failovers), rep.Text())
		}
		f := rep.Failovers[0]
		w := scenarios.BoundsFor(rep.Options).Crash()
		if f.From != crashed || f.Cause != "crash" || f.Start != crashedAt {
			t.Errorf("failover %+v, want from %s after crash at %v", f, crashed, crashedAt)
		}
		if !w.Contains(f.Duration) {
			t.Errorf("takeover after %v, want within the crash bound %v", f.Duration, w)
		}
		if len(rep.Overlaps) != 0 {
			t.Errorf("overlap after a hard crash: %+v", rep.Overlaps)
		}
	})
}

func TestGracefulStopWithReleaseOnCancel(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed int64) {
		rep := sim.Test(t, sim.Options{Seed: seed, Candidates: 3, ReleaseOnCancel: true}, func(c *sim.Cluster) {
			c.Stop(c.AwaitLeader(ld))
			c.AwaitLeader(3 * rp)
			c.Advance(time.Second)
		})
		if len(rep.Failovers) != 1 || rep.Failovers[0].Cause != "stop" {
			t.Fatalf("want one failover caused by the stop\n%s", rep.Text())
		}
		if w, d := scenarios.BoundsFor(rep.Options).Handover(), rep.Failovers[0].Duration; !w.Contains(d) {
			t.Errorf("takeover after %v, want within the handover bound %v", d, w)
		}
		if len(rep.Overlaps) != 0 {
			t.Errorf("overlap after a graceful stop: %+v", rep.Overlaps)
		}
	})
}

// The claim in controller-runtime's RenewDeadline comment: the client timeout
// max(RD/2, 1s) lets one hung renew be retried inside the renew deadline.
func TestSlowRenewClientTimeout(t *testing.T) {
	for _, tc := range []struct {
		name            string
		noClientTimeout bool
		wantTerms       int
	}{
		{"with the default client timeout the leader keeps the lease", false, 1},
		{"without a client timeout the leader loses it", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forSeeds(t, func(t *testing.T, seed int64) {
				rep := sim.Test(t, sim.Options{Seed: seed, Candidates: 3, NoClientTimeout: tc.noClientTimeout}, func(c *sim.Cluster) {
					leader := c.AwaitLeader(ld)
					c.Advance(10 * time.Second)
					c.SlowNextResponse(leader, sim.VerbUpdate, rd+2*time.Second)
					c.Advance(time.Minute)
				})
				first := rep.Terms[0]
				if tc.wantTerms == 1 {
					if len(rep.Terms) != 1 || len(rep.LostWithoutCrash) != 0 {
						t.Errorf("leader lost the lease to one slow renew despite the client timeout\n%s", rep.Text())
					}
					if rep.Requests.Timeouts < 1 {
						t.Errorf("the slow renew was not abandoned at the client timeout: %+v", rep.Requests)
					}
					return
				}
				if first.EndCause != "lost" {
					t.Fatalf("first term ended by %q, want lost\n%s", first.EndCause, rep.Text())
				}
				if len(rep.Overlaps) != 0 {
					t.Errorf("overlap: %+v", rep.Overlaps)
				}
			})
		})
	}
}

func TestPartitionedLeaderStepsDownBeforeAnyFollowerActs(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed int64) {
		var leader string
		rep := sim.Test(t, sim.Options{Seed: seed, Candidates: 3}, func(c *sim.Cluster) {
			leader = c.AwaitLeader(ld)
			c.Advance(20*time.Second + time.Duration(seed)*271*time.Millisecond)
			c.Partition(leader)
			c.Advance(ld + rd + 5*rp)
		})
		first := rep.Terms[0]
		if first.Candidate != leader || first.EndCause != "lost" || first.LastRenew == nil {
			t.Fatalf("first term %+v, want %s to lose the lease after a renew", first, leader)
		}
		if since := first.End - first.LastRenew.Answered; since > rp+rd || since < rd {
			t.Errorf("stepped down %v after its last renew, want within [RD, RP+RD] = [%v, %v]", since, rd, rp+rd)
		}
		if len(rep.Terms) < 2 {
			t.Fatalf("no follower took over\n%s", rep.Text())
		}
		if next := rep.Terms[1]; next.Start < first.End {
			t.Errorf("%s acted at %v, before %s stopped at %v", next.Candidate, next.Start, leader, first.End)
		}
		if len(rep.Overlaps) != 0 {
			t.Errorf("plain partition with default timing overlaps: %+v", rep.Overlaps)
		}
	})
}

// Margin (b): with ReleaseOnCancel client-go releases (bounded by the client
// timeout) before it cancels the leader's context, so a partitioned leader
// acts up to (A-a) + RP + RD + CT - LD after the followers' lease count began,
// where A-a is the response leg of its last renew.
func TestReleaseOnCancelPartitionOverlap(t *testing.T) {
	overlaps := 0
	forSeeds(t, func(t *testing.T, seed int64) {
		rep := sim.Test(t, sim.Options{Seed: seed, Candidates: 3, ReleaseOnCancel: true, AllowOverlap: true}, func(c *sim.Cluster) {
			leader := c.AwaitLeader(ld)
			c.Advance(20*time.Second + time.Duration(seed)*271*time.Millisecond)
			c.Partition(leader)
			c.Advance(ld + rd + 5*rp)
		})
		checkOverlaps(t, rep, func(o sim.Overlap, old sim.Term) time.Duration {
			if !strings.Contains(o.Cause, "pending release") {
				t.Errorf("overlap cause %q does not name the pending release", o.Cause)
			}
			return (old.LastRenew.Answered - old.LastRenew.Applied) + rp + rd + ct - ld
		})
		overlaps += len(rep.Overlaps)
		for _, o := range rep.Overlaps {
			t.Logf("overlap %v: %s", o.Duration, o.Cause)
		}
	})
	if overlaps == 0 {
		t.Errorf("no seed showed the overlap the arithmetic allows (up to RP+RD+CT-LD = %v)", rp+rd+ct-ld)
	}
}

// Margin (a): the leader counts its renew deadline from the answer, followers
// count the lease from the write, so a renew answered r late moves the
// leader's step-down r later: overlap up to r + RP + RD - LD.
func TestLateRenewResponsesThenPartitionOverlap(t *testing.T) {
	const late = 4900 * time.Millisecond // > LD-RD-RP (3s), < client timeout (5s)
	overlaps := 0
	forSeeds(t, func(t *testing.T, seed int64) {
		rep := sim.Test(t, sim.Options{Seed: seed, Candidates: 3, AllowOverlap: true}, func(c *sim.Cluster) {
			leader := c.AwaitLeader(ld)
			c.Advance(10 * time.Second)
			c.SetLatency(leader, sim.VerbUpdate, sim.Dist{}, sim.Fixed(late))
			c.Advance(20*time.Second + time.Duration(seed)*271*time.Millisecond)
			c.Partition(leader)
			c.Advance(ld + rd + 5*rp)
		})
		checkOverlaps(t, rep, func(o sim.Overlap, old sim.Term) time.Duration {
			if !strings.Contains(o.Cause, "last renew") || strings.Contains(o.Cause, "pending release") {
				t.Errorf("overlap cause %q does not name the late renew alone", o.Cause)
			}
			if r := old.LastRenew.Answered - old.LastRenew.Applied; r != late {
				t.Errorf("last renew's response leg %v, want the injected %v", r, late)
			}
			return late + rp + rd - ld
		})
		overlaps += len(rep.Overlaps)
		for _, o := range rep.Overlaps {
			t.Logf("overlap %v: %s", o.Duration, o.Cause)
		}
	})
	if overlaps == 0 {
		t.Errorf("no seed showed the overlap the arithmetic allows (up to %v)", late+rp+rd-ld)
	}
}

// checkOverlaps checks every overlap against bound(overlap, old leader's term).
func checkOverlaps(t *testing.T, rep *sim.Report, bound func(sim.Overlap, sim.Term) time.Duration) {
	t.Helper()
	if len(rep.Violations) != 0 {
		t.Errorf("violations with AllowOverlap: %v", rep.Violations)
	}
	for _, o := range rep.Overlaps {
		var old *sim.Term
		for i := range rep.Terms {
			if tm := rep.Terms[i]; tm.Candidate == o.Old && tm.Start <= o.Start && tm.End == o.End {
				old = &rep.Terms[i]
			}
		}
		if old == nil || old.LastRenew == nil {
			t.Errorf("overlap %+v: old leader's term or last renew not found\n%s", o, rep.Text())
			continue
		}
		if b := bound(o, *old); o.Duration <= 0 || o.Duration > b {
			t.Errorf("overlap %v, want in (0, %v]\n%s", o.Duration, b, rep.Text())
		}
	}
}

func TestThunderingHerd(t *testing.T) {
	const n = 50
	rep := sim.Test(t, sim.Options{Seed: 1, Candidates: n, SameInstantStart: true, Latency: sim.Fixed(time.Millisecond)}, func(c *sim.Cluster) {
		c.AwaitLeader(time.Second)
		c.Advance(2 * time.Minute)
		if l := c.Leaders(); len(l) != 1 {
			t.Errorf("leaders after 2 minutes: %v, want exactly one", l)
		}
	})
	if len(rep.Terms) != 1 {
		t.Errorf("terms = %d, want 1", len(rep.Terms))
	}
	// Every candidate's first GET arrives (1ms) before any create (3ms), so
	// all n create and all but one get 409 AlreadyExists.
	if rep.Requests.Conflicts < n-1 {
		t.Errorf("conflicts = %d, want at least %d", rep.Requests.Conflicts, n-1)
	}
	if rep.ReplayExact {
		t.Errorf("a same-instant start with fixed latency claims exact replay")
	}
}
