# sipdesk — the two commands: `make run` and `make test`. See README.md.
PYTHON ?= $(shell command -v python3.12 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean install

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "sipdesk needs Python 3.12+ (found %s); see .python-version" % sys.version.split()[0])'
	@test -x $(BIN)/pip || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $(STAMP)

## Set everything up and start the app (web, worker, beat) with a live trickle of demo traffic.
run: $(STAMP)
	@bash scripts/run.sh

## Set everything up and run every test (lint, unit, pipeline with a real worker, browser).
test: $(STAMP)
	@bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks are run by hand; each prints its figures.
bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/pages.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
