// Package sim runs a cluster of leader-election candidates and reports what
// client-go's leader election really does when the API server is slow,
// failing or unreachable, or when a leader crashes: who leads when, how long
// a failover takes, and whether two candidates ever act as leader at once.
// It has two backends with one model: Test runs the cluster in virtual time
// against an in-memory API server (a simulated hour costs milliseconds and
// replays exactly from a seed); Real runs the same candidates, the same
// faults and the same body against a real API server in real time, and
// returns the same Report.
//
// # What runs
//
// Every candidate is the production stack, unmodified: the lock comes from
// leaderlab's leaderelection.NewResourceLock (so its client timeout,
// max(RenewDeadline/2, 1s), is in force), client-go's LeaseLock talks through
// the real client-go REST client to the API server, and client-go's
// LeaderElector drives it. Nothing is stubbed above the HTTP round trip. The
// faults sit in that round trip, in one RoundTripper per candidate process:
// in the simulator it is the network in front of the in-memory server; on a
// real server it wraps a copy of the caller's *rest.Config, outermost, so
// client-go's timeouts, retries and throttling run unchanged above it.
//
// The simulated API server is package apiserver's Server (fake/apiserver):
// discovery, get, list, watch (watch-list, resume, 410 Gone), create,
// update, patch, server-side apply and delete on any kind of the scheme and
// on the custom resources of Options.CRDs and CRDPaths (with their schemas'
// defaults, pruning and CEL rules, JSON only, as kube-apiserver serves
// them), with kube-apiserver's resourceVersion semantics and status errors
// (see its package documentation for the limits). It applies each request
// when it arrives. A request has two latency legs, to the server and back, so a
// client can give up on a write that the server still applies, as on a real
// cluster; a watch's events each take a response leg, a partition or an
// outage breaks an open watch (the client watches again), a black hole
// stalls it. A request the server cannot serve, and a server error (5xx) it
// answers itself, not one a fault injects, is an invariant violation with
// its message. Managers from Manager get a config without a content type,
// as a real operator's (JSON); Process.Config asks for protobuf, as
// kube-controller-manager's clients do.
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
//	report, err := sim.Real(ctx, cfg, opts, body) // the same body, on a real server
//	report, err = sim.Try(t, opts, body)           // Test that fails nothing: for searches (package explore)
//
// Options (zero values mean the documented defaults): Seed, Candidates (named
// c0, c1, ...), Timing{LeaseDuration, RenewDeadline, RetryPeriod} (15s/10s/2s),
// ReleaseOnCancel, Latency (per leg, default uniform 1ms..3ms; added to a
// real server's own round trip, default nothing), NoClientTimeout,
// AllowOverlap, SameInstantStart, ExitOnLoss, Restart, SkipLeaderlessFaults, TraceRequests,
// LogVerbosity, Faults (a schedule of Fault values), Run (bring your own
// candidate, or Manager), WritesWithoutLeadership, Scheme, CRDs and
// CRDPaths, DisableGarbageCollection and DisableNamespaceLifecycle (the
// simulated cluster runs both controllers), Namespace, LeaseName. Options.Validate reports bad input before anything
// runs.
//
// Cluster (only from the body): Now, Advance, AwaitLeader, Leader, Leaders,
// Holder, Crash, Stop, Start, StartAs, RollingUpdate, Partition, Heal,
// SetLatency, SlowNextResponse, SetErrors, Outage, BlackHole, Overload,
// RestartAPIServer, DeleteLease, OverwriteLease, Inject (any Fault, now),
// Client (an outside actor), Object and AddObjects (the simulated store), T,
// StartTime, Report, Fatalf. A call that fails (a bad fault, no leader in time) ends
// the body: in the simulator it fails the test, and Real returns the error.
//
// Faults are values (Fault, FaultKind) so that a plan reads the same on
// either backend. A fault's Candidate may be Leader, whoever acts as leader
// when it applies; AfterWrites holds it until that candidate's n-th
// successful lease write is answered ("partition the leader as its next renew
// is answered"), so the leader's last successful renew is known exactly.
// Every kind runs on both backends: on a real server the RoundTripper forges
// the 500, 503 and 429 answers and refuses connections during an outage.
//
// Report: Seed, Options and Backend first, ReplayExact, ReplayNote and
// Replay, Duration, FirstLeader, Leaderless, Terms (acting-leader
// intervals), Failovers, Overlaps, LostWithoutCrash, Holders (the lease
// holder over time), Faults (the fault intervals), Requests (counts,
// conflicts, timeouts), Writes, StaleWrites, OverlapWrites, LostUpdates,
// History, CutOffs, RoundTrips (a real server's), Violations and Trace (one
// Event per line); rendered by Text, TraceText, JSON (camelCase keys,
// durations in nanoseconds) and SVG.
//
// Process (bring your own candidate): Options.Run receives a *Process with the
// candidate's Name, Identity, *rest.Config, lock and timing, and a Callbacks
// method that wraps client-go LeaderCallbacks so that the run sees when the
// user's code starts and stops acting as leader.
//
// # Your controller as a candidate
//
// Manager(setup, opts...) is an Options.Run that makes every candidate a real
// controller-runtime manager, built on the candidate's config and lock with
// the run's timing, its logger in the trace, and what a bubble needs (no
// metrics, health-probe or pprof listener, controller name validation off,
// one RESTMapper read from discovery outside the network); setup adds the
// user's reconcilers. The candidate acts as leader while the manager's
// leader-election runnables run. When Start returns the process exits; with
// Options.Restart it is started again after the kubelet's back-off (10 s
// doubling to 5 min, reset after 10 min of running). Cluster.RollingUpdate
// replaces the processes one by one with new identities. Cluster.Client is an
// actor outside the election, like kubectl, with no latency or faults, that
// creates and changes what the controllers reconcile.
//
//	rep := sim.Test(t, sim.Options{Seed: 1, Candidates: 3, Run: sim.Manager(mirror.Setup)}, func(c *sim.Cluster) {
//		_ = c.Client().Create(ctx, source)
//		c.Crash(c.AwaitLeader(time.Minute))
//		c.Advance(time.Minute)
//	})
//	// rep.StaleWrites: what the deposed leader wrote after its term
//
// Report.Writes lists every create, update, patch and delete the server
// applied (status included), the outside actor's too: who sent it, the
// object, the instants it was sent and applied, whether its writer acted as
// leader at each (from the terms: within one virtual instant goroutine order
// is not observable), whether it named the resourceVersion it was based on
// (Guarded), and why it may be made without leadership (Exempt: a runnable
// with NeedLeaderElection false, whose writes carry the context it was
// started with, or an object named in Options.WritesWithoutLeadership).
// Lease writes and Events have their own Kind. Report.StaleWrites are the
// data writes applied when their writer did not act as leader, or after
// another candidate had begun to, each with its cause (StaleInFlight,
// StaleAfterTerm, StaleNeverLed, StaleAfterNewLeader); OverlapWrites are the
// objects both candidates of an overlap wrote. Leader election gives no
// fencing: only a guarded write is refused once the next leader has written.
//
// # What a write did
//
// The oracles judge what a write did, never how it was sent: a
// resourceVersion precondition shows that the writer read the latest
// version, not that what it wrote came from it (a controller that re-reads
// on a conflict and resends the status it computed from its cache passes
// the check and still sets the status back). The simulated server tells the
// simulator of every version it stores, its own controllers' included:
// Report.History has each version of each data object with its writer, the
// controller-runtime controller that sent it where the manager's logger
// names one, and the virtual time, and History.Always checks an invariant
// on every state the run went through. From it, each stale write is judged:
// Harmful when it changed a field that another writer had set after the
// stale writer's term ended, with each such field, from what to what and
// whose write it undid (StaleWrite.Undid); harmless otherwise. The
// simulator also keeps what each process was sent (answers and watch
// events, as they reached it): a write by a candidate that set a field back
// to its value before another writer's change that its process had never
// been sent is a LostUpdate, reported the same way. A leader that saw a
// change and changes the field again is not flagged; Cluster.Client is
// never judged.
//
// Stale views come from two faults. FaultWatchDelay makes a candidate's
// informers see every change late (both backends). FaultStaleReplica serves
// a candidate from a kube-apiserver replica whose watch cache lags the store
// by a duration or is frozen (the simulator only), with kube-apiserver
// 1.37's rules for what the cache serves: watches send each change when the
// cache gains it, reads that name a resourceVersion read the cache, and a
// consistent list or a watch-list waits at most 3 s for the cache to catch
// up, after which the list reads the store and the watch-list is answered
// 504. client-go 1.37's informers start with a watch-list and retry it on
// that 504, so an informer that starts on a replica more than 3 s behind a
// changing store never syncs, while one already running when its replica
// falls behind keeps a stale cache: a standby whose cache lags becomes a
// leader that acts on the past. The candidate moves to a fresh replica when
// its connections break or its process starts again.
//
// A process is gone when it ends: at a crash, and when its Run returns (a
// manager that lost the lease, ExitOnLoss). Requests its goroutines send
// after that never arrive, those already on the wire do, and their answers
// are lost to it (one that comes at the instant it ends too: a crash on a
// lease write's answer, Fault.AfterWrites, ends the process before it reads
// the answer); Report.CutOffs counts the requests sent after the end and
// names the functions that sent them.
//
// Faults that matter once a controller runs: FaultOverload (a server with a
// few seats, a queue and 429, so a flood of lists delays lease renewals),
// FaultAPIRestart (every watch breaks and the history is gone), and Resource
// on latency, slow-response and error faults (slow writes of one kind while
// the leases are fast).
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
// block on anything outside the bubble (sockets, real files, other tests). In
// Real the same calls take real time.
//
// # Replay, and process-wide state
//
// One Options.Seed derives every choice the simulator makes. A request's
// latency legs and error draws come from a hash of the request itself (the
// seed, the candidate and its process start, the instant it was sent, its
// method, URL and body), and a candidate's events of one instant are ordered
// by that hash, so concurrent requests replay whatever order their
// goroutines run in. client-go's jitter draws from the global math/rand,
// which the simulator must seed: since Go 1.24 rand.Seed works only with
// GODEBUG randseednop=0. So while at least one simulation runs, and only
// then, the process's GODEBUG has randseednop=0 added (the other settings
// kept, the old value restored when the last one ends), the global source is
// seeded with the run's seed, and after the last run it is seeded again from
// crypto/rand so that other code never sees a predictable sequence. The
// simulator checks that the seeding took effect. Candidates start a few
// milliseconds apart so that no two draw jitter at the same instant, and the
// trace sorts events of one instant canonically.
//
// State that outlives a run is isolated per candidate process and per run:
// controller-runtime's metrics.Registry, Prometheus' default registry and
// component-base's legacyregistry (so a controller that registers collectors
// registers them afresh in every process of every run), google/uuid's random
// source, klog's global logger and utilruntime.HandleError (their lines go
// to the trace of the process whose goroutine logged them, or under "sim").
// Outside simulations all of these pass straight through to the originals.
// Same seed, same options, same code: the same trace, byte for byte, alone
// or after other runs in the same go test process. A failing run prints its
// seed, its options and the one command that runs exactly that test again.
//
// The report says ReplayExact false, with the reason, when the seeding did
// not take effect, when two simulations ran at once in one process (they
// share the global math/rand), when a collector was registered through
// legacyregistry.CustomRegister (a registry that cannot be swapped), when a
// controller-runtime manager ran (a controller's cache-sync poll and its
// informer can meet at one instant), and for every run on a real server;
// exact replay is not promised with SameInstantStart and a fixed latency, or
// with Run functions that draw from math/rand themselves.
//
// # What it is not for
//
// The simulated server is not kube-apiserver: no admission, no validation or
// defaulting of the built-in kinds (custom resources get their CRDs'), no
// controllers. The simulator does not
// simulate the network below HTTP (no connection reuse, no TLS, no HTTP/2
// streams). It is not a load test: latencies are modelled, not measured.
//
// # Current limitations
//
//   - Candidates use the "leases" lock kind only (the only kind client-go has).
//   - Latency distributions are uniform between Min and Max per leg.
//   - In the simulator each leg takes at least one microsecond, so that the
//     order of events at one instant is always defined.
//   - A Run function's goroutines must all end when its context is cancelled;
//     the run cannot end otherwise. One still blocked ExitGrace (30 s of
//     virtual time) after the end is named, with its goroutines' stacks,
//     before testing/synctest reports the deadlock.
//   - A goroutine waiting for a sync.Mutex is not durably blocked: if user
//     code holds a lock across an API request while another goroutine waits
//     for it, virtual time cannot pass and the run hangs (the reason the
//     managers' RESTMapper is read before the run).
//   - Write attribution sees requests: a write is the candidate process's,
//     and its controller-runtime controller's when the request's context
//     carries the reconcile's logger; a runnable without leader election is
//     known only through the context it was started with.
//   - History, LostUpdates and the judgement of stale writes need the
//     simulated server's record of every version: on a real server History
//     and LostUpdates are empty, and a stale write counts as Harmful unless
//     it named the resourceVersion it was based on (Guarded).
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
//   - On a real server: at most MaxRealCandidates candidates; the instant the
//     server applied a request is not observable (RequestTimes.Applied is -1);
//     a crash cuts the process off at once: a request already on its way
//     to the server may still land, and its answer is lost; Object and AddObjects
//     are errors (use a client); the candidates share this machine's clock,
//     so clock skew is out of reach.
//   - The simulator's speed is bounded by client-go's own cost per request:
//     three electors with a network that costs nothing already take 1.1-1.6
//     times client-go's bare request loop in a bubble (the more, the more
//     cores), and the simulator adds about half as much again (about 2 times
//     in all). BENCHMARKS.md in this package's directory has the measurements.
//
// # Benchmarks
//
// testing/synctest.Test takes only a *testing.T. A benchmark (or an example)
// gets one by running its bubble through testing.RunTests, as the
// examples and benchmarks of this package do.
package sim
