#!/usr/bin/env bash
# Failover-timing benchmarks with the leaderlab command: crash, handover and
# rolling-restart failovers over LEADERLAB_BENCH_SEEDS seeds (default 200)
# for every common timing, in LEADERLAB_BENCH_SHARDS worker processes
# (default: one per core); progress on stderr, the table on stdout, and the
# report (table, histograms, timelines, index.html) in LEADERLAB_REPORT_DIR
# (default report/). Extra arguments go to leaderlab bench.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${LEADERLAB_REPORT_DIR:-$PWD/report}"
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/leaderlab" ./cmd/leaderlab
"$bin/leaderlab" bench --timing common --seeds "${LEADERLAB_BENCH_SEEDS:-200}" \
	--shards "${LEADERLAB_BENCH_SHARDS:-$(nproc)}" --out "$out" "$@"
