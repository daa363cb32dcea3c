package explore

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// shrink looks for a smaller schedule that still fails f's check: fewer
// faults, then earlier and shorter faults, a shorter fault phase, and
// fewer candidates, keeping each step that still fails. It spends at most
// ShrinkRuns runs and returns the smallest schedule found that fails again
// when run once more, with its evidence.
func (o Options) shrink(t *testing.T, s Schedule, f found) (Schedule, string, error) {
	budget := o.ShrinkRuns
	best, msg := s, f.message
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
				best, msg = c, g.message
				return true, nil
			}
		}
		return false, nil
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
