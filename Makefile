# sipdesk — the two commands: `make run` and `make test`. See README.md.
PYTHON ?= $(shell command -v python3.12 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean install lock

install: $(STAMP)

# Installs the locked tree (every package pinned with its hashes); `make lock` rewrites the locks
# from the direct pins in requirements*.txt (README "Dependencies").
$(STAMP): requirements.lock requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "sipdesk needs Python 3.12+ (found %s); see .python-version" % sys.version.split()[0])'
	@test -x $(BIN)/pip || $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements-dev.lock
	@touch $(STAMP)

## Re-resolve the whole dependency tree after editing requirements.txt / requirements-dev.txt.
UV_VERSION := 0.13.9
lock:
	@test -x $(VENV)/lock-tools/bin/uv || ($(PYTHON) -m venv $(VENV)/lock-tools && $(VENV)/lock-tools/bin/pip install -q uv==$(UV_VERSION))
	$(VENV)/lock-tools/bin/uv pip compile -q --generate-hashes --python-version 3.12 --python-platform linux \
		--custom-compile-command "make lock" requirements.txt -o requirements.lock
	$(VENV)/lock-tools/bin/uv pip compile -q --generate-hashes --python-version 3.12 --python-platform linux \
		--custom-compile-command "make lock" requirements-dev.txt -o requirements-dev.lock

## Set everything up and start the app (web, worker, beat) with a live trickle of demo traffic.
run: $(STAMP)
	@bash scripts/run.sh

## Set everything up and run every test (lint, unit, pipeline with a real worker, browser).
test: $(STAMP)
	@bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

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
