package scenarios

import (
	"fmt"
	"time"

	"k8s.io/client-go/tools/leaderelection"

	"github.com/leaderlab/leaderlab/internal/lockrules"
	"github.com/leaderlab/leaderlab/sim"
)

// Window is an interval of virtual time, [Lo, Hi].
//
// For overlaps a Window reads differently: Hi is the longest overlap the
// arithmetic allows (Hi <= 0: none can happen) and Lo the shortest one it
// forces (Lo > 0: an overlap is certain).
type Window struct {
	Lo time.Duration `json:"lo"`
	Hi time.Duration `json:"hi"`
}

// Contains reports whether d lies in the window.
func (w Window) Contains(d time.Duration) bool { return d >= w.Lo && d <= w.Hi }

func (w Window) String() string { return fmt.Sprintf("[%v, %v]", w.Lo, w.Hi) }

// Bounds is client-go's failover arithmetic for one timing and latency model,
// and the module's one home for it: the catalog's expectations, the
// comparison of the simulator with a real API server and every test that
// checks a failover time come from here, never from an observed run, so a
// simulator that drifts from client-go fails instead of redefining them.
//
// The derivations name RP, RD, LD for RetryPeriod, RenewDeadline and
// LeaseDuration, L for the longest latency leg and RT = 2 L for one round trip.
// They rest on four facts of client-go v0.37: a follower waits RP..2.2 RP
// between attempts (JitterFactor 1.2, sliding); it restarts its LD countdown
// when it sees the raw record change, from the instant it read it; the leader
// starts a renew RP after the last one was answered and gives up RD later; and
// a released lease (empty holder) is taken at the next attempt.
type Bounds struct {
	// Timing is the resolved timing (no zero fields).
	Timing sim.Timing
	// Latency is the per-leg latency of the run.
	Latency sim.Dist
	// ClientTimeout is max(RD/2, 1s), the timeout leaderelection.NewResourceLock
	// gives each request, or 0 when the run removes it.
	ClientTimeout time.Duration
	// Allowance is the round trip of a real API server itself, scheduling
	// included, which a run on one adds to Latency's legs (Config.Allowance);
	// zero in the simulator, where Latency is the whole leg.
	Allowance time.Duration
}

// BoundsFor resolves the defaults of opts and returns its arithmetic.
func BoundsFor(opts sim.Options) Bounds {
	opts = opts.WithDefaults()
	t, lat := opts.Timing, opts.Latency
	b := Bounds{Timing: t, Latency: lat}
	if !opts.NoClientTimeout {
		b.ClientTimeout = lockrules.ClientTimeout(t.RenewDeadline)
	}
	return b
}

// Leg is the longest latency of one leg.
func (b Bounds) Leg() time.Duration { return max(b.Latency.Max, sim.MinLeg) }

// RoundTrip is the longest round trip, 2 L (plus the Allowance of a real
// server).
func (b Bounds) RoundTrip() time.Duration { return 2*b.Leg() + b.Allowance }

// MaxPoll is the longest wait of a follower between two attempts, 2.2 RP.
func (b Bounds) MaxPoll() time.Duration {
	return time.Duration((1 + leaderelection.JitterFactor) * float64(b.Timing.RetryPeriod))
}

// Margin is LD - RD - RP: how much later than the leader's own give-up a
// follower may take over. A late answer or a pending release longer than the
// margin is an overlap.
func (b Bounds) Margin() time.Duration {
	return b.Timing.LeaseDuration - b.Timing.RenewDeadline - b.Timing.RetryPeriod
}

// LatestAnswer is the latest answer a request of the lock is still waiting
// for: the client timeout, or without one the context client-go gives the
// request, which ends RD after the renew (or the release) began. A renew
// answered that late is still a success, and a release that cannot reach the
// API waits that long.
func (b Bounds) LatestAnswer() time.Duration {
	if b.ClientTimeout == 0 {
		return b.Timing.RenewDeadline
	}
	return min(b.ClientTimeout, b.Timing.RenewDeadline)
}

// ReleaseWait is how long a leader that cannot reach the API waits in its
// release (ReleaseOnCancel): the Get is bounded by the client timeout, or by
// the release context (RD) without one, so it is LatestAnswer.
func (b Bounds) ReleaseWait() time.Duration { return b.LatestAnswer() }

// Grain is how much older than the leader's last renew the write a follower
// counts LD from can be. client-go compares lease records as JSON, whose renew
// time has whole-second precision: renews less than a second apart can look
// the same, and a follower that sees no change keeps counting from the older
// one. Zero when RetryPeriod is at least a second, so consecutive renews
// always differ; otherwise up to a second.
func (b Bounds) Grain() time.Duration {
	if b.Timing.RetryPeriod >= time.Second {
		return 0
	}
	return time.Second
}

// Crash bounds a failover after a hard crash of the leader, from the crash to
// the next OnStartedLeading. The last renew was applied at most RP + 2 RT
// before the crash (or one leg after it, still in flight). A follower reads it
// within 2.2 RP + 3 L, can win once LD has passed since, at its next attempt
// (2.2 RP + RT), and needs a Get and an Update (2 RT) to lead:
// [LD - RP - 2 RT - Grain, LD + 4.4 RP + 5 RT + 4 L].
func (b Bounds) Crash() Window {
	t, rt := b.Timing, b.RoundTrip()
	return Window{Lo: t.LeaseDuration - t.RetryPeriod - 2*rt - b.Grain(), Hi: t.LeaseDuration + 2*b.MaxPoll() + 7*rt}
}

// Handover bounds a failover after a graceful stop with ReleaseOnCancel: the
// release (a Get and an Update, retried once on a conflict with a renew still
// in flight: 4 RT) empties the holder, and a follower takes it at its next
// attempt: [0, 2.2 RP + 7 RT].
func (b Bounds) Handover() Window {
	return Window{Lo: 0, Hi: b.MaxPoll() + 7*b.RoundTrip()}
}

// StepDown is the longest a leader that cannot renew acts on after the answer
// to its last successful renew: the next renew starts RP later and gives up RD
// after that; with ReleaseOnCancel the release waits ReleaseWait more.
func (b Bounds) StepDown(releaseOnCancel bool) time.Duration {
	d := b.Timing.RetryPeriod + b.Timing.RenewDeadline + b.RoundTrip()
	if releaseOnCancel {
		d += b.ReleaseWait()
	}
	return d
}

// PartitionFailover bounds the failover after the leader is cut off from the
// API (no ReleaseOnCancel), from its step-down to the next leader, when its
// last renew came back after a response leg of lateLeg (L for ordinary
// latency). The leader stops RP + RD after its last answer A; followers count
// LD from their read of that write, applied at A - lateLeg at the earliest:
// [Margin - lateLeg - Grain, Margin + 4.4 RP + 5 RT].
func (b Bounds) PartitionFailover(lateLeg time.Duration) Window {
	return Window{Lo: b.Margin() - lateLeg - b.Grain(), Hi: b.Margin() + 2*b.MaxPoll() + 5*b.RoundTrip()}
}

// PartitionOverlap bounds the overlap of a partitioned leader whose renews
// came back after a response leg drawn from leg (the run's Latency, or a
// late Fixed one): the leader acts until A + RP + RD (+ ReleaseWait with
// ReleaseOnCancel) after its last answer A; a follower can lead from
// A - leg + LD at the earliest, and from A - leg + LD + 4.4 RP + 5 RT at the
// latest. So the overlap is at most leg.Max (+ ReleaseWait) - Margin + Grain
// (a follower may count from an older renew), and certain from leg.Min
// (+ ReleaseWait) - Margin - 4.4 RP - 5 RT.
func (b Bounds) PartitionOverlap(leg sim.Dist, releaseOnCancel bool) Window {
	extra := -b.Margin()
	if releaseOnCancel {
		extra += b.ReleaseWait()
	}
	return Window{Lo: leg.Min + extra - 2*b.MaxPoll() - 5*b.RoundTrip(), Hi: max(leg.Max, sim.MinLeg) + extra + b.Grain()}
}

// MaxOverlap is the longest overlap client-go's algorithm allows whatever
// the network does, when no foreign writer touches the lease: a leader acts
// until RP + RD after its last successful renew was answered (+ ReleaseWait
// with ReleaseOnCancel), and that answer came back at most LatestAnswer
// after the renew was applied (a later one is a timeout), while a follower
// leads LD after it read that renew at the earliest, or after an older one
// (Grain). It is PartitionOverlap's upper end with a response leg of
// LatestAnswer: LatestAnswer (+ ReleaseWait) - Margin + Grain; negative
// when no overlap can happen.
func (b Bounds) MaxOverlap(releaseOnCancel bool) time.Duration {
	return b.PartitionOverlap(sim.Fixed(max(b.LatestAnswer(), b.Leg())), releaseOnCancel).Hi
}

// SafeLeaseDuration is the shortest whole-second LeaseDuration, for this
// RD, RP and latency, whose margin covers the longest late answer a client
// accepts (the client timeout) and a pending release: LD - RD - RP > ReleaseWait
// + L + Grain. Client-go's margin cannot be broken by either with it.
func (b Bounds) SafeLeaseDuration() time.Duration { return b.SafeLeaseDurationWithDrift(0) }

// SafeLeaseDurationWithDrift is SafeLeaseDuration when candidates' clocks
// may disagree by up to drift about one LeaseDuration: client-go measures
// every duration on the candidate's own clock (a follower counts LD from
// when it saw the record change, the leader counts RP + RD from its own last
// renew), so an offset between clocks does not matter, but a follower whose
// clock runs fast counts LD out up to drift early, and the margin must
// cover that too: LD - RD - RP > ReleaseWait + L + Grain + drift.
func (b Bounds) SafeLeaseDurationWithDrift(drift time.Duration) time.Duration {
	need := b.Timing.RenewDeadline + b.Timing.RetryPeriod + b.ReleaseWait() + b.Leg() + b.Grain() + drift
	return need.Truncate(time.Second) + time.Second
}

// OutageKept is the longest API outage (connections refused, answered at
// once) the leader keeps its lease through, wherever in its renew cycle the
// outage begins: at worst it begins just before a renew starts, whose
// attempts run every RP until RD has passed, so the first attempt after the
// outage comes up to RP after its end and needs a Get and an Update (2 RT)
// to succeed within RD: an outage of at most RD - RP - 2 RT.
func (b Bounds) OutageKept() time.Duration {
	return b.Timing.RenewDeadline - b.Timing.RetryPeriod - 2*b.RoundTrip()
}

// Overwrite bounds the failover after a foreign writer overwrites the lease at
// W: the leader's next renew (by W + RP + RT) conflicts, it sees a valid
// foreign holder and gives up RD after that renew began; followers count LD
// from their read of the foreign write: [LD - RD - RP - 2 RT, LD - RD + 4.4 RP + 7 RT].
func (b Bounds) Overwrite() Window {
	t, rt := b.Timing, b.RoundTrip()
	return Window{Lo: t.LeaseDuration - t.RenewDeadline - t.RetryPeriod - 2*rt, Hi: t.LeaseDuration - t.RenewDeadline + 2*b.MaxPoll() + 7*rt}
}

// DeleteOverlap bounds the overlap after a foreign delete of the lease: a
// follower that reads NotFound before the leader's next renew creates the
// lease and leads at once, while the leader's renew conflicts and it gives up
// RD after that renew began (by W + RP + RT): at most RP + RD + 2 RT. It is
// not certain: when the leader's renew comes first, it recreates the lease
// itself.
func (b Bounds) DeleteOverlap() Window {
	return Window{Lo: 0, Hi: b.Timing.RetryPeriod + b.Timing.RenewDeadline + 2*b.RoundTrip()}
}

func (b Bounds) String() string {
	t := b.Timing
	s := fmt.Sprintf("LD %v, RD %v, RP %v, latency %v per leg, client timeout %v", t.LeaseDuration, t.RenewDeadline, t.RetryPeriod, b.Latency, b.ClientTimeout)
	if b.Allowance > 0 {
		s += fmt.Sprintf(", round-trip allowance %v", b.Allowance)
	}
	return s
}
