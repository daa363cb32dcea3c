#!/usr/bin/env bash
# Builds the envtest assets (kube-apiserver and etcd) from the Go module proxy and
# prints the directory that holds them. The binaries are cached outside the clone,
# keyed by version, so a fresh clone on the same machine reuses them.
#
# The usual download of envtest assets is not reachable from every machine this
# project runs on; the Go module proxy is. kube-apiserver is built from
# k8s.io/kubernetes, whose go.mod replaces its staging modules (k8s.io/api,
# k8s.io/client-go, ...) with ./staging/... paths; those paths do not exist in the
# module zip, so the tools module replaces each of them with its published v0.x.y
# release instead.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
cache=${LEADERLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/leaderlab}
dir="$cache/envtest/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

if [[ -x "$dir/kube-apiserver" && -x "$dir/etcd" ]]; then
  echo "$dir"
  exit 0
fi

export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dir" "$work/apiserver" "$work/etcd"

staging=v0.${K8S_VERSION#1.}

echo "envtest-assets: building etcd v$ETCD_VERSION (about 30 s cold)" >&2
(
  cd "$work/etcd"
  go mod init leaderlab.local/tools/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null 2>&1
  go build -o "$dir/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$dir/etcd.tmp" "$dir/etcd"
)

echo "envtest-assets: building kube-apiserver v$K8S_VERSION (about 4 min cold on 2 cores)" >&2
(
  cd "$work/apiserver"
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  {
    echo "module leaderlab.local/tools/apiserver"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    # Every "k8s.io/X => ./staging/..." in kubernetes' go.mod becomes "k8s.io/X => k8s.io/X v0.N.M".
    sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#replace \1 => \1 '"$staging"'#p' "$gomod"
  } >go.mod
  go build -o "$dir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$dir/kube-apiserver.tmp" "$dir/kube-apiserver"
)

echo "$dir"
