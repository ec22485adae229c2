# wikivis — single entry point.  `make demo` and `make test` do all the set-up themselves.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat constraints.txt pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help setup system demo test lint typecheck unit integration dags bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

system:  ## Debian packages the build and tests need (skipped when present)
	@bash scripts/setup-system.sh

$(STAMP): constraints.txt pyproject.toml
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH"; exit 2; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[airflow,dev,bench]"
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

setup: system $(STAMP)  ## create .venv from the pinned constraints (idempotent)

demo: setup  ## run the whole pipeline end to end on the bundled sample wiki (offline)
	$(BIN)/wikivis demo

lint: setup  ## ruff (incl. Airflow AIR rules)
	$(BIN)/ruff check wikivis dags plugins tests bench

typecheck: setup  ## mypy --strict on wikivis/ and plugins/
	$(BIN)/mypy

test: setup lint typecheck  ## the whole test suite (unit, integration, DAG tests)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: setup
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

bench: setup  ## run every benchmark (minutes); figures go to docs/benchmarks.md by hand
	@for b in bench/[a-z]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:  ## remove generated data (keeps .venv)
	rm -rf var
