package realapi

import (
	"fmt"
	"slices"
	"time"
)

// Scenario names a fault plan that a real API server can reproduce. Each
// states, through Expect, the bounds client-go's algorithm gives for it.
type Scenario string

// The scenarios. "The leader" is the candidate acting as leader when the
// fault is injected (the victim); "the fault" is the instant the bounds are
// measured from.
const (
	// LeaderCrash: the leader's process ends at once (network cut, then its
	// context cancelled): it cannot release. The fault is the crash.
	LeaderCrash Scenario = "leader-crash"
	// GracefulRelease: the leader's context is cancelled with
	// ReleaseOnCancel; it stops acting at once and releases the lease. The
	// fault is the cancel.
	GracefulRelease Scenario = "graceful-release"
	// SlowRenew: one renew of the leader is answered after
	// Options.SlowResponse (longer than RenewDeadline). With the client
	// timeout, the request is abandoned at the timeout and the leader renews
	// on its next try; with Options.NoClientTimeout the request eats the
	// whole renew deadline and the leader loses. The fault is when that renew
	// is sent.
	SlowRenew Scenario = "slow-renew"
	// LeaderPartition: the leader is black-holed the instant a renew of its
	// is answered, so its last successful renew is exactly the fault.
	LeaderPartition Scenario = "leader-partition"
	// LeaseOverwrite: a foreign writer writes another holder into the lease.
	// The fault is just before that write is sent.
	LeaseOverwrite Scenario = "lease-overwrite"
	// PartitionWithRelease: as LeaderPartition, with ReleaseOnCancel. client-go
	// tries to release (and waits for the request bound, the API being
	// unreachable) before it cancels the leader's context: the leader acts
	// for that long past its renew deadline (margin case (a)).
	PartitionWithRelease Scenario = "partition-with-release"
	// LateRenewThenPartition: the leader's next Options.LateRenews renews are
	// answered after Options.LateResponse (inside the client timeout), and the
	// leader is black-holed the instant the last is answered. The leader counts
	// its deadline from the late answer, followers count the lease from the
	// earlier write (margin case (b)). The fault is the partition.
	LateRenewThenPartition Scenario = "late-renew-then-partition"
)

// Scenarios lists every scenario.
func Scenarios() []Scenario {
	return []Scenario{LeaderCrash, GracefulRelease, SlowRenew, LeaderPartition, LeaseOverwrite, PartitionWithRelease, LateRenewThenPartition}
}

func (s Scenario) known() bool { return slices.Contains(Scenarios(), s) }

// Description is one paragraph on what the scenario does and why it matters.
func (s Scenario) Description() string {
	switch s {
	case LeaderCrash:
		return "The leader's process dies without a word (kill -9, node loss). Followers cannot tell: they take over one lease duration after they last saw the lease change."
	case GracefulRelease:
		return "The leader shuts down with ReleaseOnCancel: it stops acting at once and clears the lease, so a follower takes over at its next poll instead of after a lease duration."
	case SlowRenew:
		return "One renew is answered later than the renew deadline. controller-runtime's RenewDeadline comment claims the client timeout, max(RenewDeadline/2, 1s), keeps such a leader: the request is abandoned at the timeout and the next try renews. Without the timeout the one request eats the deadline and the leader loses."
	case LeaderPartition:
		return "The leader is cut off from the API server. It steps down RetryPeriod + RenewDeadline after its last successful renew; followers take over a lease duration after they saw that renew, so with a positive margin LeaseDuration - RenewDeadline - RetryPeriod no two act at once."
	case LeaseOverwrite:
		return "Another writer puts its own holder into the lease. The leader's next renew conflicts, it sees a foreign holder and gives up within its renew deadline; a follower takes over a lease duration after the foreign write."
	case PartitionWithRelease:
		return "Margin case (a): a partitioned leader with ReleaseOnCancel. client-go calls release before it cancels the leader's context, and the release waits for the client timeout on an unreachable API, so the old leader acts on after its renew deadline: two leaders when that wait exceeds the margin."
	case LateRenewThenPartition:
		return "Margin case (b): the leader's last renews are answered late, inside the client timeout, then it is partitioned. The leader counts its renew deadline from the late answer, followers count the lease from when they saw the write: two leaders when the late leg exceeds the margin."
	}
	return "unknown scenario"
}

// Bound is an interval of durations, both ends included.
type Bound struct {
	Min time.Duration `json:"min"`
	Max time.Duration `json:"max"`
}

// Contains reports whether d lies in b.
func (b Bound) Contains(d time.Duration) bool { return d >= b.Min && d <= b.Max }

func (b Bound) String() string { return fmt.Sprintf("[%v, %v]", b.Min, b.Max) }

// Expectation is what client-go's algorithm says a scenario does with given
// options. Every bound is measured from the fault (see Scenario) and derived
// from the elector's code, with RT the allowance for one round trip
// (Options.Allowance plus the added latency of both legs).
type Expectation struct {
	Scenario        Scenario `json:"scenario"`
	Timing          Timing   `json:"timing"`
	ReleaseOnCancel bool     `json:"releaseOnCancel"`
	// RoundTrip is RT, the allowance for one request's round trip.
	RoundTrip time.Duration `json:"roundTrip"`
	// RequestBound is how long one renew or release request can take: the
	// client timeout, never more than RenewDeadline.
	RequestBound time.Duration `json:"requestBound"`
	// Grain is how much older than the leader's last renew the write a
	// follower counts the lease from can be: 1s when the leader's renews can
	// fall less than a second apart, else 0. Followers restart their count
	// when the record they read changes, and client-go compares the record
	// with its renew time in whole seconds (metav1.Time), so renews inside one
	// second look alike.
	Grain time.Duration `json:"grain"`
	// Takeover bounds when another candidate starts acting as leader; nil
	// when none is expected to.
	Takeover *Bound `json:"takeover,omitempty"`
	// StepDown bounds when the leader's term ends; nil when it is not part of
	// the expectation.
	StepDown *Bound `json:"stepDown,omitempty"`
	// VictimEnd is how the leader's term ends: crash, stop, lost, or running
	// (it keeps leading).
	VictimEnd string `json:"victimEnd"`
	// Overlap bounds the longest time two candidates act as leader at once.
	// Nil means never; a positive Min means in every trial.
	Overlap *Bound `json:"overlap,omitempty"`
	// Window is how long after the fault a trial watches at most.
	Window time.Duration `json:"window"`
	// Why is the arithmetic behind the bounds, with the numbers.
	Why string `json:"why"`
}

// Expect returns the scenario's expectation for opts (defaults applied).
func (s Scenario) Expect(opts Options) (Expectation, error) {
	if !s.known() {
		return Expectation{}, fmt.Errorf("realapi: unknown scenario %q (have %v)", s, Scenarios())
	}
	if err := opts.Validate(); err != nil {
		return Expectation{}, err
	}
	o := opts.withDefaults()
	t := o.Timing
	ld, rd, rp := t.LeaseDuration, t.RenewDeadline, t.RetryPeriod
	rt, poll, margin, rb := o.roundTrip(), t.maxPoll(), t.Margin(), o.requestBound()
	// A follower polls at most every poll + RT (a Get, then a wait of
	// RetryPeriod x 1..2.2). It sees a write applied at w by w + poll + 2 RT,
	// may act from LeaseDuration after that, acts at its next poll (within
	// poll + RT) and needs a Get and an Update: a term starts by
	// w + LeaseDuration + follow, and never before w + LeaseDuration.
	follow := 2*poll + 5*rt
	// grain is Grain for renews spacing apart (send to send).
	grain := func(spacing time.Duration) time.Duration {
		if spacing >= time.Second {
			return 0
		}
		return time.Second
	}
	g := grain(rp + o.Latency.Request + o.Latency.Response)
	e := Expectation{Scenario: s, Timing: t, RoundTrip: rt, RequestBound: rb, VictimEnd: "lost", Grain: g}
	// possible is the bound of an overlap that may happen, or nil.
	possible := func(max time.Duration) *Bound {
		if max <= 0 {
			return nil
		}
		return &Bound{Min: 0, Max: max}
	}
	switch s {
	case LeaderCrash:
		e.VictimEnd = "crash"
		e.Takeover = &Bound{Min: ld - rp - rt - g, Max: ld + follow + rt}
		e.Why = fmt.Sprintf("the leader writes at least every RetryPeriod + RT, so its last write was sent within [crash - RP - RT, crash + RT] (one may be in flight); "+
			"followers act no earlier than LD after the write they counted from (up to Grain %v older) and no later than LD + 2x2.2 RP + 5 RT after the last: "+
			"takeover in [LD - RP - RT - Grain, LD + 4.4 RP + 6 RT] = %v; the crashed term ends at the crash, so no overlap", g, e.Takeover)
	case GracefulRelease:
		e.ReleaseOnCancel, e.VictimEnd, e.Grain = true, "stop", 0 // the release empties the holder: always visible
		e.Takeover = &Bound{Min: 0, Max: poll + 7*rt}
		e.Why = fmt.Sprintf("the leader stops acting at the cancel and releases with a Get and an Update (twice on a conflict with its own in-flight renew: 4 RT); "+
			"a follower sees the empty holder at its next poll (2.2 RP + RT) and acquires with a Get and an Update: takeover in [0, 2.2 RP + 7 RT] = %v, no overlap", e.Takeover)
	case SlowRenew:
		if !o.NoClientTimeout && rb+rp+3*rt < rd {
			e.VictimEnd = "running"
			e.Why = fmt.Sprintf("the slow renew is abandoned at the client timeout %v (the server applied it); RetryPeriod later the next try conflicts, reads the lease and renews (3 RT): "+
				"done by %v, inside RenewDeadline %v, so the leader keeps leading and no one takes over", rb, rb+rp+3*rt, rd)
		} else {
			e.StepDown = &Bound{Min: rd - rt, Max: rd + rt}
			e.Takeover = &Bound{Min: ld - g, Max: ld + follow + rt}
			e.Overlap = possible(rd + rt - ld + g)
			e.Why = fmt.Sprintf("the slow renew is bounded only by the renew poll's deadline (request bound %v, and the retry would end at %v, not before RenewDeadline %v): "+
				"the leader loses RenewDeadline after the poll began, step-down in [RD - RT, RD + RT] = %v; the server applied the write at once, so followers act "+
				"in [LD - Grain, LD + 4.4 RP + 6 RT] = %v (Grain %v); overlap at most RD + RT - LD + Grain = %v", rb, rb+rp+3*rt, rd, e.StepDown, e.Takeover, g, rd+rt-ld+g)
		}
	case LeaderPartition, PartitionWithRelease:
		release := time.Duration(0)
		if s == PartitionWithRelease {
			e.ReleaseOnCancel, release = true, rb
		}
		e.StepDown = &Bound{Min: rp + rd + release, Max: rp + rd + release + rt}
		e.Takeover = &Bound{Min: ld - rt - g, Max: ld + follow}
		lo, hi := release-margin-follow, release-margin+2*rt+g
		if hi > 0 {
			e.Overlap = &Bound{Min: max(0, lo), Max: hi}
		}
		e.Why = fmt.Sprintf("the last renew was answered at the fault and applied at most RT before it; the leader's next poll starts RP later and fails at its RenewDeadline")
		if release > 0 {
			e.Why += fmt.Sprintf(", then its release waits the request bound %v before client-go cancels the leading context", release)
		}
		e.Why += fmt.Sprintf(": step-down in %v; followers act in [LD - RT - Grain, LD + 4.4 RP + 5 RT] = %v (Grain %v); overlap = step-down - takeover in [%v, %v] (margin LD - RD - RP = %v)",
			e.StepDown, e.Takeover, g, lo, hi, margin)
	case LeaseOverwrite:
		e.Grain = 0 // a new holder is always visible
		e.StepDown = &Bound{Min: rd - rt, Max: rp + rd + 2*rt}
		e.Takeover = &Bound{Min: ld, Max: ld + follow + rt}
		e.Overlap = possible(rp + rd + 2*rt - ld)
		e.Why = fmt.Sprintf("the foreign write lands within RT; the leader's first poll whose write comes after it began at most RT before it and at most RP + RT after it, conflicts, sees a foreign holder and fails at its RenewDeadline: "+
			"step-down in [RD - RT, RP + RD + 2 RT] = %v; followers count the lease from the foreign write: takeover in [LD, LD + 4.4 RP + 6 RT] = %v", e.StepDown, e.Takeover)
	case LateRenewThenPartition:
		if err := o.validateLate(); err != nil {
			return Expectation{}, err
		}
		late := o.LateResponse
		// The last two writes are both late unless only one is.
		prev := o.Latency.Response
		if o.LateRenews > 1 {
			prev = late
		}
		g = grain(rp + o.Latency.Request + prev)
		e.Grain = g
		e.StepDown = &Bound{Min: rp + rd, Max: rp + rd + rt}
		e.Takeover = &Bound{Min: ld - late - rt - g, Max: ld - late + follow}
		lo, hi := late-margin-follow, late-margin+2*rt+g
		if hi > 0 {
			e.Overlap = &Bound{Min: max(0, lo), Max: hi}
		}
		e.Why = fmt.Sprintf("the last renew was applied L = %v (plus at most RT) before its answer, the fault; the leader fails RP + RD after the answer: step-down in %v; followers count from the write: "+
			"takeover in [LD - L - RT - Grain, LD - L + 4.4 RP + 5 RT] = %v (Grain %v: late renews are RP + L apart); overlap in [L - margin - 4.4 RP - 5 RT, L - margin + 2 RT + Grain] = [%v, %v] (margin %v)",
			late, e.StepDown, e.Takeover, g, lo, hi, margin)
	}
	e.Window = rd + rp + 2*rt // a leader that is to lose a slow renew has lost by then
	for _, b := range []*Bound{e.Takeover, e.StepDown} {
		if b != nil {
			e.Window = max(e.Window, b.Max)
		}
	}
	e.Window += poll + 2*rt
	return e, nil
}
