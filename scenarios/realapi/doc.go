// Package realapi checks the simulator against a real kube-apiserver: Compare
// runs catalog entries (package scenarios) on both backends, the real one
// through sim.Real in real time and the simulator in virtual time, and judges
// whether they agree by a criterion fixed before any run.
//
//	cmp, err := realapi.Compare(ctx, t, cfg, realapi.CompareOptions{Trials: 10})
//	if err != nil { ... }          // bad input, or a run that could not complete
//	fmt.Print(cmp.Markdown())      // criterion, failover times side by side, outcomes
//	if err := cmp.Err(); err != nil { ... } // plans that disagree
//
// # What runs
//
// A Plan is a catalog entry and the scenarios.Config it runs under. Each real
// trial is the entry's own plan on sim.Real: the candidates are client-go
// LeaderElectors on locks from leaderlab's leaderelection.NewResourceLock, on
// copies of cfg (never modified), with the faults in a RoundTripper in front
// of each (crashes, stops, partitions, slow and late answers, forged 500, 503
// and 429 answers, refused connections, a foreign writer), each on a lease of
// its own that is deleted afterwards. cfg can reach envtest, a kind cluster or
// a staging cluster; the runs need get, list, create, update and delete on
// leases in the default namespace. Each trial's report is a *sim.Report, so
// the entry's expectations (scenarios.Bounds, with the real server's round
// trip allowance, scenarios.DefaultAllowance) and every matcher apply to it:
// Compare lists each run that misses them among the differences.
//
// The simulated side runs the same plan, seeds 1..SimSeeds, with the
// simulator's latency matched to the real server first, by a rule stated up
// front (LatencyModel): each leg uniform between half the 5th and half the
// 95th percentile of the round trips the real trials measured
// (sim.Report.RoundTrips). Both sides measure from the plan's fault
// (scenarios.Scenario.Fault): when another candidate took over, when the
// faulted leader stepped down, and how long two candidates acted at once.
// Overlaps are measured on both sides, not failures.
//
// # The criterion
//
// A plan agrees when every real trial's outcome (how the leader's term
// ended, takeover or not, overlap or not) occurs among the simulated seeds,
// and every real takeover, step-down and overlap length lies in
// [sim min - Tolerance, sim max + Tolerance] (DefaultTolerance, one
// round-trip allowance; the small form every `go test` runs uses
// CITolerance). The Mann-Whitney p-value is reported beside it, and below
// ShiftSignificance the shift is listed as a difference to explain. The real
// trials of a plan run before its seeds, never at the same time: the
// simulator seeds client-go's jitter, which is process-wide.
//
// # Run it
//
//	make validate   # hack/validate.sh [trials] [report-dir]; defaults 10 and ./report
//
// writes validate.md (the table), validate.svg (per plan and metric, the
// seeds as ticks and the real trials as dots over the envelope) and
// validate.json. With LEADERLAB_KUBECONFIG set it runs against that cluster
// instead of envtest.
//
// # What a real server cannot show
//
//   - The instant the server applied a request (RequestTimes.Applied is -1);
//     the bounds allow a round trip for it.
//   - Exact replay: client-go's jitter, the Go scheduler and the server's
//     own timing differ run to run. Results are distributions, not traces.
//   - Clock skew between candidates: they share this machine's clock.
//   - Sub-millisecond timing: a real step-down lands a few milliseconds after
//     the simulator's exact RetryPeriod + RenewDeadline (timer wake-ups); the
//     rank test flags that shift and the tolerance absorbs it.
//
// # What it is not for
//
// It is not a load test of the API server, and not a unit-test helper: a
// trial takes seconds of real time. For fast, deterministic tests use the
// simulator (sim.Test, scenarios.DescribeCatalog); to run your own plan or
// your own candidate (sim.Options.Run) on your own server, call sim.Real or
// scenarios.Scenario.RunReal.
//
// # Current limitations
//
//   - Compare must run from a test: the simulated side runs in synctest
//     bubbles, which need a *testing.T.
//   - The latency model is one uniform distribution per leg for all verbs;
//     the real server's tail beyond its 95th percentile is left to the
//     tolerance.
//   - The plans use the default namespace and three candidates; the full
//     run takes about 12 minutes on two cores.
package realapi
