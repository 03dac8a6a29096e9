#!/usr/bin/env bash
# Quick start 2: install (if needed) and run the whole test suite, import contracts included.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
.venv/bin/lint-imports --config pyproject.toml
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
