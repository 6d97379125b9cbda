# fleethub — make help lists the targets.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

BIN ?= $(CURDIR)/bin
CONTROLLER_GEN_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(BIN)/tools/controller-gen-$(CONTROLLER_GEN_VERSION)
# golangci-lint is built from the Go module proxy like controller-gen; the
# version is exact because the proxy refuses version lists for some modules.
GOLANGCI_LINT_VERSION ?= v2.12.2
GOLANGCI_LINT ?= $(BIN)/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)
GO_TEST_FLAGS ?= -count=1
# Integration tests start several kube-apiservers; give them room on 2 cores
# (envtest's own start timeout, 20s, is too short when seven start at once).
GO_TEST_TIMEOUT ?= 20m

##@ General
.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development
.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code for the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs (deploy/crd) and RBAC (deploy/rbac hub Role, deploy/member ClusterRole) from markers.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=deploy/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=fleethub-member paths=./pkg/controller/... paths=./pkg/registration/... output:rbac:artifacts:config=deploy/member/rbac
	$(CONTROLLER_GEN) rbac:roleName=fleethub-hub paths=./cmd/manager/app/... paths=./providers/... output:rbac:artifacts:config=deploy/rbac

.PHONY: fmt
fmt: ## Format the Go code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: lint
lint: $(GOLANGCI_LINT) ## go vet, gofmt check and golangci-lint (linters in .golangci.yml).
	go vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GOLANGCI_LINT) run ./...

.PHONY: verify
verify: generate manifests lint ## Regenerate everything and fail if the tree changed.
	@if [ -n "$$(git status --porcelain -- api deploy)" ]; then echo "generated files are stale; run make generate manifests:"; git status --porcelain -- api deploy; git --no-pager diff --stat -- api deploy; exit 1; fi

##@ Build
.PHONY: build
build: ## Build the manager and the kubectl-fleethub plugin into bin/.
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/manager ./cmd/manager
	CGO_ENABLED=0 go build -trimpath -o $(BIN)/kubectl-fleethub ./cmd/kubectl-fleethub

.PHONY: run
run: manifests ## Run the hub manager against the current kubeconfig (no leader election).
	go run ./cmd/manager --leader-elect=false

# Image of the hub manager; the kind e2e and deploy/overlays/dev use this tag.
IMG ?= fleethub-manager:dev
CONTAINER_TOOL ?= docker
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt

.PHONY: image
image: ## Build the manager image $(IMG) offline: static binary in a FROM scratch image, non-root, no base image pulled.
	@mkdir -p $(BIN)/image
	CGO_ENABLED=0 GOOS=linux GOARCH=$$(go env GOARCH) go build -trimpath -ldflags='-s -w' -o $(BIN)/image/manager ./cmd/manager
	@if [ -r "$(CA_BUNDLE)" ]; then cp "$(CA_BUNDLE)" $(BIN)/image/ca-certificates.crt; \
	else echo ">> warning: no CA bundle at $(CA_BUNDLE) (set CA_BUNDLE): the image cannot verify the DNS provider's API"; : > $(BIN)/image/ca-certificates.crt; fi
	$(CONTAINER_TOOL) build -t $(IMG) -f hack/image/Dockerfile $(BIN)/image

.PHONY: docker-build
docker-build: ## Build the manager image $(IMG) with the multi-stage Dockerfile (pulls the golang builder image).
	$(CONTAINER_TOOL) build -t $(IMG) .

##@ Test
.PHONY: test-bins
test-bins: ## Build etcd and kube-apiserver from source into bin/ (reused when present).
	@hack/test-bins.sh etcd kube-apiserver >/dev/null

.PHONY: test
test: test-bins ## Unit and integration tests (real kube-apiservers via envtest).
	export KUBEBUILDER_ASSETS="$${KUBEBUILDER_ASSETS:-$$(hack/test-bins.sh etcd kube-apiserver)}"; \
	export KUBEBUILDER_CONTROLPLANE_START_TIMEOUT="$${KUBEBUILDER_CONTROLPLANE_START_TIMEOUT:-2m}"; \
	go test $(GO_TEST_FLAGS) -timeout $(GO_TEST_TIMEOUT) ./...

$(CONTROLLER_GEN):
	@mkdir -p $(dir $@)
	@echo ">> building controller-gen $(CONTROLLER_GEN_VERSION)"
	GOBIN=$(BIN)/tools/.gobin go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/tools/.gobin/controller-gen $@

$(GOLANGCI_LINT):
	@mkdir -p $(dir $@)
	@echo ">> building golangci-lint $(GOLANGCI_LINT_VERSION) (takes minutes)"
	GOBIN=$(BIN)/tools/.gobin go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/tools/.gobin/golangci-lint $@

##@ Demo and e2e
# Cluster backend of make demo and make e2e: kwok (no Docker), kind, or all (e2e only).
BACKEND ?= kwok
E2E_TIMEOUT ?= 30m

.PHONY: demo
demo: ## Start a hub + 2 members (BACKEND=kwok|kind), the hub manager and deploy/samples; prints what to try.
	go run ./e2e/cmd/demo up --backend $(BACKEND)

.PHONY: demo-status
demo-status: ## Show the demo fleet: members as the hub sees them, and every fleethub object.
	go run ./e2e/cmd/demo status

.PHONY: demo-down
demo-down: ## Stop the demo's hub manager (by its recorded pid) and delete its clusters.
	go run ./e2e/cmd/demo down

.PHONY: e2e
e2e: ## Multi-cluster end-to-end suite on real clusters (BACKEND=kwok|kind|all, default kwok).
	@case "$(BACKEND)" in kwok|kind) backends="$(BACKEND)" ;; all) backends="kwok kind" ;; \
	  *) echo "BACKEND must be kwok, kind or all, not $(BACKEND)"; exit 2 ;; esac; \
	for b in $$backends; do \
	  echo ">> e2e suite on the $$b backend"; \
	  FLEETHUB_E2E_BACKEND=$$b go test -tags e2e -count=1 -v -timeout $(E2E_TIMEOUT) ./e2e/ || exit 1; \
	done

##@ Benchmark
# Flags of the benchmark program, e.g. BENCH_FLAGS="--webapps 1000 --members 5"; see docs/benchmarks.md.
BENCH_FLAGS ?=

.PHONY: bench
bench: ## Benchmark on kwok clusters (~15 min): convergence, steady-state requests, memory, engagement, DNS; table + bin/bench/results.json.
	@mkdir -p $(BIN)/bench
	go build -o $(BIN)/bench/bench ./e2e/cmd/bench
	$(BIN)/bench/bench --output $(BIN)/bench/results.json $(BENCH_FLAGS)
