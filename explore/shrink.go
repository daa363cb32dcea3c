package explore

import (
	"slices"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/sim"
)

// shrink looks for a smaller schedule that still fails f's check: fewer
// faults, then earlier and shorter faults, a shorter fault phase, and
// fewer candidates, keeping each step that still fails. It spends at most
// ShrinkRuns runs and returns the smallest schedule found, with its
// evidence.
func (o Options) shrink(t *testing.T, s Schedule, f found) (Schedule, string, error) {
	budget := o.ShrinkRuns
	best, msg := s, f.message
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
				best, msg = c, g.message
				return true, nil
			}
		}
		return false, nil
	}
	// Fewer faults: drop one at a time while that still fails.
	for dropped := true; dropped; {
		dropped = false
		for i := range best.Faults {
			c := best.with(slices.Delete(slices.Clone(best.Faults), i, i+1))
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
