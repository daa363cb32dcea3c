package explore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// Schedule is one run of a search: the simulator's seed, how many
// candidates, how long the fault phase lasts, and its faults. Options.Check
// runs it as the search did; GoString writes it as Go, for a test.
type Schedule struct {
	Seed       int64         `json:"seed"`
	Candidates int           `json:"candidates"`
	Length     time.Duration `json:"length"`
	Faults     []sim.Fault   `json:"faults"`
}

// found is one check a run failed, with its evidence.
type found struct {
	check, message string
	// pinned is the schedule run, each held fault that fired (AfterWrites,
	// AfterTermEnds) made a fault at the instant it fired, on whom it hit.
	pinned Schedule
}

// Check runs s as the search runs each schedule and returns what it fails,
// one line per check: a shrunk schedule pasted into a test fails there the
// same way (o's Seed and Schedules play no part). The error is for bad
// options, an invariant that panics and an action that blocks.
func (o Options) Check(t *testing.T, s Schedule) ([]string, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	fails, err := o.check(t, s, nil)
	out := make([]string, len(fails))
	for i, f := range fails {
		out[i] = f.check + ": " + f.message
	}
	return out, err
}

// check runs s and judges it; res, when not nil, counts what it reached.
func (o Options) check(t *testing.T, s Schedule, res *Result) ([]found, error) {
	opts := o.Sim
	opts.Seed, opts.Candidates, opts.Faults = s.Seed, s.Candidates, s.Faults
	var actionErr error
	rep, err := sim.Try(t, opts, func(c *sim.Cluster) {
		actionErr = o.drive(c, s.Length)
		c.Advance(o.Quiet)
	})
	if actionErr != nil {
		return nil, actionErr
	}
	if rep == nil {
		return nil, err
	}
	if res != nil {
		res.Schedules++
		res.Virtual += s.Length + o.Quiet
		counted := map[int]bool{} // a slow response has a span per request it slows
		for _, span := range rep.Faults {
			res.Reached[span.Kind]++
			if span.Plan == 0 || counted[span.Plan] {
				continue
			}
			counted[span.Plan] = true
			switch f := s.Faults[span.Plan-1]; {
			case f.AfterWrites > 0:
				res.AtLeaseWrites++
			case f.AfterTermEnds > 0:
				res.AtTermEnds++
			}
		}
		for _, term := range rep.Terms {
			if term.EndCause != sim.EndRunning {
				res.TermEnds++
			}
		}
	}
	var fails []found
	if err != nil {
		fails = append(fails, found{check: CheckUnserved, message: firstLine(err.Error())})
	}
	for _, w := range rep.StaleWrites {
		if w.Harmful {
			fails = append(fails, found{check: CheckStale, message: w.String()})
			break
		}
	}
	if len(rep.LostUpdates) > 0 {
		fails = append(fails, found{check: CheckLost, message: rep.LostUpdates[0].String()})
	}
	if o.MaxOverlap > 0 {
		if ov, ok := longerOverlap(rep.Overlaps, o.MaxOverlap); ok {
			fails = append(fails, found{check: CheckMaxOverlap, message: fmt.Sprintf("%s; MaxOverlap is %v", ov, o.MaxOverlap)})
		}
	}
	if bound, ok := overlapBound(opts); ok {
		if ov, ok := longerOverlap(rep.Overlaps, bound); ok {
			fails = append(fails, found{check: CheckOverlap, message: fmt.Sprintf("%s; client-go's arithmetic allows at most %v", ov, bound)})
		}
	}
	for _, inv := range o.Always {
		if err := guard(inv, func() error { return rep.History.Always(inv.Check) }); err != nil {
			if p, ok := err.(panicked); ok {
				return nil, p
			}
			fails = append(fails, found{check: "always: " + inv.Name, message: err.Error()})
		}
	}
	for _, inv := range o.Eventually {
		if err := guard(inv, func() error { return inv.Check(rep.History.Final()) }); err != nil {
			if p, ok := err.(panicked); ok {
				return nil, p
			}
			fails = append(fails, found{check: "eventually: " + inv.Name, message: fmt.Sprintf("after %v with no faults: %v", o.Quiet, err)})
		}
	}
	if len(fails) > 0 {
		pinned := s.pinned(rep.Faults)
		for i := range fails {
			fails[i].pinned = pinned
		}
	}
	return fails, nil
}

// pinned is s with each held fault (AfterWrites, AfterTermEnds) that fired
// in the run, as spans tells, made a fault at the instant it fired, aimed
// at the candidate it hit: it no longer waits for the faults that set it
// off, so that shrinking can drop them.
func (s Schedule) pinned(spans []sim.FaultSpan) Schedule {
	faults := slices.Clone(s.Faults)
	for _, span := range spans {
		if span.Plan == 0 {
			continue
		}
		f := &faults[span.Plan-1]
		if f.AfterWrites == 0 && f.AfterTermEnds == 0 {
			continue
		}
		f.At, f.AfterWrites, f.AfterTermEnds = span.Start, 0, 0
		if f.Candidate != "" {
			f.Candidate = span.Candidate
		}
	}
	return s.with(faults)
}

// longerOverlap describes the first overlap longer than limit, if one is.
func longerOverlap(overlaps []sim.Overlap, limit time.Duration) (string, bool) {
	for _, ov := range overlaps {
		if ov.Duration > limit {
			return fmt.Sprintf("%s and %s both acted as leader for %v from %v", ov.Old, ov.New, ov.Duration, ov.Start), true
		}
	}
	return "", false
}

// overlapBound is the longest overlap client-go's arithmetic allows for
// opts (scenarios.Bounds.MaxOverlap, with the slowest leg of its faults),
// and false when a foreign writer of the lease makes any overlap possible.
func overlapBound(opts sim.Options) (time.Duration, bool) {
	b := scenarios.BoundsFor(opts)
	for _, f := range opts.Faults {
		switch f.Kind {
		case sim.FaultDeleteLease, sim.FaultOverwriteLease:
			return 0, false
		case sim.FaultLatency:
			b.Latency.Max = max(b.Latency.Max, f.Request.Max, f.Response.Max)
		}
	}
	return max(b.MaxOverlap(opts.ReleaseOnCancel), 0), true
}

// panicked is an invariant's panic: the search's error, not a finding.
type panicked struct{ error }

// guard runs an invariant's check and turns a panic into panicked.
func guard(inv Invariant, check func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicked{fmt.Errorf("invariant %q panicked: %v", inv.Name, v)}
		}
	}()
	return check()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		// The violations' list: its first line and the first violation.
		rest := s[i+1:]
		if j := strings.IndexByte(rest, '\n'); j >= 0 {
			rest = rest[:j]
		}
		return s[:i] + " " + rest
	}
	return s
}

// drive runs the fault phase: o.Action at its start and every ActionEvery,
// from a goroutine of its own (the body's goroutine moves time on), until
// length has passed.
func (o Options) drive(c *sim.Cluster, length time.Duration) error {
	if o.Action == nil {
		c.Advance(length)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		done <- o.act(ctx, c, stopped)
	}()
	c.Advance(length)
	close(stopped)
	select {
	case err := <-done:
		return err
	case <-time.After(o.ActionTimeout):
		// It ignores its ctx: its goroutine cannot be ended, and the
		// simulator's bubble will say so.
		return fmt.Errorf("Action blocked: still running %v after the fault phase ended (ActionTimeout), though its ctx is done; an action must return when its ctx is done", o.ActionTimeout)
	}
}

// act makes the changes until stopped is closed.
func (o Options) act(ctx context.Context, c *sim.Cluster, stopped <-chan struct{}) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("Action panicked: %v", v)
		}
	}()
	tick := time.NewTicker(o.ActionEvery)
	defer tick.Stop()
	for i := 0; ; i++ {
		at := c.Now()
		actx, cancel := context.WithTimeout(ctx, o.ActionTimeout)
		err := o.Action(actx, c, i)
		blocked := actx.Err() == context.DeadlineExceeded
		cancel()
		switch {
		case blocked:
			return fmt.Errorf("Action %d at %v blocked: it did not return within ActionTimeout (%v); an action must return when its ctx is done", i, at, o.ActionTimeout)
		case err != nil:
			return fmt.Errorf("Action %d at %v: %w", i, at, err)
		}
		select {
		case <-stopped:
			return nil
		case <-tick.C:
		}
	}
}

// GoString writes s as a Go composite literal, for a test.
func (s Schedule) GoString() string {
	var b strings.Builder
	fmt.Fprintf(&b, "explore.Schedule{Seed: %d, Candidates: %d, Length: %s, Faults: []sim.Fault{\n", s.Seed, s.Candidates, durationGo(s.Length))
	for _, f := range s.Faults {
		b.WriteString("\t" + faultGo(f) + ",\n")
	}
	b.WriteString("}}")
	return b.String()
}

// kindNames are the fault kinds' constants, for Go.
var kindNames = map[sim.FaultKind]string{
	sim.FaultCrash: "FaultCrash", sim.FaultStop: "FaultStop", sim.FaultStart: "FaultStart", sim.FaultPartition: "FaultPartition",
	sim.FaultLatency: "FaultLatency", sim.FaultSlowResponse: "FaultSlowResponse", sim.FaultErrors: "FaultErrors",
	sim.FaultOutage: "FaultOutage", sim.FaultBlackHole: "FaultBlackHole", sim.FaultOverload: "FaultOverload",
	sim.FaultAPIRestart: "FaultAPIRestart", sim.FaultDeleteLease: "FaultDeleteLease", sim.FaultOverwriteLease: "FaultOverwriteLease",
	sim.FaultWatchDelay: "FaultWatchDelay", sim.FaultStaleReplica: "FaultStaleReplica",
}

// faultGo writes f's non-zero fields as a sim.Fault literal's.
func faultGo(f sim.Fault) string {
	kind := fmt.Sprintf("sim.FaultKind(%q)", f.Kind)
	if name, ok := kindNames[f.Kind]; ok {
		kind = "sim." + name
	}
	parts := []string{"Kind: " + kind, "At: " + durationGo(f.At)}
	add := func(set bool, field, value string) {
		if set {
			parts = append(parts, field+": "+value)
		}
	}
	add(f.Candidate == sim.Leader, "Candidate", "sim.Leader")
	add(f.Candidate != "" && f.Candidate != sim.Leader, "Candidate", fmt.Sprintf("%q", f.Candidate))
	add(f.AfterWrites != 0, "AfterWrites", fmt.Sprint(f.AfterWrites))
	add(f.AfterTermEnds != 0, "AfterTermEnds", fmt.Sprint(f.AfterTermEnds))
	add(f.For != 0, "For", durationGo(f.For))
	add(f.Verb != "", "Verb", fmt.Sprintf("%q", f.Verb))
	add(f.Resource != "", "Resource", fmt.Sprintf("%q", f.Resource))
	add(f.Request != sim.Dist{}, "Request", distGo(f.Request))
	add(f.Response != sim.Dist{}, "Response", distGo(f.Response))
	add(f.Delay != 0, "Delay", durationGo(f.Delay))
	add(f.InFlight != 0, "InFlight", fmt.Sprint(f.InFlight))
	add(f.Service != 0, "Service", durationGo(f.Service))
	add(f.QueueWait != 0, "QueueWait", durationGo(f.QueueWait))
	add(f.Code != 0, "Code", fmt.Sprint(f.Code))
	add(f.Rate != 0, "Rate", fmt.Sprint(f.Rate))
	add(f.RetryAfter != 0, "RetryAfter", durationGo(f.RetryAfter))
	add(f.Identity != "", "Identity", fmt.Sprintf("%q", f.Identity))
	add(f.Frozen, "Frozen", "true")
	return "{" + strings.Join(parts, ", ") + "}"
}

func distGo(d sim.Dist) string {
	if d.Min == d.Max {
		return "sim.Fixed(" + durationGo(d.Min) + ")"
	}
	return fmt.Sprintf("sim.Dist{Min: %s, Max: %s}", durationGo(d.Min), durationGo(d.Max))
}

// durationGo writes d as a Go expression of the time package's units.
func durationGo(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Minute == 0:
		return fmt.Sprintf("%d * time.Minute", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%d * time.Second", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%d * time.Millisecond", d/time.Millisecond)
	}
	return fmt.Sprintf("time.Duration(%d)", int64(d))
}
