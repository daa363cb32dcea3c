#!/usr/bin/env bash
# Builds the envtest assets (kube-apiserver and etcd) and kube-controller-manager
# from the Go module proxy and prints the directory that holds them (and nothing
# else on stdout). The binaries are cached outside the clone, keyed by version, so
# a fresh clone on the same machine reuses them; only the ones missing from the
# cache are built, so a cache made before kube-controller-manager was added gains
# just that binary.
#
# The usual download of envtest assets is not reachable from every machine this
# project runs on; the Go module proxy is. kube-apiserver and
# kube-controller-manager are built from k8s.io/kubernetes, whose go.mod replaces
# its staging modules (k8s.io/api, k8s.io/client-go, ...) with ./staging/... paths;
# those paths do not exist in the module zip, so the tools module replaces each of
# them with its published v0.x.y release instead.
#
# kube-controller-manager is not an envtest asset: internal/testenv runs it beside
# envtest (garbage collector and namespace controllers only) when a test asks.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
cache=${LEADERLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/leaderlab}
dir="$cache/envtest/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

if [[ -x "$dir/kube-apiserver" && -x "$dir/etcd" && -x "$dir/kube-controller-manager" ]]; then
  echo "$dir"
  exit 0
fi

export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dir"

staging=v0.${K8S_VERSION#1.}

if [[ ! -x "$dir/etcd" ]]; then
  echo "envtest-assets: building etcd v$ETCD_VERSION (about 30 s cold)" >&2
  mkdir -p "$work/etcd"
  (
    cd "$work/etcd"
    go mod init leaderlab.local/tools/etcd >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >/dev/null 2>&1
    go build -o "$dir/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
    mv "$dir/etcd.tmp" "$dir/etcd"
  )
fi

# kubetools writes the tools module for k8s.io/kubernetes into $work/kubernetes
# (once) and prints nothing.
kubetools() {
  [[ -f "$work/kubernetes/go.mod" ]] && return 0
  mkdir -p "$work/kubernetes"
  local gomod
  gomod=$(cd "$work/kubernetes" && go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
  {
    echo "module leaderlab.local/tools/kubernetes"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    # Every "k8s.io/X => ./staging/..." in kubernetes' go.mod becomes "k8s.io/X => k8s.io/X v0.N.M".
    sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#replace \1 => \1 '"$staging"'#p' "$gomod"
  } >"$work/kubernetes/go.mod"
}

# kubebuild NAME builds k8s.io/kubernetes/cmd/NAME into $dir/NAME.
kubebuild() {
  kubetools
  (
    cd "$work/kubernetes"
    go build -o "$dir/$1.tmp" "k8s.io/kubernetes/cmd/$1" >&2
    mv "$dir/$1.tmp" "$dir/$1"
  )
}

if [[ ! -x "$dir/kube-apiserver" ]]; then
  echo "envtest-assets: building kube-apiserver v$K8S_VERSION (about 4 min cold on 2 cores)" >&2
  kubebuild kube-apiserver
fi

if [[ ! -x "$dir/kube-controller-manager" ]]; then
  echo "envtest-assets: building kube-controller-manager v$K8S_VERSION (about 2 min on 2 cores once kube-apiserver is built, longer cold)" >&2
  kubebuild kube-controller-manager
fi

echo "$dir"
