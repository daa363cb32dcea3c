package explore

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// shrink looks for a smaller schedule that still fails f's check: held
// faults pinned to the instant they fired, faults aimed at the leader,
// fewer faults, then earlier and shorter faults, a shorter fault phase,
// and fewer candidates, keeping each step that still fails. It spends at most
// ShrinkRuns runs and returns the smallest schedule found that fails again
// when run once more, with its evidence.
func (o Options) shrink(t *testing.T, s Schedule, f found) (Schedule, string, error) {
	budget := o.ShrinkRuns
	best, msg, pinned := s, f.message, f.pinned
	// chain is every schedule the shrinking kept, before best.
	type step struct {
		s   Schedule
		msg string
	}
	var chain []step
	// try runs c and keeps it when it fails the same check.
	try := func(c Schedule) (bool, error) {
		if budget == 0 {
			return false, nil
		}
		budget--
		fails, err := o.check(t, c, nil)
		if err != nil {
			return false, err
		}
		for _, g := range fails {
			if g.check == f.check {
				chain = append(chain, step{best, msg})
				best, msg, pinned = c, g.message, g.pinned
				return true, nil
			}
		}
		return false, nil
	}
	// Pin the held faults: one held for a lease write or a term's end
	// becomes a fault at the instant it fired, on whom it hit, so that it
	// no longer waits for the faults that set it off and they can go. All
	// at once, else one at a time.
	if held := best.held(); len(held) > 0 && !slices.Equal(pinned.Faults, best.Faults) {
		all, err := try(pinned)
		if err != nil {
			return best, msg, err
		}
		for k := 0; !all && k < len(held); k++ {
			i := held[k]
			c := best.with(slices.Clone(best.Faults))
			c.Faults[i] = pinned.Faults[i]
			if c.Faults[i] != best.Faults[i] {
				if _, err := try(c); err != nil {
					return best, msg, err
				}
			}
		}
		// A pinned instant reads better to the millisecond, if that fails too.
		for _, i := range held {
			f := best.Faults[i]
			if f.AfterWrites > 0 || f.AfterTermEnds > 0 || f.At%time.Millisecond == 0 {
				continue
			}
			c := best.with(slices.Clone(best.Faults))
			c.Faults[i].At = f.At.Round(time.Millisecond)
			if _, err := try(c); err != nil {
				return best, msg, err
			}
		}
	}
	// Aim at the leader: a fault aimed at a candidate by name hits only
	// while that one leads, and stops hitting when a change elsewhere
	// elects another.
	for i, f := range best.Faults {
		if f.Candidate == "" || f.Candidate == sim.Leader || f.Kind == sim.FaultStart || best.startsFor(f.Candidate) {
			continue
		}
		c := best.with(slices.Clone(best.Faults))
		c.Faults[i].Candidate = sim.Leader
		if _, err := try(c); err != nil {
			return best, msg, err
		}
	}
	// Fewer faults: drop one at a time while that still fails, with the
	// schedule's seed or another: a fault that only moved the run's timing
	// so that the others hit matters no more than the seed does.
	for dropped := true; dropped; {
		dropped = false
		for i := 0; i < len(best.Faults) && !dropped; i++ {
			for k := range reseeds {
				c := best.with(slices.Delete(slices.Clone(best.Faults), i, i+1))
				c.Seed = reseed(best.Seed, k)
				ok, err := try(c)
				if err != nil {
					return best, msg, err
				}
				if ok {
					dropped = true
					break
				}
			}
		}
	}
	// Earlier and shorter faults: halve each one's At and For.
	for i := range best.Faults {
		for _, field := range []func(*sim.Fault) *time.Duration{
			func(f *sim.Fault) *time.Duration { return &f.At },
			func(f *sim.Fault) *time.Duration { return &f.For },
		} {
			for *field(&best.Faults[i]) >= 2*grain {
				c := best.with(slices.Clone(best.Faults))
				d := field(&c.Faults[i])
				*d = (*d / 2).Truncate(grain)
				ok, err := try(c)
				if err != nil {
					return best, msg, err
				}
				if !ok {
					break
				}
			}
		}
	}
	// Shorter: halve the fault phase, down to where the faults end.
	for best.Length/2 >= best.faultsEnd() && best.Length/2 >= grain {
		c := best.with(best.Faults)
		c.Length = (best.Length / 2).Truncate(grain)
		if ok, err := try(c); err != nil || !ok {
			if err != nil {
				return best, msg, err
			}
			break
		}
	}
	// Fewer candidates: the last one goes, when no fault names it.
	for best.Candidates > 1 && !best.names(sim.CandidateName(best.Candidates-1)) {
		c := best.with(best.Faults)
		c.Candidates--
		ok, err := try(c)
		if err != nil {
			return best, msg, err
		}
		if !ok {
			break
		}
	}
	// A run of controller-runtime managers replays exactly but for a rare
	// race (sim.Report.ReplayNote): keep the smallest schedule that fails
	// again when run once more, going back along the chain.
	for len(chain) > 0 {
		fails, err := o.check(t, best, nil)
		if err != nil {
			return best, msg, err
		}
		if slices.ContainsFunc(fails, func(g found) bool { return g.check == f.check }) {
			break
		}
		best, msg, chain = chain[len(chain)-1].s, chain[len(chain)-1].msg, chain[:len(chain)-1]
	}
	return best, msg, nil
}

// held is the indexes of s's faults held for a lease write or a term's end.
func (s Schedule) held() []int {
	var out []int
	for i, f := range s.Faults {
		if f.AfterWrites > 0 || f.AfterTermEnds > 0 {
			out = append(out, i)
		}
	}
	return out
}

// with is s with faults instead of its own.
func (s Schedule) with(faults []sim.Fault) Schedule {
	s.Faults = faults
	return s
}

// faultsEnd is when the last fault ends (or starts, for an instant one).
func (s Schedule) faultsEnd() time.Duration {
	var end time.Duration
	for _, f := range s.Faults {
		end = max(end, f.At+f.For)
	}
	return end
}

// names reports whether a fault of s names the candidate.
func (s Schedule) names(cand string) bool {
	return slices.ContainsFunc(s.Faults, func(f sim.Fault) bool { return f.Candidate == cand })
}

// reseeds is how many seeds shrinking tries for a schedule with a fault
// fewer: its own, then others drawn from it.
const reseeds = 4

// reseed is the k-th seed tried for a schedule of seed: seed itself first.
func reseed(seed int64, k int) int64 {
	if k == 0 {
		return seed
	}
	return int64(rand.New(rand.NewPCG(uint64(seed), uint64(k))).Int64N(1 << 31))
}

// startsFor reports whether s starts cand again (after its crash): the
// pair must keep naming the same candidate.
func (s Schedule) startsFor(cand string) bool {
	return slices.ContainsFunc(s.Faults, func(f sim.Fault) bool { return f.Kind == sim.FaultStart && f.Candidate == cand })
}
