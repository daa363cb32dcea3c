package scenarios

import (
	"math/rand/v2"
	"time"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/leaderlab/leaderlab/sim"
)

// Scenario is one entry of the catalog: a fault plan and what client-go's
// algorithm says must come of it, for any timing and candidate count.
type Scenario struct {
	// ID is short and stable: it names subtests, benchmark rows and files.
	ID string
	// Name is the spec's sentence.
	Name string
	// Description says what happens and why, in one paragraph.
	Description string
	// Setup adjusts the run's options (ReleaseOnCancel, candidates, timing);
	// nil keeps the Config's.
	Setup func(o *sim.Options)
	// Overlap is how long two candidates may act as leader at once under this
	// plan (see Window); nil means never. When its Hi is positive the run
	// allows overlaps, so that they are reported instead of failing it.
	Overlap func(p Params) Window
	// Failover is the window every failover of the plan lies in, when the
	// plan's purpose is one (crash, handover, rollout); benchmarks count the
	// failovers outside it. Nil otherwise.
	Failover func(p Params) Window
	// Fault is the kind of the fault this plan is about: the comparison of the
	// two backends measures takeover, step-down and overlap from its first
	// span. Empty for plans without one (steady state, thundering herd).
	Fault sim.FaultKind
	// Plan drives the cluster: in virtual time in the simulator, in real
	// time on a real API server, with the same calls.
	Plan func(c *sim.Cluster, p Params)
	// Expect is what the report must show, from Bounds alone.
	Expect func(p Params) types.GomegaMatcher
}

// Params is what a plan and its expectations know about a run: the arithmetic
// of its timing and latency, the resolved options and a random stream of the
// run's own (seeded from the seed, apart from the simulator's streams), for
// choices such as the instant of a crash.
type Params struct {
	Bounds
	Options sim.Options
	Rand    *rand.Rand
}

// Catalog returns every scenario, in the order the suite runs them.
func Catalog() []Scenario {
	return []Scenario{
		SteadyState, LeaderCrash, GracefulHandover, RollingRestart,
		SlowRenew, SlowRenewWithoutClientTimeout,
		ShortOutage, LongOutage,
		PartitionedLeader, PartitionedLeaderWithRelease, PartitionedLeaderWithReleaseSafeLease,
		LateRenewsThenPartition, LateRenewsThenPartitionSafeLease,
		ErrorStorm, LeaseDeleted, LeaseOverwritten, ThunderingHerd,
	}
}

// settle lets a few lease durations pass after the first leader, at a seeded
// phase of the renew cycle, so that faults hit the leader anywhere in it.
func settle(c *sim.Cluster, p Params) string {
	leader := c.AwaitLeader(p.Crash().Hi)
	c.Advance(p.Timing.LeaseDuration + time.Duration(p.Rand.Int64N(int64(p.MaxPoll()))))
	return leader
}

func base(extra ...types.GomegaMatcher) types.GomegaMatcher {
	return gomega.And(append([]types.GomegaMatcher{HaveNoSplitBrain(), HaveOneLeaderAtEnd()}, extra...)...)
}

// oneFailover expects a run whose one fault ends the leader's term: every
// failover in w, no more leaderless time than one, and no other loss.
func oneFailover(w Window) types.GomegaMatcher {
	return base(HaveFailoversWithin(w), HaveLeaderlessTimeAtMost(w.Hi), HaveNoLossWithoutCrash())
}

// SteadyState: no faults.
var SteadyState = Scenario{
	ID:   "steady-state",
	Name: "elects one leader that leads without a gap while nothing fails",
	Description: "The candidates start a few milliseconds apart against a healthy API. The first " +
		"to read NotFound creates the lease; the others see a valid holder and wait. The leader renews " +
		"every RetryPeriod, far inside RenewDeadline, so for the whole run there is one term, no " +
		"failover and no leaderless time.",
	Plan: func(c *sim.Cluster, p Params) {
		c.AwaitLeader(p.Crash().Hi)
		c.Advance(max(time.Minute, 4*p.Timing.LeaseDuration))
	},
	Expect: func(p Params) types.GomegaMatcher {
		return base(HaveNoLossWithoutCrash(), HaveLeaderlessTimeAtMost(0))
	},
}

// LeaderCrash: the leader's process dies without releasing.
var LeaderCrash = Scenario{
	ID:    "crash",
	Fault: sim.FaultCrash,
	Name:  "replaces a crashed leader within LD - RP .. LD + 4.4 RP",
	Description: "The leader's process dies at a random point of its renew cycle: it cannot release " +
		"the lease. Its last renew was applied at most RetryPeriod before; a follower reads it within " +
		"2.2 RetryPeriod, must then wait LeaseDuration from that read, and wins at its next attempt. So " +
		"the failover lies in [LD - RP, LD + 4.4 RP] plus a few round trips (Bounds.Crash).",
	Failover: func(p Params) Window { return p.Crash() },
	Plan: func(c *sim.Cluster, p Params) {
		c.Crash(settle(c, p))
		c.Advance(p.Crash().Hi + p.Timing.RetryPeriod)
	},
	Expect: func(p Params) types.GomegaMatcher { return oneFailover(p.Crash()) },
}

// GracefulHandover: the leader stops with ReleaseOnCancel.
var GracefulHandover = Scenario{
	ID:    "handover",
	Fault: sim.FaultStop,
	Name:  "hands over within 2.2 RP when a leader stops with ReleaseOnCancel",
	Description: "The leader shuts down gracefully with ReleaseOnCancel: it stops acting at once and " +
		"writes an empty holder. A follower takes an empty lease at its next attempt, at most 2.2 " +
		"RetryPeriod later, instead of waiting out LeaseDuration (Bounds.Handover).",
	Setup:    func(o *sim.Options) { o.ReleaseOnCancel = true },
	Failover: func(p Params) Window { return p.Handover() },
	Plan: func(c *sim.Cluster, p Params) {
		c.Stop(settle(c, p))
		c.Advance(p.Handover().Hi + p.Timing.RetryPeriod)
	},
	Expect: func(p Params) types.GomegaMatcher { return oneFailover(p.Handover()) },
}

// RollingRestart: every replica is replaced in turn, with ReleaseOnCancel.
var RollingRestart = Scenario{
	ID:   "rolling-restart",
	Name: "keeps every failover of a rolling restart within the handover bound",
	Description: "Every replica is stopped gracefully (ReleaseOnCancel) and replaced by a pod with a " +
		"new identity, one after the other, as a Deployment rollout does. Each stop of the acting " +
		"leader is a handover, bounded like one (Bounds.Handover); a rollout costs at most one " +
		"handover per replica, and at the end the last replacement or an earlier one leads.",
	Setup:    func(o *sim.Options) { o.ReleaseOnCancel = true },
	Failover: func(p Params) Window { return p.Handover() },
	Plan: func(c *sim.Cluster, p Params) {
		settle(c, p)
		for i := range p.Options.Candidates {
			name := sim.CandidateName(i)
			c.Stop(name)
			c.Advance(p.Timing.RetryPeriod)
			c.StartAs(name, name+"-new")
			c.Advance(p.Handover().Hi + p.Timing.RetryPeriod)
		}
	},
	Expect: func(p Params) types.GomegaMatcher {
		return base(HaveFailoversWithin(p.Handover()), HaveNoLossWithoutCrash(),
			HaveLeaderlessTimeAtMost(time.Duration(p.Options.Candidates)*p.Handover().Hi))
	},
}

// slowRenewKept is whether a renew answered after RenewDeadline is abandoned
// in time to retry within the same renew deadline: the client gives up at
// the client timeout, the next attempt starts at most RP later and needs a
// conflicting Update, a Get and an Update.
func slowRenewKept(b Bounds) bool {
	return b.ClientTimeout > 0 && b.ClientTimeout+b.Timing.RetryPeriod+3*b.RoundTrip() < b.Timing.RenewDeadline
}

func slowRenewPlan(c *sim.Cluster, p Params) {
	leader := settle(c, p)
	c.SlowNextResponse(leader, sim.VerbUpdate, p.Timing.RenewDeadline+p.Timing.RetryPeriod)
	c.Advance(p.Crash().Hi + p.Timing.RenewDeadline)
}

// SlowRenew: one renew answered after RenewDeadline, client timeout in force.
var SlowRenew = Scenario{
	ID:    "slow-renew",
	Fault: sim.FaultSlowResponse,
	Name:  "keeps leadership through one renew answered after RenewDeadline, thanks to the client timeout",
	Description: "One renew of the leader is answered RD + RP late. The client timeout that " +
		"NewResourceLock sets, max(RD/2, 1s), abandons it; the next attempt (at most RP later) conflicts " +
		"with the write the server did apply, reads the lease and renews, all before RenewDeadline: " +
		"leadership is kept whenever client timeout + RP + 3 round trips < RD. This is the claim of " +
		"controller-runtime's RenewDeadline comment.",
	Plan: slowRenewPlan,
	Expect: func(p Params) types.GomegaMatcher {
		if slowRenewKept(p.Bounds) {
			return base(HaveNoLossWithoutCrash(), HaveLeaderlessTimeAtMost(0))
		}
		return base(HaveLossesWithoutCrash(gomega.BeNumerically("<=", 1)))
	},
}

// SlowRenewWithoutClientTimeout: the same slow renew with the timeout removed.
var SlowRenewWithoutClientTimeout = Scenario{
	ID:    "slow-renew-no-timeout",
	Fault: sim.FaultSlowResponse,
	Name:  "loses leadership to one renew answered after RenewDeadline when the client timeout is removed",
	Description: "The same slow renew, with the client timeout removed. The request now waits for its " +
		"answer until the renew context's deadline, RD after the renew began, so the leader gives up " +
		"exactly once. The write was applied, so the lease still names it: it rejoins and takes the " +
		"lease back at its next attempt, and nobody else leads in between.",
	Setup: func(o *sim.Options) { o.NoClientTimeout = true },
	Plan:  slowRenewPlan,
	Expect: func(p Params) types.GomegaMatcher {
		return base(HaveLossesWithoutCrash(gomega.Equal(1)), HaveLeaderlessTimeAtMost(p.Handover().Hi))
	},
}

// shortOutage and longOutage are the outage lengths of the two scenarios:
// (RD - RP)/2 leaves the renew loop at least one attempt after the outage
// within its deadline; RD + 2 RP outlasts every attempt of one renew.
func shortOutage(b Bounds) time.Duration { return (b.Timing.RenewDeadline - b.Timing.RetryPeriod) / 2 }
func longOutage(b Bounds) time.Duration  { return b.Timing.RenewDeadline + 2*b.Timing.RetryPeriod }

// ShortOutage: the API refuses connections for less than RD - RP.
var ShortOutage = Scenario{
	ID:    "outage-short",
	Fault: sim.FaultOutage,
	Name:  "keeps leadership through an API outage shorter than RenewDeadline - RetryPeriod",
	Description: "The API refuses every connection for (RD - RP)/2. Requests fail fast; the leader's " +
		"renew loop retries every RetryPeriod until RenewDeadline, so an attempt after the outage " +
		"still falls inside the deadline whenever outage + RP + 2 round trips <= RD, and the lease is " +
		"kept. Followers cannot read the lease during the outage and take nothing.",
	Plan: func(c *sim.Cluster, p Params) {
		settle(c, p)
		c.Outage(shortOutage(p.Bounds))
		c.Advance(p.Crash().Hi)
	},
	Expect: func(p Params) types.GomegaMatcher {
		if shortOutage(p.Bounds) <= p.OutageKept() {
			return base(HaveNoLossWithoutCrash(), HaveLeaderlessTimeAtMost(0))
		}
		return base(HaveLeaderWithin(p.Crash().Hi, sim.FaultOutage))
	},
}

// LongOutage: the API refuses connections for longer than RD + RP.
var LongOutage = Scenario{
	ID:    "outage-long",
	Fault: sim.FaultOutage,
	Name:  "loses leadership in an API outage longer than RenewDeadline and elects a leader within a crash bound after it",
	Description: "The API refuses every connection for RD + 2 RP: every attempt of one renew fails and " +
		"the leader gives up, exactly once. Nobody can read or write the lease until the outage ends; " +
		"then the old leader (the lease still names it) or a follower whose LeaseDuration has run out " +
		"takes it. That is no worse than a crash at the end of the outage (Bounds.Crash).",
	Plan: func(c *sim.Cluster, p Params) {
		settle(c, p)
		c.Outage(longOutage(p.Bounds))
		c.Advance(longOutage(p.Bounds) + p.Crash().Hi + p.Timing.RetryPeriod)
	},
	Expect: func(p Params) types.GomegaMatcher {
		return base(HaveLossesWithoutCrash(gomega.Equal(1)), HaveLeaderWithin(p.Crash().Hi, sim.FaultOutage))
	},
}

// partitionPlan partitions the leader after a settle, optionally after
// making its renews' answers late by lateLeg.
func partitionPlan(lateLeg func(Bounds) time.Duration) func(c *sim.Cluster, p Params) {
	return func(c *sim.Cluster, p Params) {
		leader := settle(c, p)
		if lateLeg != nil {
			leg := lateLeg(p.Bounds)
			c.SetLatency(leader, sim.VerbUpdate, sim.Dist{}, sim.Fixed(leg))
			c.Advance(3 * (p.Timing.RetryPeriod + leg))
		}
		// The instant a renew is answered, so that the leader's last
		// successful renew is known exactly, on either backend.
		c.Inject(sim.Fault{Kind: sim.FaultPartition, Candidate: leader, AfterWrites: 1})
		c.Advance(p.Timing.RetryPeriod + p.MaxPoll() + 2*p.RoundTrip() + lateLeg0(lateLeg, p.Bounds))
		c.Advance(p.StepDown(p.Options.ReleaseOnCancel) + p.Crash().Hi)
	}
}

// lateLeg0 is lateLeg's leg, or 0 without one.
func lateLeg0(lateLeg func(Bounds) time.Duration, b Bounds) time.Duration {
	if lateLeg == nil {
		return 0
	}
	return lateLeg(b)
}

// lateLeg is the response leg of LateRenewsThenPartition: 90% of the latest
// answer a renew accepts (the client timeout, or RD without one), late but
// still accepted.
func lateLeg(b Bounds) time.Duration { return b.LatestAnswer() * 9 / 10 }

// renewLeg is the response leg of the leader's renews: lateLeg's, or the
// run's latency.
func renewLeg(lateLeg func(Bounds) time.Duration, b Bounds) sim.Dist {
	if lateLeg == nil {
		return b.Latency
	}
	return sim.Fixed(lateLeg(b))
}

func partitionOverlap(lateLeg func(Bounds) time.Duration) func(p Params) Window {
	return func(p Params) Window {
		return p.PartitionOverlap(renewLeg(lateLeg, p.Bounds), p.Options.ReleaseOnCancel)
	}
}

func partitionExpect(lateLeg func(Bounds) time.Duration) func(p Params) types.GomegaMatcher {
	overlap := partitionOverlap(lateLeg)
	return func(p Params) types.GomegaMatcher {
		m := []types.GomegaMatcher{
			HaveOverlapsWithin(overlap(p)), HaveOneLeaderAtEnd(), HaveLossesWithoutCrash(gomega.Equal(1)),
			HaveSteppedDownWithin(p.StepDown(p.Options.ReleaseOnCancel)),
		}
		if overlap(p).Hi <= 0 && !p.Options.ReleaseOnCancel {
			m = append(m, HaveFailoversWithin(p.PartitionFailover(renewLeg(lateLeg, p.Bounds).Max)))
		}
		return gomega.And(m...)
	}
}

func safeLease(o *sim.Options) {
	o.Timing.LeaseDuration = BoundsFor(*o).SafeLeaseDuration()
}

// PartitionedLeader: the leader is cut off from the API.
var PartitionedLeader = Scenario{
	ID:    "partition",
	Fault: sim.FaultPartition,
	Name:  "steps a partitioned leader down within RP + RD of its last renew, before anyone takes over",
	Description: "The leader is cut off from the API both ways. Its next renew starts RP after the " +
		"last answer and gives up RD later, so it stops acting RP + RD after its last renew as it saw " +
		"it. Followers count LeaseDuration from their read of that renew, which was applied one " +
		"response leg before the leader saw it. The margin LD - RD - RP (3s by default) keeps the two " +
		"apart when it exceeds one leg (Bounds.PartitionOverlap, Bounds.PartitionFailover).",
	Overlap: partitionOverlap(nil),
	Plan:    partitionPlan(nil),
	Expect:  partitionExpect(nil),
}

// PartitionedLeaderWithRelease: margin case (b).
var PartitionedLeaderWithRelease = Scenario{
	ID:    "partition-release",
	Fault: sim.FaultPartition,
	Name:  "lets a partitioned leader with ReleaseOnCancel act on while its release times out, which can overlap the next leader",
	Description: "Margin-breaking case (b). With ReleaseOnCancel, when the partitioned leader's renew " +
		"gives up, client-go first tries to release the lease and only then cancels the context it " +
		"handed to OnStartedLeading. The release's Get cannot reach the API and waits for the client " +
		"timeout, so the leader acts for RP + RD + client timeout after its last renew: up to client " +
		"timeout - margin (2s with defaults) longer than a follower must wait. The overlap is certain " +
		"when that exceeds 4.4 RP. Remove it with a LeaseDuration of at least Bounds.SafeLeaseDuration " +
		"(18s for 10s/2s) or without ReleaseOnCancel.",
	Setup:   func(o *sim.Options) { o.ReleaseOnCancel = true },
	Overlap: partitionOverlap(nil),
	Plan:    partitionPlan(nil),
	Expect:  partitionExpect(nil),
}

// PartitionedLeaderWithReleaseSafeLease: case (b) with the fix.
var PartitionedLeaderWithReleaseSafeLease = Scenario{
	ID:    "partition-release-safe",
	Fault: sim.FaultPartition,
	Name:  "never overlaps a partitioned leader with ReleaseOnCancel once LeaseDuration covers RD + RP + the release",
	Description: "The fix for case (b): LeaseDuration raised to Bounds.SafeLeaseDuration, so that " +
		"LD - RD - RP exceeds the release's wait (the client timeout) plus one leg. Followers now wait " +
		"out the pending release; the same plan shows no overlap.",
	Setup:   func(o *sim.Options) { o.ReleaseOnCancel = true; safeLease(o) },
	Overlap: partitionOverlap(nil),
	Plan:    partitionPlan(nil),
	Expect:  partitionExpect(nil),
}

// LateRenewsThenPartition: margin case (a).
var LateRenewsThenPartition = Scenario{
	ID:    "late-renews-partition",
	Fault: sim.FaultPartition,
	Name:  "lets a leader whose renews were answered late, then partitioned, overlap the next leader by up to the late answer minus the margin",
	Description: "Margin-breaking case (a). The leader's renews are answered after 90% of the client " +
		"timeout (4.5s with defaults): late, but accepted. Then it is partitioned. It counts its renew " +
		"deadline from when the last answer arrived, while followers count the lease from their read " +
		"of the write, which the server applied 4.5s earlier. When the late leg exceeds the margin " +
		"LD - RD - RP, the leader can act up to leg - margin (1.5s with defaults) after a follower " +
		"took over. A LeaseDuration of at least Bounds.SafeLeaseDuration removes it, because no accepted " +
		"answer is later than the client timeout.",
	Overlap: partitionOverlap(lateLeg),
	Plan:    partitionPlan(lateLeg),
	Expect:  partitionExpect(lateLeg),
}

// LateRenewsThenPartitionSafeLease: case (a) with the fix.
var LateRenewsThenPartitionSafeLease = Scenario{
	ID:    "late-renews-partition-safe",
	Fault: sim.FaultPartition,
	Name:  "never overlaps a leader with late renews, then partitioned, once LeaseDuration covers RD + RP + the client timeout",
	Description: "The fix for case (a): LeaseDuration raised to Bounds.SafeLeaseDuration. The latest " +
		"answer a client accepts comes within the client timeout, which the margin now exceeds; the " +
		"same plan shows no overlap.",
	Setup:   safeLease,
	Overlap: partitionOverlap(lateLeg),
	Plan:    partitionPlan(lateLeg),
	Expect:  partitionExpect(lateLeg),
}

// stormFor is how long each half of the error storm lasts.
func stormFor(b Bounds) time.Duration { return 2 * b.Timing.LeaseDuration }

// stormOverlap is how long a leader deposed by failing (not late) requests
// can act beside its successor: a leader whose last renew was answered after
// an ordinary leg, partitioned, overlaps by at most the same.
func stormOverlap(p Params) Window {
	return Window{Lo: 0, Hi: p.PartitionOverlap(p.Latency, false).Hi}
}

// ErrorStorm: half of all requests fail with 500, then with 429.
var ErrorStorm = Scenario{
	ID:    "error-storm",
	Fault: sim.FaultErrors,
	Name:  "never elects two leaders in a storm of 500 and 429 answers, and has a leader within a crash bound after it",
	Description: "For 2 LD half of all requests are answered 500, then for 2 LD half are answered 429 " +
		"with Retry-After 1s (client-go's REST client waits and retries those). The leader may lose " +
		"its lease when every attempt of one renew fails, but errors are answered without being " +
		"applied, so no answer is late and the margin holds: never two leaders, as long as followers see " +
		"every renew. With a RetryPeriod under a second they may not (client-go's whole-second renew " +
		"times, Bounds.Grain): a follower can count the lease from an older renew and take over up to " +
		"leg + Grain - margin before the deposed leader gives up. After the storm the cluster is no " +
		"worse off than after a crash at its end (Bounds.Crash).",
	Overlap: stormOverlap,
	Plan: func(c *sim.Cluster, p Params) {
		settle(c, p)
		d := stormFor(p.Bounds)
		c.Inject(sim.Fault{Kind: sim.FaultErrors, Code: 500, Rate: 0.5, For: d})
		c.Advance(d + p.Timing.RetryPeriod)
		c.Inject(sim.Fault{Kind: sim.FaultErrors, Code: 429, Rate: 0.5, RetryAfter: time.Second, For: d})
		c.Advance(d + p.Crash().Hi + p.Timing.RetryPeriod)
	},
	Expect: func(p Params) types.GomegaMatcher {
		return gomega.And(HaveOverlapsWithin(stormOverlap(p)), HaveOneLeaderAtEnd(), HaveLeaderWithin(p.Crash().Hi, sim.FaultErrors))
	},
}

// LeaseDeleted: a foreign writer deletes the lease.
var LeaseDeleted = Scenario{
	ID:    "lease-deleted",
	Fault: sim.FaultDeleteLease,
	Name:  "recreates a deleted lease, and a follower that recreates it can act beside the old leader for up to RP + RD",
	Description: "Someone deletes the lease. If the leader's next renew comes first, it gets NotFound, " +
		"reads NotFound and creates the lease again: nothing else happens. If a follower reads NotFound " +
		"first, it creates the lease and leads at once, while the old leader's renew conflicts, finds a " +
		"valid foreign holder and gives up only RD after that renew began: the two act at once for up to " +
		"RP + RD (Bounds.DeleteOverlap). No timing removes this; do not delete a live lease.",
	Overlap: func(p Params) Window { return p.DeleteOverlap() },
	Plan: func(c *sim.Cluster, p Params) {
		settle(c, p)
		c.DeleteLease()
		c.Advance(p.DeleteOverlap().Hi + p.Crash().Hi)
	},
	Expect: func(p Params) types.GomegaMatcher {
		return gomega.And(HaveOverlapsWithin(p.DeleteOverlap()), HaveOneLeaderAtEnd(),
			HaveLossesWithoutCrash(gomega.BeNumerically("<=", 1)), HaveLeaderlessTimeAtMost(0))
	},
}

func overwriteOverlap(p Params) Window {
	w := p.Overwrite()
	return Window{Lo: -w.Hi, Hi: -w.Lo}
}

// LeaseOverwritten: a foreign writer takes the lease.
var LeaseOverwritten = Scenario{
	ID:    "lease-overwritten",
	Fault: sim.FaultOverwriteLease,
	Name:  "gives up a lease overwritten by a foreign writer within RP + RD, and a candidate takes over after LeaseDuration",
	Description: "A foreign writer puts its own identity in the lease and never renews it. The " +
		"leader's next renew conflicts; it reads a valid foreign holder and gives up RD after that " +
		"renew began. Followers, and the old leader once it rejoins, count LeaseDuration from their " +
		"read of the foreign write before they take the lease (Bounds.Overwrite).",
	Overlap: overwriteOverlap,
	Plan: func(c *sim.Cluster, p Params) {
		settle(c, p)
		c.OverwriteLease("foreign-writer")
		c.Advance(p.StepDown(false) + p.Overwrite().Hi + p.Timing.RetryPeriod)
	},
	Expect: func(p Params) types.GomegaMatcher {
		m := []types.GomegaMatcher{HaveOverlapsWithin(overwriteOverlap(p)), HaveOneLeaderAtEnd(),
			HaveLossesWithoutCrash(gomega.Equal(1)), HaveLeaderlessTimeAtMost(p.Overwrite().Hi)}
		if overwriteOverlap(p).Hi <= 0 {
			m = append(m, HaveFailoversWithin(p.Overwrite()))
		}
		return gomega.And(m...)
	},
}

// HerdSize is the least number of candidates of ThunderingHerd.
const HerdSize = 50

// ThunderingHerd: many candidates start at the same instant.
var ThunderingHerd = Scenario{
	ID:   "thundering-herd",
	Name: "elects exactly one leader among fifty candidates that start at the same instant",
	Description: "At least 50 candidates start at the same instant. All read NotFound and race to " +
		"create the lease; the server accepts the first create and answers AlreadyExists to the rest, " +
		"whose next reads find a valid holder. So the first leader comes after one Get and one Create, " +
		"there is one term, and at most one conflict per losing candidate.",
	Setup: func(o *sim.Options) { o.Candidates = max(o.Candidates, HerdSize); o.SameInstantStart = true },
	Plan: func(c *sim.Cluster, p Params) {
		c.AwaitLeader(p.Crash().Hi)
		c.Advance(2 * p.Timing.LeaseDuration)
	},
	Expect: func(p Params) types.GomegaMatcher {
		return base(HaveNoLossWithoutCrash(), HaveLeaderlessTimeAtMost(0),
			gomega.HaveField("FirstLeader", gomega.BeNumerically("<=", 2*p.RoundTrip())),
			gomega.HaveField("Requests.Conflicts", gomega.BeNumerically("<=", p.Options.Candidates-1)))
	},
}
