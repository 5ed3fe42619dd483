#!/usr/bin/env bash
# The plugin's own test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
PATH="$PWD/.venv/bin:$PATH" exec .venv/bin/python -m pytest tests/ "$@"
