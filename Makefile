# leaderlab: make test runs everything CI runs; make bench runs the failover benchmarks.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

GO ?= go


.PHONY: all test vet lint envtest-assets bench validate crsuites

all: test

## envtest-assets: build kube-apiserver and etcd if missing; prints their directory
envtest-assets:
	@bash hack/envtest-assets.sh

# The real-time comparison with a real API server runs on its own, after the
# rest, so that CPU-heavy packages running beside it do not skew its timings.
REALTIME_PKG := ./scenarios/realapi

## test: go vet, then every test (ginkgo suites included) with -race against envtest, then every benchmark once
# The benchmarks run once each so that none breaks unnoticed; their figures
# are measurements (sim/BENCHMARKS.md), not checked here.
test:
	@assets="$$(bash hack/envtest-assets.sh)"; \
	  $(GO) vet ./...; \
	  export KUBEBUILDER_ASSETS="$$assets"; \
	  $(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/scenarios/realapi$$'); \
	  $(GO) test -race -count=1 -timeout 20m $(REALTIME_PKG); \
	  $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x ./sim/ ./fake/... ./cmd/leaderlab/ ./explore/; \
	  (cd examples/replicaset && $(GO) test -race -count=1 -timeout 20m ./...)

## bench: failover-timing benchmarks over many seeds (leaderlab bench); table, SVGs and index.html in report/
bench:
	bash hack/bench.sh

## validate: the simulator against a real kube-apiserver (TRIALS real trials per plan); report/validate.*
validate:
	bash hack/validate.sh $(or $(TRIALS),10) report

## crsuites: controller-runtime's client and cache suites, unchanged, on the in-memory API server and on envtest (BACKEND=memory|envtest|both)
crsuites:
	bash hack/crsuites/run.sh $(or $(BACKEND),both)

## vet: go vet
vet:
	$(GO) vet ./...

## lint: gofmt and go vet; the fake package must not compile the CRD machinery
lint: vet
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; \
	  if [[ -n "$$out" ]]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@heavy="$$($(GO) list -deps ./fake | grep -E '^(k8s.io/apiextensions-apiserver|github.com/google/cel-go)' || true)"; \
	  if [[ -n "$$heavy" ]]; then echo "./fake depends on what only ./fake/apiserver should:"; echo "$$heavy"; exit 1; fi
