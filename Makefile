# Two commands for a newcomer: `make demo` and `make test`. Both set up what is missing first.
# The CLI is built from the newest pkg/v3 module the Go module proxy serves; the Python SDK is the
# newest on PyPI, which may trail the CLI (the CLI speaks to older SDKs; tests/e2e/test_toolchain.py).
PULUMI_VERSION := 3.276.0
PULUMI_SDK_VERSION := 3.272.0
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The venv first: the Pulumi language host and the dynamic provider run `python3` from PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Let Python cache bytecode even where the environment says not to (some CI images do): otherwise
# each of the ~350 Python processes a `make test` starts (a Pulumi program and a provider per CLI
# run) compiles vast_pulumi again, and pytest cannot keep the test modules it rewrote.
unexport PYTHONDONTWRITEBYTECODE
# Pulumi's Python language host runs `python -m pip list` on every command (~420 in a `make test`):
# without this, pip may look for a newer pip on PyPI first, which CI machines may not reach.
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup demo test test-fast soak unit e2e lint lint-checks format docs bench clean

setup: $(VENV)/.installed $(BIN)/pulumi $(BIN)/uv $(BIN)/pulumi-resource-kubernetes \
	$(BIN)/pulumi-language-yaml $(BIN)/pulumi-language-nodejs $(BIN)/gen-nodejs-sdk

# uv installs the virtualenv from its cache in ~10 s where pip took ~45 s of every fresh clone's
# `make test`. It is a build tool, never a dependency of the package: kept once per machine in the
# same cache as the Pulumi build, and linked into .venv/bin for tests/e2e/test_install.py.
UV_VERSION := 0.13.9
TOOLS_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vast-pulumi
UV := $(TOOLS_CACHE)/uv-$(UV_VERSION)/bin/uv

$(UV):
	$(PYTHON) -m venv $(TOOLS_CACHE)/uv-$(UV_VERSION)
	$(TOOLS_CACHE)/uv-$(UV_VERSION)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

# Re-install when the package metadata changes. `--seed` puts pip into the virtualenv: the Python
# language host runs `python3 -m pip list` on every command. Bytecode is compiled up front, or every
# Pulumi program and provider process compiles the SDK again (PYTHONDONTWRITEBYTECODE environments).
$(VENV)/.installed: pyproject.toml | $(UV)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	test -x $(BIN)/python || $(UV) venv --quiet --seed --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[test]' "pulumi==$(PULUMI_SDK_VERSION)"
	touch $@

$(BIN)/uv: | $(UV) $(VENV)/.installed
	ln -sfn $(UV) $@

# Links an ambient pulumi, or builds one from Go modules into ~/.cache/vast-pulumi (once).
$(BIN)/pulumi: .ci/setup-toolchain.sh .ci/build-pulumi.sh .ci/lib/go-modules.sh | $(VENV)/.installed
	.ci/setup-toolchain.sh $(BIN) $(PULUMI_VERSION)
	@test -x $@ || (echo "the Pulumi toolchain is incomplete; see the messages above" >&2; exit 1)

# The Kubernetes provider plugin (examples/multi-cloud, tests/e2e/test_multi_cloud.py) at the version
# pyproject pins pulumi-kubernetes to: built once per machine into the same cache as the CLI, linked
# beside it, where the engine finds it on PATH (plugins cannot be downloaded here).
KUBERNETES_VERSION := $(shell sed -n 's/.*"pulumi-kubernetes==\([0-9.]*\)".*/\1/p' pyproject.toml)
KUBERNETES_BIN := $(TOOLS_CACHE)/pulumi-kubernetes-v$(KUBERNETES_VERSION)/bin

$(BIN)/pulumi-resource-kubernetes: .ci/build-pulumi-kubernetes.sh .ci/lib/go-modules.sh pyproject.toml | $(VENV)/.installed
	.ci/build-pulumi-kubernetes.sh $(KUBERNETES_VERSION) $(KUBERNETES_BIN)
	ln -sfn $(KUBERNETES_BIN)/pulumi-resource-kubernetes $@

# Pulumi YAML's language host (for programs that use the provider plugin, pulumi-resource-vast):
# built once from its Go module into the same cache as the CLI, linked beside the other binaries.
PULUMI_YAML_VERSION := 1.25.0
PULUMI_YAML := $(TOOLS_CACHE)/pulumi-yaml-v$(PULUMI_YAML_VERSION)/bin/pulumi-language-yaml

$(PULUMI_YAML): .ci/build-pulumi-yaml.sh .ci/lib/go-modules.sh
	.ci/build-pulumi-yaml.sh $(PULUMI_YAML_VERSION) $(dir $@)

$(BIN)/pulumi-language-yaml: | $(PULUMI_YAML) $(VENV)/.installed
	ln -sfn $(PULUMI_YAML) $@

# TypeScript programs: the Node.js language host from the last sdk/v3 module that has it (v3.68.0;
# later ones are not on the module proxy), and Pulumi's Node.js SDK generator from pkg/v3
# (.ci/gen-nodejs-sdk: that host predates `pulumi package gen-sdk`'s GeneratePackage call).
PULUMI_NODEJS_VERSION := 3.68.0
PULUMI_NODEJS := $(TOOLS_CACHE)/pulumi-nodejs-v$(PULUMI_NODEJS_VERSION)/bin/pulumi-language-nodejs
GEN_NODEJS_SDK := $(TOOLS_CACHE)/gen-nodejs-sdk-v$(PULUMI_VERSION)/gen-nodejs-sdk

$(PULUMI_NODEJS): .ci/build-pulumi-nodejs.sh .ci/lib/go-modules.sh
	.ci/build-pulumi-nodejs.sh $(PULUMI_NODEJS_VERSION) $(dir $@)

$(BIN)/pulumi-language-nodejs: | $(PULUMI_NODEJS) $(VENV)/.installed
	ln -sfn $(PULUMI_NODEJS) $@

$(GEN_NODEJS_SDK): .ci/build-gen-nodejs-sdk.sh .ci/lib/go-modules.sh
	.ci/build-gen-nodejs-sdk.sh $(dir $@)

$(BIN)/gen-nodejs-sdk: | $(GEN_NODEJS_SDK) $(VENV)/.installed
	ln -sfn $(GEN_NODEJS_SDK) $@

demo: setup
	$(BIN)/python examples/demo.py

# End-to-end tests wait on boots and destroys between bursts of CLI work, so they run side by side:
# with six workers 2 cores stay busy (sampled: 99-100% from the first tests to the last few). The
# end-to-end tests alone took 353 s with four workers and 272 s with six; eight were no faster
# than six (249 s against 253 s for the whole suite).
XDIST := -n 6 --dist worksteal

# Lint runs beside the suite, not before it: ruff and mypy use one core for ~9 s, while pytest keeps
# both busy from its first seconds. Lint's output is printed after the suite's; either failing fails.
LINT_LOG := $(VENV)/lint.log
test: setup
	@{ $(MAKE) --no-print-directory lint-checks > $(LINT_LOG) 2>&1; echo $$? > $(LINT_LOG).status; } & \
	$(BIN)/python -m pytest $(XDIST); tests=$$?; wait; \
	echo "-- make lint:"; cat $(LINT_LOG); \
	exit $$(( tests || $$(cat $(LINT_LOG).status) ))

# The inner loop: everything but the end-to-end tests (no Pulumi CLI runs).
test-fast: setup
	$(BIN)/python -m pytest -m "not e2e" $(XDIST)

# What `make test` leaves to the soak (README, "Two commands"): the long forms of the randomised tests (the
# fault matrix over all ten seeds, the rate-limit test at the API's full intervals, every no-echo case),
# then every case marked `soak` elsewhere (the other kill points of a killed up, the plain-401 revoked
# key, the plugin face of the foreign-key guard). Then the money-safety and lifecycle end-to-end tests
# again, every emulator under the pessimistic profile (the reading harder on a client wherever Vast's
# sources disagree: vast_pulumi/emulator/readings.py); `make test` runs them under the default readings,
# and under pessimistic only the out-of-band destroy test and the unit tests of the audit's A rows.
SOAK_LONG_FORMS := tests/e2e/test_resilience.py tests/e2e/test_no_echo.py
PESSIMISTIC_E2E := tests/e2e/test_money_safety.py tests/e2e/test_quickstart.py tests/e2e/test_destroy.py \
	tests/e2e/test_account_resources_lifecycle.py \
	tests/e2e/test_sshkey.py tests/e2e/test_volume.py tests/e2e/test_spot_and_double_rent.py
soak: setup
	$(BIN)/python -m pytest --soak $(SOAK_LONG_FORMS) $(XDIST)
	$(BIN)/python -m pytest --soak -m soak tests $(addprefix --ignore=,$(SOAK_LONG_FORMS)) $(XDIST)
	$(BIN)/python -m pytest --soak --vast-profile pessimistic $(PESSIMISTIC_E2E) $(XDIST)

unit: setup
	$(BIN)/python -m pytest -m "not e2e"

e2e: setup
	$(BIN)/python -m pytest -m e2e $(XDIST)

lint: setup
	@$(MAKE) --no-print-directory lint-checks

# The checks alone, on a virtualenv already set up: `make test` runs them while its tests run, where
# setting up again would re-link the Pulumi binaries under running tests.
lint-checks:
	$(BIN)/ruff check vast_pulumi tests examples benchmarks
	$(BIN)/ruff format --check vast_pulumi tests examples benchmarks
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix vast_pulumi tests examples benchmarks
	$(BIN)/ruff format vast_pulumi tests examples benchmarks

# The reference of every resource, from the inputs models, resource classes and providers (no network),
# and the provider plugin's schema from the same sources; tests/unit/test_reference.py and
# tests/unit/test_plugin_schema.py fail when a committed file is stale.
docs: setup
	$(BIN)/python -m vast_pulumi._docs docs/reference.md
	$(BIN)/python -m vast_pulumi.plugin.schema

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
