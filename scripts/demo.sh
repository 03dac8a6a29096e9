#!/usr/bin/env bash
# Quick start 1: install what is needed into .venv, then run the offline demo on embedded defaults.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
exec .venv/bin/revenant demo "$@"
