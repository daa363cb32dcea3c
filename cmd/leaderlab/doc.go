// Command leaderlab answers "what happens with my timing?" for client-go's
// leader election without writing Go: it runs real client-go electors in
// virtual time against a simulated API server (package sim), over the
// scenario catalog of package scenarios, and checks every figure against
// client-go's failover arithmetic (scenarios.Bounds), the one place that
// arithmetic lives.
//
//	go install github.com/leaderlab/leaderlab/cmd/leaderlab@VERSION
//
//	leaderlab bench  [--timing 15s/10s/2s,openshift] [--seeds 200] [--out report] [--shards N | --shard I/N]
//	leaderlab run    SCENARIO [--seed N] [--timing ...] [--svg FILE] [--json]
//	leaderlab advise [--outage D] [--clock-skew S] [--max-failover F] [--release-on-cancel] [--timing ...]
//	leaderlab explore [--schedules 200] [--seed 1] [--timing ...] [--max-overlap D] [--moves ...] [--shards N | --shard I/N] [--json]
//	leaderlab explore --merge PARTIAL.json... [the same flags]
//	leaderlab operators [--seeds 200] > docs/operators.md
//	leaderlab merge  PARTIAL.json... [--out report]
//
// bench measures failover times over many seeds and writes a report folder
// (Markdown and JSON table, an SVG histogram per scenario, the timeline of a
// representative run per scenario, index.html); run runs one scenario once
// and says how to replay it; advise derives a timing from what must be
// tolerated, shows its margins and verifies it in the simulator; explore
// searches random fault schedules of the built-in elector (package explore)
// for one that breaks a check (an unserved request, an overlap longer than
// client-go's arithmetic allows or than --max-overlap), shrinks it and prints
// it as Go with the command that replays it; operators
// prints docs/operators.md, what widely used controllers' settings do under
// faults; merge combines the partial results of bench --shard.
//
// # Presets
//
// --timing takes an LD/RD/RP triple or a preset (scenarios.Presets): a
// controller's settings as it ships them, with their source and version in
// each command's help. A preset carries its timing, ReleaseOnCancel and
// client timeout (max(RD/2, 1s) or none); a triple carries client-go's
// defaults (ReleaseOnCancel off, the client timeout). run and advise use all
// of it, and --release-on-cancel and --no-client-timeout, when given,
// override what --timing carries (--release-on-cancel=false turns a preset's
// off). bench uses a preset's timing only: its scenarios do not depend on the
// other two. A replay command spells a preset out as its triple and flags, so
// that it replays the same run after the preset table changes.
//
// Results go to standard output, progress and diagnostics to standard
// error. Exit status: 0 done, 1 a check failed (an invariant, an
// expectation, a requirement the timing does not meet) or the work could not
// be done, 2 bad usage (a bad flag, an unknown scenario or preset, an
// impossible requirement), with a message naming the flag and the bound.
//
// # Sharding
//
// client-go's jitter draws from the process-wide math/rand, which the
// simulator seeds for each run, so runs that must replay exactly cannot run
// at once in one process. --shards N therefore starts N worker processes of
// this same program, each on a contiguous slice of the seeds, and merges
// their results; --shard I/N runs one slice and writes a partial result, and
// merge combines them, on one machine or across a Kubernetes Indexed Job
// (docs/indexed-job.yaml). Every seed replays exactly wherever it runs, and
// nothing in the output depends on where or how fast it ran (no wall times,
// no dates), so all three ways give byte-identical output.
//
// # Limits
//
//   - Times are virtual: they say what client-go's algorithm does under the
//     modelled latency (uniform per leg), not how fast a real cluster is.
//   - Only the catalog's scenarios run; bench measures those with a failover
//     window (crash, handover, rolling-restart). Your own plans need the
//     library (benchmark.Run in scenarios/benchmark, sim.Test).
//   - The simulator needs a *testing.T: the command hosts one test through
//     testing.Main, so while it simulates, the testing package's own output
//     goes to a temporary file (shown on standard error only on failure),
//     and testing's -test.* flags are not the command's.
//   - advise searches whole-second timings with RetryPeriod 2s or 1s only;
//     its clock-skew requirement is arithmetic only (the simulated
//     candidates share one clock); an outage means refused connections.
//   - A shard's partial result records the bench it measured; merge refuses
//     partials of different benches, a shard given twice or one missing, but
//     it trusts their contents.
//   - The representative runs that the report draws (one per scenario) are
//     run again by whoever merges.
//   - The command sets the collector to GOGC=400 unless GOGC is set (a heap of
//     about 100 MB for a bench), and each --shards worker to its share of the
//     cores through GOMAXPROCS unless GOMAXPROCS is set. One process keeps
//     about 1.1 cores busy, so N workers on N cores come close to, but stay
//     under, N times as fast.
package main
