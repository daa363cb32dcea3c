package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/scenarios/benchmark"
	"github.com/leaderlab/leaderlab/sim"
)

// usageError is bad input: the command exits with status 2 and the message,
// never a stack trace.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// setting is one item of --timing: a timing and the ReleaseOnCancel and
// client timeout that come with it. A preset (scenarios.Presets) carries
// the controller's own; a triple LD/RD/RP carries client-go's defaults
// (ReleaseOnCancel off, the client timeout max(RD/2, 1s)).
type setting struct {
	preset          string // the preset's name; "" for a triple
	timing          sim.Timing
	releaseOnCancel bool
	noClientTimeout bool
}

func (s setting) config(candidates int, lat sim.Dist) scenarios.Config {
	return scenarios.Config{Timing: s.timing, Candidates: candidates, Latency: lat, ReleaseOnCancel: s.releaseOnCancel, NoClientTimeout: s.noClientTimeout}
}

// replayArgs is the --timing of s as a replay command gives it: the triple,
// and the flags for what differs from a triple's defaults. A triple, not the
// preset's name, so that the command replays the same run after the preset
// table changes.
func (s setting) replayArgs() string {
	out := "--timing " + scenarios.TimingLabel(s.timing)
	if s.releaseOnCancel {
		out += " --release-on-cancel"
	}
	if s.noClientTimeout {
		out += " --no-client-timeout"
	}
	return out
}

// overrideFlags are --release-on-cancel and --no-client-timeout of run and
// advise: given, they override what --timing carries; not given, the
// preset's settings (or a triple's defaults) stand.
type overrideFlags struct {
	releaseOnCancel, noClientTimeout bool
}

func (o *overrideFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.releaseOnCancel, "release-on-cancel", false,
		"the candidates set ReleaseOnCancel (default: what --timing's preset ships, off for LD/RD/RP); --release-on-cancel=false turns a preset's off")
	cmd.Flags().BoolVar(&o.noClientTimeout, "no-client-timeout", false,
		"the candidates' lock requests have no client timeout (default: what --timing's preset ships, max(RD/2, 1s) for LD/RD/RP)")
}

// apply overrides s with the flags given on cmd's command line.
func (o overrideFlags) apply(cmd *cobra.Command, s setting) setting {
	if cmd.Flags().Changed("release-on-cancel") {
		s.releaseOnCancel = o.releaseOnCancel
	}
	if cmd.Flags().Changed("no-client-timeout") {
		s.noClientTimeout = o.noClientTimeout
	}
	return s
}

// joinNames joins the names of the items that keep, comma-separated.
func joinNames[T any](items []T, keep func(T) (string, bool)) string {
	var names []string
	for _, it := range items {
		if name, ok := keep(it); ok {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// parseTimings reads bench's --timing: a comma-separated list of LD/RD/RP
// triples ("15s/10s/2s") and preset names; "common" is every timing of
// scenarios.CommonTimings. Only the timings count: bench's scenarios do not
// depend on ReleaseOnCancel or the client timeout.
func parseTimings(flag, value string) ([]sim.Timing, error) {
	var out []sim.Timing
	for _, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		if item == "common" {
			out = append(out, scenarios.CommonTimings...)
			continue
		}
		s, err := parseTiming(flag, item, true)
		if err != nil {
			return nil, err
		}
		out = append(out, s.timing)
	}
	return out, nil
}

// parseTiming reads one timing: a preset name or LD/RD/RP. list says
// whether the flag takes a list (and so "common"), for the message.
func parseTiming(flag, item string, list bool) (setting, error) {
	if p, ok := scenarios.LookupPreset(item); ok {
		return setting{preset: p.Name, timing: p.Timing, releaseOnCancel: p.ReleaseOnCancel, noClientTimeout: p.ClientTimeout == 0}, nil
	}
	parts := strings.Split(item, "/")
	if len(parts) != 3 {
		names := scenarios.PresetNames()
		if list {
			names += ", or common"
		}
		return setting{}, usagef("%s %q: want LeaseDuration/RenewDeadline/RetryPeriod such as 15s/10s/2s, or a preset (%s)", flag, item, names)
	}
	var d [3]time.Duration
	for i, name := range []string{"LeaseDuration", "RenewDeadline", "RetryPeriod"} {
		v, err := time.ParseDuration(parts[i])
		if err != nil || v <= 0 {
			return setting{}, usagef("%s %q: %s %q must be a positive duration such as 10s", flag, item, name, parts[i])
		}
		d[i] = v
	}
	t := sim.Timing{LeaseDuration: d[0], RenewDeadline: d[1], RetryPeriod: d[2]}
	if err := (sim.Options{Candidates: 1, Timing: t}).Validate(); err != nil {
		return setting{}, usagef("%s %q: %s", flag, item, strings.TrimPrefix(strings.TrimPrefix(err.Error(), "sim: "), "Timing."))
	}
	return setting{timing: t}, nil
}

// presetHelp lists the presets for a command's help: name, settings,
// controller, source and version.
func presetHelp() string {
	var b strings.Builder
	b.WriteString("Presets (--timing NAME; docs/operators.md shows what each does under faults):\n")
	for _, p := range scenarios.Presets {
		rel, timeout := "off", "none"
		if p.ReleaseOnCancel {
			rel = "on"
		}
		if p.ClientTimeout > 0 {
			timeout = p.ClientTimeout.String()
		}
		fmt.Fprintf(&b, "  %-24s %s, ReleaseOnCancel %s, client timeout %s: %s\n  %-24s from %s, %s\n",
			p.Name, scenarios.TimingLabel(p.Timing), rel, timeout, p.Controller, "", p.Source, p.Version)
	}
	return b.String()
}

// parseLatency reads a per-leg latency: "2ms" (fixed) or "1ms..3ms"
// (uniform), as sim.Dist prints it.
func parseLatency(flag, value string) (sim.Dist, error) {
	lo, hi, ranged := strings.Cut(value, "..")
	if !ranged {
		hi = lo
	}
	a, errA := time.ParseDuration(lo)
	b, errB := time.ParseDuration(hi)
	if errA != nil || errB != nil || a < 0 || b < 0 {
		return sim.Dist{}, usagef("%s %q: want a latency per leg such as 2ms or 1ms..3ms", flag, value)
	}
	if b < a {
		return sim.Dist{}, usagef("%s %q: the upper end (%v) must not be less than the lower (%v)", flag, value, b, a)
	}
	return sim.Dist{Min: a, Max: b}, nil
}

// scenarioIDs lists the catalog's IDs, those with a failover window when
// measurable is set.
func scenarioIDs(measurable bool) string {
	return joinNames(scenarios.Catalog(), func(s scenarios.Scenario) (string, bool) {
		return s.ID, !measurable || s.Failover != nil
	})
}

// parseScenarios reads --scenarios for bench: catalog IDs whose purpose is a
// failover, which the bench measures against its window.
func parseScenarios(flag, value string) ([]scenarios.Scenario, error) {
	var out []scenarios.Scenario
	for _, id := range strings.Split(value, ",") {
		id = strings.TrimSpace(id)
		s, ok := scenarios.Lookup(id)
		if !ok {
			return nil, usagef("%s: unknown scenario %q; the bench measures %s", flag, id, scenarioIDs(true))
		}
		if s.Failover == nil {
			return nil, usagef("%s: scenario %q has no failover window to measure; the bench measures %s (leaderlab run runs any scenario)", flag, id, scenarioIDs(true))
		}
		out = append(out, s)
	}
	return out, nil
}

// parseShard reads --shard I/N.
func parseShard(flag, value string) (benchmark.Shard, error) {
	i, n, ok := strings.Cut(value, "/")
	index, errI := strconv.Atoi(i)
	count, errN := strconv.Atoi(n)
	if !ok || errI != nil || errN != nil {
		return benchmark.Shard{}, usagef("%s %q: want I/N such as 1/4", flag, value)
	}
	sh := benchmark.Shard{Index: index, Count: count}
	if count < 1 || index < 1 || index > count {
		return sh, usagef("%s %q: I must lie in 1..N and N must be at least 1", flag, value)
	}
	return sh, nil
}

// atLeast checks an integer flag's lower bound.
func atLeast(flag string, v, lo int) error {
	if v < lo {
		return usagef("%s (%d) must be at least %d", flag, v, lo)
	}
	return nil
}

// outputFlags are the flags of the commands that write a bench's report.
type outputFlags struct {
	out  string
	json bool
}

func (o *outputFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.out, "out", "report", "output folder")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the table as JSON instead of Markdown")
}

// timingLabels is the labels of ts, comma-separated, as --timing takes them.
func timingLabels(ts []sim.Timing) string {
	labels := make([]string, len(ts))
	for i, t := range ts {
		labels[i] = scenarios.TimingLabel(t)
	}
	return strings.Join(labels, ",")
}

// scenarioList is the IDs of ss, comma-separated, as --scenarios takes them.
func scenarioList(ss []scenarios.Scenario) string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return strings.Join(ids, ",")
}
