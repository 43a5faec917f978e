# Quick start: `make demo` (synth + offline rehearsal) and `make test`. Each sets itself up on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
OUT := cdk.out

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# No AWS account is needed to synthesize: keep the CLI from probing for one.
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_CLI_TELEMETRY := true

# make demo REHEARSAL_ARGS="--quota 1 --fail Job=..." passes options to the rehearsal
# (python -m constructs_lib.rehearsal --help lists them).
REHEARSAL_ARGS ?=

# make fuzz FUZZ_SEQUENCES=20000 FUZZ_SEED=1: more lifecycle sequences than make test runs (200), then
# FUZZ_FAMILY_SEQUENCES of the job family's chain app (tests/fuzz/family.py; make test runs 20 fixed
# seeds), each summary with its sequences, steps, faults, violations and jobs started (per kind for the
# family); FUZZ_WORKERS processes share the seeds (default: one per core).
FUZZ_SEQUENCES ?= 5000
FUZZ_FAMILY_SEQUENCES ?= 5000
FUZZ_SEED ?= 1
FUZZ_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

# make test TEST_WORKERS=1: the suite in one process (default: one worker per core).
TEST_WORKERS ?= auto
# tests/conftest.py: a module's tests stay on one worker (its fixtures are built once), heaviest first.
PARALLEL = -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

.PHONY: setup demo synth test test-fast lint bench fuzz clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

synth: setup
	$(CDK) synth --quiet --no-notices --output $(OUT)

demo: synth
	$(PY) -m constructs_lib.rehearsal $(OUT) $(REHEARSAL_ARGS)

# What the tests need installed beyond the packages (mypy's cache of the dependencies' types, the
# old-SDK virtualenvs, the fresh-project test's wheelhouse): scripts/prepare_tests.py.
$(VENV)/.tests-prepared: $(VENV)/.installed scripts/prepare_tests.py tests/handlers/test_old_sdk.py
	$(PY) scripts/prepare_tests.py
	touch $@

# Set-up and tests timed apart: pytest's closing line gives the test time.
test:
	@started=$$(date +%s); $(MAKE) --no-print-directory setup $(VENV)/.tests-prepared; \
	  echo "set-up: $$(( $$(date +%s) - started )) s"
	$(PY) -m pytest -q $(PARALLEL)

# The inner loop: what is not marked slow (no example synth under every nag pack, no wheel, no fuzzing).
# make test still runs everything.
test-fast: setup
	$(PY) -m pytest -q $(PARALLEL) -m "not slow"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: setup
	$(PY) benchmarks/run_all.py

# Both runs, whatever the first found; fails when either found a violation.
fuzz: setup
	@status=0; \
	  $(PY) -m tests.fuzz --sequences $(FUZZ_SEQUENCES) --seed $(FUZZ_SEED) --workers $(FUZZ_WORKERS) || status=1; \
	  $(PY) -m tests.fuzz --family --sequences $(FUZZ_FAMILY_SEQUENCES) --seed $(FUZZ_SEED) \
	    --workers $(FUZZ_WORKERS) || status=1; \
	  exit $$status

.PHONY: dist docs

# The API reference, HTML from the docstrings (pdoc), in docs/api/: open docs/api/index.html.
docs: setup
	$(PY) scripts/api_docs.py docs/api

# The wheel and the sdist a release ships, in dist/ (the version is pyproject.toml's).
dist: setup
	rm -rf dist
	$(PY) -m build --outdir dist .

clean:
	rm -rf $(OUT) dist build .venv-oldsdk* $(VENV)/.tests-prepared
