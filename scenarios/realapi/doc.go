// Package realapi runs leader-election failover scenarios on a real
// kube-apiserver, in real time, and measures them against client-go's
// failover arithmetic: "benchmark my failover on a real API server" for a
// given timing, and the real-server half of leaderlab's fidelity check (the
// same scenarios in sim, in virtual time, must give the same distribution).
//
//	res, err := realapi.Run(ctx, cfg, realapi.Options{Timing: myTiming, Trials: 10}, realapi.LeaderCrash)
//	if err != nil { ... }          // bad input, or a trial that could not run
//	fmt.Print(res.Text())          // expectation, then one line per trial
//	if err := res.Check(); err != nil { ... } // trials that missed the bounds
//
// # What runs
//
// Each trial starts Options.Candidates unmodified client-go LeaderElectors on a
// lease of its own (random name, deleted afterwards) in Options.Namespace. Each
// candidate's lock comes from leaderlab's leaderelection.NewResourceLock (so
// its client timeout, max(RenewDeadline/2, 1s), is in force) on a copy of the
// caller's *rest.Config; the caller's config is never modified. cfg can reach
// an envtest API server or a real cluster; the harness needs get, list,
// create, update and delete on leases in the namespace. Each candidate
// process gets its own HTTP transport (its own connections, as a real process
// has) and the caller's QPS and Burst: pass the config your manager uses.
//
// The report's parts (Term, Failover, Overlap, Event, RequestTimes,
// RequestStats) are sim's types, with the same meanings: a candidate acts as
// leader from OnStartedLeading until the context handed to it is done, or its
// crash; a failover is a time without an acting leader between two terms; an
// overlap is time during which two act at once.
//
// # How faults are injected
//
// Every candidate's config is wrapped (rest.Config.Wrap) with a RoundTripper
// the harness controls, outermost, so client-go's own timeouts, retries and
// throttling run unchanged above it:
//   - latency per leg, to the server and back, honouring the request's
//     context (a leg cut by the context fails the request at once; on the
//     response leg the server has applied the request);
//   - one slow response (the next answer arrives after a given delay);
//   - partition: a black hole; requests never reach the server, answers not
//     yet delivered are lost, and each request waits until its context ends;
//     heal ends it; PartitionAfterWrites partitions the instant the n-th
//     successful write is answered, so the leader's last successful renew is
//     known exactly;
//   - crash: the network is cut first, then the elector's context is
//     cancelled, so nothing it sends later (a release included) reaches the
//     server; its term ends at the crash instant;
//   - graceful stop (cancel; with ReleaseOnCancel the elector releases) and
//     restart (a new process with the same identity, on a healed network);
//   - a foreign writer (a separate client without faults) overwriting the
//     lease's holder, or deleting the lease.
//
// Cluster exposes these for hand-written plans; Run and the Scenario
// constants are the catalog. Each scenario states its bounds up front
// (Scenario.Expect): derived from client-go's elector code with an allowance
// RT per round trip (Options.Allowance, 100ms by default, plus added latency),
// never from observed runs. Expectation.Why spells out the arithmetic.
//
// # A correction to the arithmetic: one-second renew times
//
// Followers restart their lease countdown when the record they read changes,
// and client-go compares the record as JSON whose renewTime is a metav1.Time:
// whole seconds. When the leader renews more than once a second (RetryPeriod
// under 1s), renews within one wall-clock second look alike, and a follower
// may count the lease from a renew up to a second older than the last one.
// The bounds include this as Expectation.Grain; with RetryPeriod of 1s or
// more (client-go's defaults) Grain is zero.
//
// # What cannot be reproduced on a real server, and why
//
//   - Error answers (500, 503, 429 with Retry-After) and fast-failing outages
//     of the server itself: the harness sits in the client and does not forge
//     server answers; sim covers them.
//   - The instant the server applies a request is not observable from the
//     client (RequestTimes.Applied is -1); bounds allow a round trip for it.
//   - Exact replay: client-go's jitter, the Go scheduler and the server's
//     own timing differ run to run. Results are distributions, not traces;
//     compare them with sim's over many trials.
//   - Clock skew between candidates: they share this machine's clock.
//   - Thundering herds of hundreds of candidates: MaxCandidates bounds a
//     trial, since every candidate polls the real server.
//
// # What it is not for
//
// It is not a load test of the API server, and not a unit-test helper: a
// trial takes seconds of real time (about LeaseDuration plus a few retry
// periods). For fast, deterministic tests use sim; use this package to check
// that sim and the real server agree, and to measure your own timing on your
// own server.
//
// # Current limitations
//
//   - Timing must have a whole-second LeaseDuration (the lease stores whole
//     seconds), and RenewDeadline > 1.2 x RetryPeriod, as client-go requires.
//   - Bounds assume the candidates and the server are close (RT is a
//     constant allowance); on a remote server raise Options.Allowance or set
//     Options.Latency.
//   - A trial fails with an error, rather than measuring, if no leader is
//     elected within LeaseDuration + 4.4 x RetryPeriod + 10 RT of its start.
//   - The candidates use the "leases" lock kind (the only kind client-go has)
//     and the built-in client-go elector; bringing your own candidate is
//     sim's feature.
//   - Validate, the long fidelity run, takes minutes; `make test` runs each
//     scenario once.
package realapi
