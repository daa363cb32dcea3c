// Package scenarios is a catalog of leader-election scenarios for the
// simulator in package sim, with Gomega matchers for its reports and the
// failover arithmetic (Bounds); package benchmark beside it measures failover
// times over many seeds. It is how a controller author checks, in
// their own ginkgo suite, what client-go's leader election does under their
// timing when leaders crash, stop, lose the API or meet a foreign writer.
//
// # The catalog
//
// Catalog returns every Scenario: a sentence, a paragraph that explains it,
// a fault plan that drives a *sim.Cluster in virtual time, and expectations
// derived from client-go's algorithm for any timing and candidate count.
// The arithmetic lives in Bounds, its one home: for
// example a crash fails over within [LD - RP, LD + 4.4 RP] plus a few round
// trips, a release within 2.2 RP. Expectations never come from an observed
// run, so a simulator or client-go change that moves the numbers fails the
// catalog instead of silently redefining it.
//
// The catalog covers the steady state, a leader crash, a graceful handover
// with ReleaseOnCancel, a rolling restart, one renew answered after
// RenewDeadline with and without the client timeout, API outages shorter
// and longer than RenewDeadline, a partitioned leader, the two cases where
// client-go's margin LD - RD - RP breaks (a partitioned leader with
// ReleaseOnCancel; late renew answers, then a partition) each with the
// LeaseDuration that repairs it, an error storm of 500 and 429 answers, a
// deleted lease, a lease overwritten by a foreign writer and a thundering
// herd of fifty candidates.
//
// # In a ginkgo suite
//
// DescribeCatalog declares the whole catalog for one Config (timing,
// candidates, latency, seeds): one DescribeTable per scenario, one entry per
// seed. The simulator needs the suite's *testing.T, which exists only once
// TestXxx runs, so the suite captures it before RunSpecs:
//
//	var suiteT *testing.T
//
//	func TestFailover(t *testing.T) {
//		suiteT = t
//		RegisterFailHandler(Fail)
//		RunSpecs(t, "Failover")
//	}
//
//	var _ = scenarios.DescribeCatalog(func() *testing.T { return suiteT }, scenarios.Config{
//		Timing: sim.Timing{LeaseDuration: 20 * time.Second, RenewDeadline: 15 * time.Second, RetryPeriod: 3 * time.Second},
//	})
//
// Each run is a subtest of that *testing.T ("<id>/seed-<n>/spec-<hash>" in
// a ginkgo spec, the hash of the spec's full text, so that two specs that
// run the same scenario and seed never share a name; "<id>/seed-<n>" in a
// plain test), so the simulator's own failures (an invariant violated, no
// leader in time) land on that subtest. A failing spec prints the evidence,
// the seed and the go test command that runs that spec alone.
//
// # Your own controller
//
// DescribeManagerCatalog runs a Controller (your setup function, the outside
// changes that give it work) as three controller-runtime managers
// (sim.Manager) through leader crash, graceful handover, rolling restart,
// partitioned leader with and without ReleaseOnCancel, slow data writes
// across the end of a term, an overloaded API server and API server
// restarts, and expects what the election scenarios expect, no stale write,
// and writes by the candidates (a controller that never ran fails):
//
//	var _ = scenarios.DescribeManagerCatalog(func() *testing.T { return suiteT }, scenarios.Controller{
//		Setup:  (&MyReconciler{}).SetupWithManager,
//		Change: func(c *sim.Cluster, i int) error { return c.Client().Update(ctx, nextVersionOf(obj, i)) },
//	}, scenarios.Config{})
//
// # Matchers
//
// HaveNoSplitBrain, HaveOneLeaderAtEnd, HaveFailoversWithin,
// HaveNoLossWithoutCrash, HaveLossesWithoutCrash, HaveLeaderlessTimeAtMost,
// HaveLeaderWithin, HaveSteppedDownWithin, HaveOverlapsWithin,
// HaveNoStaleWrites, HaveWrittenOnlyAsLeader and HaveWrittenData take a
// *sim.Report and fail with the evidence: the overlapping terms and their
// cause, the failover out of bounds, the last renew of a lost term, the
// trace lines around them, the seed and the replay hint. They compose with
// gomega.And and work in plain go tests through gomega.NewWithT.
//
// # Benchmarks
//
// Package benchmark (scenarios/benchmark) measures the catalog's failovers
// over many seeds for a set of timings (CommonTimings by default) and
// writes tables and pictures. The module's own benchmarks are ginkgo specs
// labelled "benchmark" that exist only when a label filter selects them (go
// test ./scenarios -run TestScenarios -ginkgo.label-filter=benchmark); make
// bench runs the same measurement through the leaderlab command
// (cmd/leaderlab).
//
// # On a real API server
//
// Every plan drives a *sim.Cluster, and the same plan runs on a real API
// server: Scenario.RunReal runs it through sim.Real, in real time, on a copy
// of your *rest.Config (envtest, kind, a staging cluster), and returns a
// report of the same type, so Expect and every matcher apply. The bounds
// then include Config.Allowance, the real server's own round trip
// (DefaultAllowance). Package scenarios/realapi compares the two backends on
// the catalog (make validate).
//
// # What it is not for
//
// Its numbers in the simulator are virtual time: they say what client-go's
// algorithm does under the modelled latency, not how fast a real cluster is.
// It is not a load test.
//
// # Current limitations
//
//   - Runs share the process-wide math/rand that client-go's jitter draws
//     from, so specs that run simulations must not run in parallel within
//     one process (ginkgo -p runs separate processes, which is fine).
//   - Expectations hold for timings where the round trip is small against
//     RetryPeriod; with latencies near RP the windows widen by whole round
//     trips as documented on each Bounds method.
//   - The rolling restart replaces replicas in one slot each (stop, then
//     start with a new identity); it does not model surge pods running
//     beside the old ones.
//   - go test's -run flag filters the subtests of the runs: a spec or a test
//     whose run was filtered out (by Run or Verify) is skipped with a
//     message saying so, and a test that calls Run for several runs stops at
//     the first one left out.
//   - On a real server a plan takes its length in real time: a catalog entry
//     at 3s/2s/500ms takes 5-25 s, the steady state at least a minute.
package scenarios
