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

# make fuzz FUZZ_SEQUENCES=20000 FUZZ_SEED=1: more lifecycle sequences than make test runs (200).
FUZZ_SEQUENCES ?= 5000
FUZZ_SEED ?= 1

.PHONY: setup demo synth test lint bench fuzz clean

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

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: setup
	$(PY) benchmarks/run_all.py

fuzz: setup
	$(PY) -m tests.fuzz --sequences $(FUZZ_SEQUENCES) --seed $(FUZZ_SEED)

.PHONY: dist docs

# The API reference, HTML from the docstrings (pdoc), in docs/api/: open docs/api/index.html.
docs: setup
	$(PY) scripts/api_docs.py docs/api

# The wheel and the sdist a release ships, in dist/ (the version is pyproject.toml's).
dist: setup
	rm -rf dist
	$(PY) -m build --outdir dist .

clean:
	rm -rf $(OUT) dist build .venv-oldsdk
