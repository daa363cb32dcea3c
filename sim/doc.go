// Package sim runs a simulated Kubernetes cluster for leader election in virtual
// time, so that a test can ask what client-go's leader election really does when
// the API server is slow, failing or unreachable, or when a leader crashes: who
// leads when, how long a failover takes, and whether two candidates ever act as
// leader at once.
//
// # What runs
//
// Every candidate is the production stack, unmodified: the lock comes from
// leaderlab's leaderelection.NewResourceLock (so its client timeout,
// max(RenewDeadline/2, 1s), is in force), client-go's LeaseLock talks through the
// real client-go REST client (protobuf on the wire, its timeouts and retries) to
// an in-memory API server, and client-go's LeaderElector drives it. Nothing is
// stubbed above the HTTP round trip. The API server is generic over the built-in
// resources of client-go's scheme (get, list, create, update, delete on
// namespaced objects), keeps real resourceVersion semantics (409 Conflict on a
// stale update, 409 AlreadyExists, 404 NotFound, as apimachinery status errors),
// and applies each request when it arrives. A request has two latency legs, to
// the server and back, so a client can give up on a write that the server still
// applies, as on a real cluster.
//
// # API summary
//
//	report := sim.Test(t, sim.Options{Seed: 1, Candidates: 3}, func(c *sim.Cluster) {
//		leader := c.AwaitLeader(30 * time.Second) // fails the test with the trace tail
//		c.Crash(leader)                            // gone at once, no release
//		c.Advance(time.Minute)                     // virtual time
//	})
//	t.Log(report.Text())
//
// Options (zero values mean the documented defaults): Seed, Candidates (named
// c0, c1, ...), Timing{LeaseDuration, RenewDeadline, RetryPeriod} (15s/10s/2s),
// ReleaseOnCancel, Latency (per leg, default uniform 1ms..3ms), NoClientTimeout,
// AllowOverlap, SameInstantStart, ExitOnLoss, TraceRequests, LogVerbosity, Faults (a
// schedule of Fault values), Run (bring your own candidate), Namespace,
// LeaseName. Options.Validate reports bad input before anything runs.
//
// Cluster (only from the body): Now, Advance, AwaitLeader, Leader, Leaders,
// Holder, Crash, Stop, Start, StartAs, Partition, Heal, SetLatency,
// SlowNextResponse, SetErrors, Outage, BlackHole, DeleteLease, OverwriteLease,
// Inject (any Fault, now), Object and AddObjects (the store), T, StartTime,
// Report.
//
// Report: Seed and Options first, ReplayExact and ReplayNote, Trace (one Event
// per line), Terms (acting-leader intervals), Failovers, Overlaps, Leaderless,
// LostWithoutCrash, Holders (the lease holder over time), Faults (the fault
// intervals), Requests (counts, conflicts, timeouts), Violations; rendered by
// Text, JSON and SVG. Ledger, which derives terms, overlaps and failovers, is
// exported so that harnesses watching other clusters report the same way.
//
// Process (bring your own candidate): Options.Run receives a *Process with the
// candidate's Name, Identity, *rest.Config, lock and timing, and a Callbacks
// method that wraps client-go LeaderCallbacks so that the simulator sees when the
// user's code starts and stops acting as leader.
//
// # Acting leader, terms, failovers, overlaps
//
// A candidate acts as leader from OnStartedLeading until the context handed to
// it is done, or until it crashes. That interval is a Term. A Failover runs from
// the end of one term to the start of the next, with the cause of the end (crash,
// stop, lost). An Overlap is time during which two candidates act as leader at
// once; the report names what explains it: a pending release (ReleaseOnCancel
// while the API cannot be reached: client-go releases before it cancels the
// leader's context) or a late renew response (the leader counts its renew
// deadline from when the answer arrived, followers count the lease from when
// the server applied it). Overlaps are invariant violations unless
// Options.AllowOverlap is set.
//
// # How time works
//
// Each Test is one testing/synctest bubble. The clock is virtual and starts at
// 2000-01-01 00:00:00 UTC; it moves only when every goroutine in the bubble is
// blocked, so an hour of leader election costs milliseconds. Advance(d) lets d of
// virtual time pass; AwaitLeader(within) waits at most within of virtual time.
// The run starts at a seeded instant of the clock's first second (Cluster.StartTime),
// because client-go's lease records carry whole-second renew times: with a
// RetryPeriod under 1s, where the renews fall within their seconds changes how
// late a follower notices one, and a real cluster starts at any phase.
// Times in the report are offsets from the start of the run. The body must not
// block on anything outside the bubble (sockets, real files, other tests).
//
// # Replay
//
// One Options.Seed derives every choice the simulator makes (each candidate has
// its own random stream for latencies and error draws), and the simulator seeds
// client-go's jitter, which draws from the global math/rand, itself: it sets
// GODEBUG randseednop=0 at run time (keeping other GODEBUG settings) and calls
// rand.Seed. Candidates start a few milliseconds apart so that no two draw
// jitter at the same instant, the API server applies requests that arrive at
// the same instant in candidate order, and the trace sorts events of one
// instant canonically. Same seed, same options, same code: the same trace, byte
// for byte. A failing run prints its seed, its options and the command to run
// it again.
//
// Exact replay is impossible, and the report says so (ReplayExact false), when
// two simulations run at once in one process (parallel tests share the global
// math/rand), and it is not promised with SameInstantStart with a fixed latency
// or with Run functions that issue concurrent requests or draw from math/rand
// themselves.
//
// # What it is not for
//
// It is not a Kubernetes API server: no watch, no admission, no field selectors,
// no patch, no cluster-scoped resources, no custom resources. It does not
// simulate the network below HTTP (no connection reuse, no TLS, no HTTP/2
// streams). It is not a load test: latencies are modelled, not measured.
//
// # Current limitations
//
//   - Candidates use the "leases" lock kind only (the only kind client-go has).
//   - Latency distributions are uniform between Min and Max per leg.
//   - Each leg takes at least one microsecond, so that the order of events at
//     one instant is always defined.
//   - A Run function's goroutines must all end when its context is cancelled;
//     the bubble cannot end otherwise.
//   - Only one bubble may run per test (testing/synctest has no nesting), and
//     Test must not be called from inside a bubble.
//   - A request whose context has already expired when it reaches the network
//     is not sent, counted or traced, and neither is client-go's log line about
//     it. With RenewDeadline a multiple of RetryPeriod (the defaults) the last
//     renew poll and the deadline fall on one virtual instant, and whether
//     client-go still makes that request depends on goroutine scheduling; the
//     request never leaves the process either way.
//   - The built-in candidate joins the election again after losing it, unless
//     ExitOnLoss.
//   - Speed (see BENCHMARKS.md): about 19,000 x real time for three candidates
//     on two cores. Most of it is client-go's own per-request cost, which
//     alone caps a simulation through the real REST client at about
//     25,000-30,000 x on that machine.
//
// # Benchmarks
//
// testing/synctest.Test takes only a *testing.T. A benchmark (or an example)
// gets one by running its bubble through testing.RunTests; see asTest in
// example_test.go.
package sim
