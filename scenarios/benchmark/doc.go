// Package benchmark measures virtual failover times over many seeds: the
// benchmark half of package scenarios, beside its catalog. Run measures the
// catalog's crash, handover and rolling-restart failovers (Scenarios) for a
// set of timings (scenarios.CommonTimings by default) and a latency model,
// and returns each distribution (min, median, p99, max) with the leaderless
// time per run and the count of failovers outside the arithmetic's window
// (scenarios.Bounds). With Spec.Dir set it writes a Markdown table, an SVG
// histogram per scenario and the timeline of one representative run.
//
//	results, err := benchmark.Run(t, benchmark.Spec{
//		Timings: []sim.Timing{{LeaseDuration: 20 * time.Second, RenewDeadline: 15 * time.Second, RetryPeriod: 3 * time.Second}},
//		Dir:     "report",
//	})
//
// # Limits
//
//   - Seeds run one after another in one process, so that every run can be
//     replayed exactly; they do not use the second core. To use more, split
//     the seeds with Spec.Shard across processes or machines and combine
//     the partial results with Spec.Merge (the leaderlab command's --shards
//     and --shard do).
//   - Only scenarios with a failover window (Scenario.Failover) can be
//     measured.
package benchmark
