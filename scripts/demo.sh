#!/usr/bin/env bash
# Install what the demo needs, then run it: nothing else to set up (embedded broker).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/edgegw demo "$@"
