#!/usr/bin/env bash
# validate.sh: the long fidelity comparison of sim against a real kube-apiserver
# (scenarios/realapi TestValidate). Writes validate.md, validate.svg and
# validate.json into the report folder.
#
#   hack/validate.sh [trials] [report-dir]      defaults: 10 trials, ./report
#
# Environment: VALIDATE_SEEDS (simulated seeds per plan, default 100 x trials),
# VALIDATE_PLANS (a glob of plan names), VALIDATE_MACHINE (machine description).
set -euo pipefail
cd "$(dirname "$0")/.."
trials="${1:-${VALIDATE_TRIALS:-10}}"
report="${2:-${VALIDATE_REPORT:-report}}"
mkdir -p "$report"
report="$(cd "$report" && pwd)"
assets="$(bash hack/envtest-assets.sh)"
args=(-validate.trials="$trials" -validate.report="$report")
[[ -n "${VALIDATE_SEEDS:-}" ]] && args+=(-validate.seeds="$VALIDATE_SEEDS")
[[ -n "${VALIDATE_PLANS:-}" ]] && args+=(-validate.plans="$VALIDATE_PLANS")
[[ -n "${VALIDATE_MACHINE:-}" ]] && args+=(-validate.machine="$VALIDATE_MACHINE")
# No -race: the race detector slows the real candidates' timers and would
# widen the real distributions; the small form in `make test` runs with it.
KUBEBUILDER_ASSETS="$assets" go test ./scenarios/realapi -run '^TestValidate$' -count=1 -v \
  -timeout "$((trials * 3 + 10))m" -args "${args[@]}"
