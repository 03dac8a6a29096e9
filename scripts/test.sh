#!/usr/bin/env bash
# Quick start 2: install (if needed) and run the whole test suite, import contracts included.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
.venv/bin/lint-imports --config pyproject.toml
# Both cores by default (pytest-xdist; each worker has its own scratch PostgreSQL database). Set
# REVENANT_TEST_WORKERS=0 to run in one process, e.g. under a debugger.
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${REVENANT_TEST_WORKERS:-2}" "$@"
