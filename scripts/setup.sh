#!/usr/bin/env bash
# Creates .venv at the repo root and installs the pinned dependencies (idempotent: a stamp of
# the lock file's hash skips the install when nothing changed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
      py="$cand"; break
    fi
  done
fi
[ -n "$py" ] || { echo "setup: Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $py" >&2
  "$py" -m venv .venv
fi
stamp=.venv/.revenant-lock-$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: installing pinned dependencies from requirements.lock (first run takes a minute or two)" >&2
  log=.venv/install.log
  if ! { .venv/bin/python -m pip install --disable-pip-version-check -r requirements.lock &&
         .venv/bin/python -m pip install --disable-pip-version-check --no-deps --no-build-isolation -e . ; } >"$log" 2>&1; then
    grep -v "is ignored: it is neither" "$log" | tail -n 30 >&2
    echo "setup: installing dependencies failed; the full log is $root/$log" >&2
    exit 1
  fi
  rm -f .venv/.revenant-lock-*
  touch "$stamp"
fi
