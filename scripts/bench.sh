#!/usr/bin/env bash
# The main job: provision the local target, run every local benchmark, publish, destroy.
# Extra arguments go to pytest (for example -k iperf3, -n 2, -v).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
PATH="$PWD/.venv/bin:$PATH" exec .venv/bin/python -m pytest benchmarks/ -m local "$@"
