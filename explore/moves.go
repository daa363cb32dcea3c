package explore

import (
	"math/rand/v2"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// Move is one kind of thing a schedule can do to the cluster: it draws one
// or more faults, aimed at the leader or at a named candidate, at a random
// instant of the fault phase or at the answer to the target's n-th lease
// write after it (Fault.AfterWrites), so that many land in the middle of a
// leader's term; AtTermEnd times its faults at the end of a term
// (Fault.AfterTermEnds). Every fault lasts at most until the fault phase
// ends (one held for a term's end may start late).
type Move struct {
	Name string
	draw func(e *drawEnv) []sim.Fault
}

// The moves, one per fault of the simulator, and Everything.
var (
	// Crash ends a candidate's process and starts it again later.
	Crash = Move{"crash", func(e *drawEnv) []sim.Fault {
		name, at := e.candidate(), e.at()
		crash := e.timed(sim.Fault{Kind: sim.FaultCrash, At: at, Candidate: name})
		return []sim.Fault{crash, e.restart(name, at)}
	}}
	// Stop cancels a candidate's context (it releases if ReleaseOnCancel)
	// and starts it again later, as a rollout replaces a pod.
	Stop = Move{"stop", func(e *drawEnv) []sim.Fault {
		name, at := e.candidate(), e.at()
		stop := e.timed(sim.Fault{Kind: sim.FaultStop, At: at, Candidate: name})
		return []sim.Fault{stop, e.restart(name, at)}
	}}
	// Partition cuts a candidate off from the API for a while.
	Partition = Move{"partition", func(e *drawEnv) []sim.Fault {
		return []sim.Fault{e.lasting(e.timed(sim.Fault{Kind: sim.FaultPartition, Candidate: e.target()}), time.Second, 3*e.timing.LeaseDuration)}
	}}
	// BlackHole and Outage take the API away from everyone: unanswered, or
	// refused.
	BlackHole = Move{"black-hole", func(e *drawEnv) []sim.Fault {
		return []sim.Fault{e.lasting(sim.Fault{Kind: sim.FaultBlackHole}, time.Second, 2*e.timing.LeaseDuration)}
	}}
	Outage = Move{"outage", func(e *drawEnv) []sim.Fault {
		return []sim.Fault{e.lasting(sim.Fault{Kind: sim.FaultOutage}, time.Second, 2*e.timing.LeaseDuration)}
	}}
	// SlowWrites delays one write verb of a candidate's requests (its data
	// and its lease alike) by 1 s to 2 LD: about half outlast a lease, and
	// a leader's write sent just before its term ends lands in the next.
	SlowWrites = Move{"slow-writes", func(e *drawEnv) []sim.Fault {
		verbs := []string{sim.VerbCreate, sim.VerbUpdate, sim.VerbPatch, sim.VerbDelete}
		f := sim.Fault{Kind: sim.FaultLatency, Candidate: e.target(), Verb: verbs[e.rng.IntN(len(verbs))],
			Request: sim.Fixed(e.between(time.Second, 2*e.timing.LeaseDuration))}
		return []sim.Fault{e.lasting(e.timed(f), e.timing.LeaseDuration, 4*e.timing.LeaseDuration)}
	}}
	// SlowRenewals delays a candidate's lease updates by RP to RD.
	SlowRenewals = Move{"slow-renewals", func(e *drawEnv) []sim.Fault {
		f := sim.Fault{Kind: sim.FaultLatency, Candidate: e.target(), Verb: sim.VerbUpdate, Resource: "leases",
			Request: sim.Fixed(e.between(e.timing.RetryPeriod, e.timing.RenewDeadline))}
		return []sim.Fault{e.lasting(e.timed(f), e.timing.LeaseDuration, 4*e.timing.LeaseDuration)}
	}}
	// SlowRequests delays every request of a candidate by 1 s to 2 LD.
	SlowRequests = Move{"slow-requests", func(e *drawEnv) []sim.Fault {
		f := sim.Fault{Kind: sim.FaultLatency, Candidate: e.target(), Request: sim.Fixed(e.between(time.Second, 2*e.timing.LeaseDuration))}
		return []sim.Fault{e.lasting(e.timed(f), e.timing.LeaseDuration, 4*e.timing.LeaseDuration)}
	}}
	// ServerErrors answers a share of everyone's requests 500 or 503;
	// TooManyRequests answers them 429 with Retry-After 1 s.
	ServerErrors = Move{"server-errors", func(e *drawEnv) []sim.Fault {
		return []sim.Fault{e.lasting(sim.Fault{Kind: sim.FaultErrors, Code: []int{500, 503}[e.rng.IntN(2)], Rate: e.rate()}, time.Second, 2*e.timing.LeaseDuration)}
	}}
	TooManyRequests = Move{"too-many-requests", func(e *drawEnv) []sim.Fault {
		return []sim.Fault{e.lasting(sim.Fault{Kind: sim.FaultErrors, Code: 429, Rate: e.rate(), RetryAfter: time.Second}, time.Second, 2*e.timing.LeaseDuration)}
	}}
	// Overload gives the API server one or two seats of RP / 4 each and a
	// queue of RD / 2.
	Overload = Move{"overload", func(e *drawEnv) []sim.Fault {
		f := sim.Fault{Kind: sim.FaultOverload, InFlight: 1 + e.rng.IntN(2), Service: e.timing.RetryPeriod / 4, QueueWait: e.timing.RenewDeadline / 2}
		return []sim.Fault{e.lasting(f, e.timing.LeaseDuration, 4*e.timing.LeaseDuration)}
	}}
	// APIRestart restarts the API server: every watch breaks.
	APIRestart = Move{"api-restart", func(e *drawEnv) []sim.Fault {
		return []sim.Fault{{Kind: sim.FaultAPIRestart, At: e.at()}}
	}}
	// StaleReplica serves a candidate from a replica that lags by up to
	// 2 LD, or is frozen (one time in four).
	StaleReplica = Move{"stale-replica", func(e *drawEnv) []sim.Fault {
		f := sim.Fault{Kind: sim.FaultStaleReplica, Candidate: e.candidate()}
		if e.rng.IntN(4) == 0 {
			f.Frozen = true
		} else {
			f.Delay = e.between(time.Second, 2*e.timing.LeaseDuration)
		}
		return []sim.Fault{e.lasting(f, e.timing.LeaseDuration, e.length)}
	}}
	// WatchDelay delays a candidate's watch events by up to LD.
	WatchDelay = Move{"watch-delay", func(e *drawEnv) []sim.Fault {
		f := sim.Fault{Kind: sim.FaultWatchDelay, Candidate: e.candidate(), Delay: e.between(time.Second, e.timing.LeaseDuration)}
		return []sim.Fault{e.lasting(f, e.timing.LeaseDuration, e.length)}
	}}
	// DeleteLease and OverwriteLease are a foreign writer's.
	DeleteLease = Move{"delete-lease", func(e *drawEnv) []sim.Fault {
		return []sim.Fault{{Kind: sim.FaultDeleteLease, At: e.at()}}
	}}
	OverwriteLease = Move{"overwrite-lease", func(e *drawEnv) []sim.Fault {
		return []sim.Fault{{Kind: sim.FaultOverwriteLease, At: e.at(), Identity: "intruder"}}
	}}
	// RollingUpdate stops every candidate in turn, RP to LD apart, and
	// starts each again RP later, as a rollout of one pod at a time does.
	RollingUpdate = Move{"rolling-update", func(e *drawEnv) []sim.Fault {
		at, gap := e.at(), e.between(e.timing.RetryPeriod, e.timing.LeaseDuration)
		var out []sim.Fault
		for i := range e.candidates {
			name, t := sim.CandidateName(i), at+time.Duration(i)*gap
			if t+e.timing.RetryPeriod >= e.length {
				break
			}
			out = append(out, sim.Fault{Kind: sim.FaultStop, At: t, Candidate: name}, sim.Fault{Kind: sim.FaultStart, At: t + e.timing.RetryPeriod, Candidate: name})
		}
		return out
	}}

	// AtTermEnd holds a crash of a named candidate, an API server restart,
	// a lease deletion or an outage until the next term ends (any
	// candidate's), and applies it then: while the deposed leader's writes
	// are on their way and the next one has not begun. Without another
	// move that ends a term it does nothing; shrinking pins it to the
	// instant it fired, so that the move that ended the term can go.
	AtTermEnd = Move{"at-term-end", func(e *drawEnv) []sim.Fault {
		at := e.at()
		switch e.rng.IntN(4) {
		case 0:
			name := e.candidate()
			return []sim.Fault{{Kind: sim.FaultCrash, At: at, Candidate: name, AfterTermEnds: 1}, e.restart(name, at)}
		case 1:
			return []sim.Fault{{Kind: sim.FaultAPIRestart, At: at, AfterTermEnds: 1}}
		case 2:
			return []sim.Fault{{Kind: sim.FaultDeleteLease, At: at, AfterTermEnds: 1}}
		}
		return []sim.Fault{{Kind: sim.FaultOutage, At: at, AfterTermEnds: 1, For: e.between(time.Second, e.timing.LeaseDuration)}}
	}}

	// Everything is every move: the default vocabulary.
	Everything = []Move{Crash, Stop, Partition, BlackHole, Outage, SlowWrites, SlowRenewals, SlowRequests,
		ServerErrors, TooManyRequests, Overload, APIRestart, StaleReplica, WatchDelay, DeleteLease, OverwriteLease, RollingUpdate, AtTermEnd}
)

// drawEnv is what a move draws from: the schedule's random source, the
// run's timing and candidates, and the fault phase's length.
type drawEnv struct {
	rng        *rand.Rand
	timing     sim.Timing
	candidates int
	length     time.Duration
}

// grain is the resolution of drawn instants and durations, so that a
// schedule reads well as Go.
const grain = 100 * time.Millisecond

// between draws a duration in [lo, hi), to the grain.
func (e *drawEnv) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return (lo + time.Duration(e.rng.Int64N(int64(hi-lo)))).Truncate(grain)
}

// at draws an instant in the first three quarters of the fault phase, so
// that what it starts has time to matter.
func (e *drawEnv) at() time.Duration { return e.between(0, e.length*3/4) }

func (e *drawEnv) candidate() string { return sim.CandidateName(e.rng.IntN(e.candidates)) }

// target is the leader half the time, else a named candidate.
func (e *drawEnv) target() string {
	if e.rng.IntN(2) == 0 {
		return sim.Leader
	}
	return e.candidate()
}

func (e *drawEnv) rate() float64 { return float64(2+e.rng.IntN(9)) / 10 }

// restart starts cand again 1 s to 2 LD after at, within the fault phase.
func (e *drawEnv) restart(cand string, at time.Duration) sim.Fault {
	return sim.Fault{Kind: sim.FaultStart, At: min(at+e.between(time.Second, 2*e.timing.LeaseDuration), e.length-grain), Candidate: cand}
}

// timed times f at the answer to its target's first, second or third lease
// write after it, half the time when it has a target; else at its instant.
func (e *drawEnv) timed(f sim.Fault) sim.Fault {
	if f.Candidate != "" && e.rng.IntN(2) == 0 {
		f.AfterWrites = 1 + e.rng.IntN(3)
	}
	return f
}

// lasting gives f an instant, when it has none, and a span in [lo, hi)
// that ends within the fault phase.
func (e *drawEnv) lasting(f sim.Fault, lo, hi time.Duration) sim.Fault {
	if f.At == 0 {
		f.At = e.at()
	}
	f.For = max(min(e.between(lo, hi), e.length-f.At), grain)
	return f
}
