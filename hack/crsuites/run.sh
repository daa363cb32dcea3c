#!/usr/bin/env bash
# Runs controller-runtime's own integration suites (pkg/client and pkg/cache),
# unchanged, against leaderlab's in-memory API server (fake/apiserver) and,
# for comparison, against envtest (kube-apiserver and etcd), then prints the
# passed/total specs and the wall time of each suite on each backend, and the
# specs that fail on the in-memory server with the first line of each failure.
#
#   hack/crsuites/run.sh [memory|envtest|both]       (default both)
#
# Environment:
#   SUITES               suites to run, of "client cache" (default both)
#   CR_VERSION           controller-runtime version (default v0.25.2)
#   CRSUITES_WORK        work directory, wiped and refilled on every run
#                        (default ${TMPDIR:-/tmp}/leaderlab-crsuites); the
#                        reports and logs stay in $CRSUITES_WORK/report
#   KUBEBUILDER_ASSETS   kube-apiserver and etcd for the envtest backend
#                        (default: what hack/envtest-assets.sh prints)
#   SUITE_TIMEOUT        ginkgo's timeout for a suite (default 30m)
#   GINKGO_FLAGS         more flags for the suites, e.g. -ginkgo.focus=Patch
#
# What it does: copies controller-runtime from the module cache into the work
# directory (never into the repository) and makes it writable; requires
# github.com/leaderlab/leaderlab there, replaced by this checkout; adds one
# file to each suite's package (backend_test.go.tmpl: crsuitesStart and
# crsuitesStop) and makes the suite's suite_test.go call them in place of
# testenv.Start() and testenv.Stop() -- the only edit to controller-runtime's
# code. With CRSUITES_BACKEND=memory, crsuitesStart starts apiserver.New with
# WithCRDPaths on the environment's CRD paths (and WithCRDs on its CRDs) and
# returns srv.Config(); otherwise it is testenv.Start(). Both backends run the
# same test binary, built once per suite, one suite at a time.
set -euo pipefail

backends=${1:-both}
case "$backends" in
memory | envtest) ;;
both) backends="envtest memory" ;;
*)
  echo "usage: $0 [memory|envtest|both]" >&2
  exit 2
  ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/hack/crsuites"
GO=${GO:-go}
CR_VERSION=${CR_VERSION:-v0.25.2}
SUITES=${SUITES:-client cache}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-30m}
work=${CRSUITES_WORK:-${TMPDIR:-/tmp}/leaderlab-crsuites}
case "$work" in
"$root" | "$root"/*)
  echo "CRSUITES_WORK must be outside the repository" >&2
  exit 2
  ;;
esac

if [[ " $backends " == *" envtest "* && -z "${KUBEBUILDER_ASSETS:-}" ]]; then
  KUBEBUILDER_ASSETS=$(bash "$root/hack/envtest-assets.sh")
fi
export KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS:-}

# 1. A writable copy of controller-runtime from the module cache.
rm -rf "$work"
mkdir -p "$work/report" "$work/bin"
moddir=$(cd "$work" && GOWORK=off GOFLAGS=-mod=mod $GO mod download -json "sigs.k8s.io/controller-runtime@$CR_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d "$moddir" ]] || {
  echo "controller-runtime $CR_VERSION not in the module cache" >&2
  exit 1
}
cr="$work/controller-runtime"
cp -r "$moddir" "$cr"
chmod -R u+w "$cr"

# 2. Pointed at this checkout.
export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false"
(cd "$cr" && $GO mod edit -require=github.com/leaderlab/leaderlab@v0.0.0 -replace=github.com/leaderlab/leaderlab="$root")
cat "$root/go.sum" >>"$cr/go.sum"

# 3. The suites start their API server through crsuitesStart.
declare -A testname=([client]=TestClient [cache]=TestSource)
for s in $SUITES; do
  [[ -n "${testname[$s]:-}" ]] || {
    echo "unknown suite $s (client, cache)" >&2
    exit 2
  }
  suite="$cr/pkg/$s/${s}_suite_test.go"
  for call in Start Stop; do
    n=$(grep -c "testenv\.$call()" "$suite" || true)
    [[ "$n" == 1 ]] || {
      echo "$suite: expected one testenv.$call(), found $n" >&2
      exit 1
    }
  done
  sed -i 's/testenv\.Start()/crsuitesStart(testenv)/; s/testenv\.Stop()/crsuitesStop(testenv)/' "$suite"
  pkg=$(sed -n 's/^package //p' "$suite")
  sed "s/^package PACKAGE$/package $pkg/" "$here/backend_test.go.tmpl" >"$cr/pkg/$s/zz_crsuites_backend_test.go"
  diff -u "$moddir/pkg/$s/${s}_suite_test.go" "$suite" >"$work/report/$s-suite.diff" || true
done

# 4. One test binary per suite, for both backends.
for s in $SUITES; do
  echo "building pkg/$s tests ..." >&2
  (cd "$cr" && $GO test -c -o "$work/bin/$s.test" "./pkg/$s")
done
(cd "$cr" && $GO list -m github.com/leaderlab/leaderlab github.com/onsi/ginkgo/v2 k8s.io/client-go) >"$work/report/modules.txt"
# The server is whatever this checkout held when the binaries were built,
# uncommitted changes included: say which.
{
  echo "leaderlab $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), controller-runtime $CR_VERSION"
  dirty=$(git -C "$root" status --porcelain -- fake 2>/dev/null | awk '{print $2}' | tr '\n' ' ')
  [[ -z "$dirty" ]] || echo "uncommitted changes built in: $dirty"
} >"$work/report/tree.txt"

# 5. Run, one suite at a time.
for b in $backends; do
  for s in $SUITES; do
    echo "running pkg/$s on $b ..." >&2
    log="$work/report/$s-$b.log"
    start=$(date +%s.%N)
    rc=0
    (cd "$cr/pkg/$s" &&
      CRSUITES_BACKEND=$b CRSUITES_UNSERVED="$work/report/$s-$b.unserved" \
        "$work/bin/$s.test" -test.run "^${testname[$s]}\$" -test.count=1 -test.timeout 2h \
        -ginkgo.timeout="$SUITE_TIMEOUT" -ginkgo.no-color \
        -ginkgo.json-report="$work/report/$s-$b.json" ${GINKGO_FLAGS:-}) >"$log" 2>&1 || rc=$?
    end=$(date +%s.%N)
    echo "$start $end $rc" >"$work/report/$s-$b.time"
  done
done

# 6. The summary.
{
  cat "$work/report/tree.txt"
  echo
  cd "$root" && GOFLAGS=-buildvcs=false $GO run "$here/summarize.go" "$work/report" $SUITES -- $backends
} | tee "$work/report/summary.txt"
echo "reports, logs and the suite edits: $work/report" >&2
