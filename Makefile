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

.PHONY: setup demo synth test lint bench clean

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
	$(PY) -m constructs_lib.rehearsal $(OUT)

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(OUT) dist build .venv-oldsdk
