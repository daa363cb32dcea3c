package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leaderlab/leaderlab/scenarios"
	"github.com/leaderlab/leaderlab/sim"
)

// usageError is bad input: the command exits with status 2 and the message,
// never a stack trace.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// preset is a well-known timing, by the name --timing accepts.
type preset struct {
	name   string
	timing sim.Timing
	why    string
}

func secs(ld, rd, rp int) sim.Timing {
	return sim.Timing{LeaseDuration: time.Duration(ld) * time.Second, RenewDeadline: time.Duration(rd) * time.Second, RetryPeriod: time.Duration(rp) * time.Second}
}

// presets are the timings users meet most: client-go's and
// controller-runtime's defaults, and OpenShift's for highly available and
// single-node clusters.
var presets = []preset{
	{"default", secs(15, 10, 2), "client-go's and controller-runtime's defaults"},
	{"openshift", secs(137, 107, 26), "OpenShift's operators on highly available clusters"},
	{"openshift-sno", secs(270, 240, 60), "OpenShift's operators on single-node clusters"},
}

func presetNames() string {
	return joinNames(presets, func(p preset) (string, bool) { return p.name, true })
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

// parseTimings reads --timing: a comma-separated list of LD/RD/RP triples
// ("15s/10s/2s") and preset names; "common" is every timing of
// scenarios.CommonTimings. Each timing must pass the simulator's checks.
func parseTimings(flag, value string) ([]sim.Timing, error) {
	var out []sim.Timing
	for _, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		if item == "common" {
			out = append(out, scenarios.CommonTimings...)
			continue
		}
		t, err := parseTiming(flag, item)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// parseTiming reads one timing: a preset name or LD/RD/RP.
func parseTiming(flag, item string) (sim.Timing, error) {
	for _, p := range presets {
		if item == p.name {
			return p.timing, nil
		}
	}
	parts := strings.Split(item, "/")
	if len(parts) != 3 {
		return sim.Timing{}, usagef("%s %q: want LeaseDuration/RenewDeadline/RetryPeriod such as 15s/10s/2s, or a preset (%s, or common)", flag, item, presetNames())
	}
	var d [3]time.Duration
	for i, name := range []string{"LeaseDuration", "RenewDeadline", "RetryPeriod"} {
		v, err := time.ParseDuration(parts[i])
		if err != nil || v <= 0 {
			return sim.Timing{}, usagef("%s %q: %s %q must be a positive duration such as 10s", flag, item, name, parts[i])
		}
		d[i] = v
	}
	t := sim.Timing{LeaseDuration: d[0], RenewDeadline: d[1], RetryPeriod: d[2]}
	if err := (sim.Options{Candidates: 1, Timing: t}).Validate(); err != nil {
		return sim.Timing{}, usagef("%s %q: %s", flag, item, strings.TrimPrefix(strings.TrimPrefix(err.Error(), "sim: "), "Timing."))
	}
	return t, nil
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
func parseShard(flag, value string) (scenarios.Shard, error) {
	i, n, ok := strings.Cut(value, "/")
	index, errI := strconv.Atoi(i)
	count, errN := strconv.Atoi(n)
	if !ok || errI != nil || errN != nil {
		return scenarios.Shard{}, usagef("%s %q: want I/N such as 1/4", flag, value)
	}
	sh := scenarios.Shard{Index: index, Count: count}
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
