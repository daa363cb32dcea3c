#!/usr/bin/env bash
# Failover-timing benchmarks: runs the scenarios suite's "benchmark" specs,
# prints progress and the table, and writes report/ (table, a histogram per
# scenario, timelines). LEADERLAB_BENCH_SEEDS (default 200) sets the seeds per
# scenario and timing; LEADERLAB_REPORT_DIR (default report/) the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
export LEADERLAB_REPORT_DIR="${LEADERLAB_REPORT_DIR:-$PWD/report}"
mkdir -p "$LEADERLAB_REPORT_DIR"
# -ginkgo.silence-skips: the label filter skips every other spec of the suite,
# and ginkgo would print an "S" for each of them on one long line.
# grep --line-buffered: without it grep holds its output in 4 KiB blocks when
# writing to a pipe, and progress lines arrive in bursts.
go test ./scenarios/ -count=1 -timeout 60m -run '^TestScenarios$' -v \
	-ginkgo.label-filter=benchmark -ginkgo.v -ginkgo.silence-skips "$@" 2>&1 \
	| grep --line-buffered -v -e '^=== RUN' -e '^    --- PASS' \
	| tee "$LEADERLAB_REPORT_DIR/bench.log"
echo "report: $LEADERLAB_REPORT_DIR"
