# Two commands for a newcomer: `make demo` and `make test`. Both set up what is missing first.
PULUMI_VERSION := 3.259.0
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The venv first: the Pulumi language host and the dynamic provider run `python3` from PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup demo test unit e2e lint format bench clean

setup: $(VENV)/.installed $(BIN)/pulumi

# Re-install when the package metadata changes; the Python SDK is pinned to the CLI's version.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required (found " + sys.version.split()[0] + ")")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' "pulumi==$(PULUMI_VERSION)"
	touch $@

# Links an ambient pulumi, or builds one from Go modules into ~/.cache/vast-pulumi (once).
$(BIN)/pulumi: .ci/setup-toolchain.sh .ci/build-pulumi.sh | $(VENV)/.installed
	.ci/setup-toolchain.sh $(BIN) $(PULUMI_VERSION)
	@test -x $@ || (echo "the Pulumi toolchain is incomplete; see the messages above" >&2; exit 1)

demo: setup
	$(BIN)/python examples/demo.py

test: setup lint
	$(BIN)/python -m pytest

unit: setup
	$(BIN)/python -m pytest -m "not e2e"

e2e: setup
	$(BIN)/python -m pytest -m e2e

lint: setup
	$(BIN)/ruff check vast_pulumi tests examples benchmarks
	$(BIN)/ruff format --check vast_pulumi tests examples benchmarks
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix vast_pulumi tests examples benchmarks
	$(BIN)/ruff format vast_pulumi tests examples benchmarks

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
