#!/usr/bin/env bash
# `make test`: lint, then the whole suite against real PostgreSQL, Redis, Celery and Chromium.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p var

exports=$(.venv/bin/python scripts/services.py test) || exit 1
eval "$exports"

echo "== ruff"
.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || exit 1

echo "== mypy"
.venv/bin/mypy . || exit 1

echo "== pytest"
.venv/bin/pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure, not a pass." >&2
    exit 1
fi
exit "$status"
