#!/usr/bin/env bash
# Every benchmark of the harness, one after the other (they must not overlap: each
# would load the machine the next one measures). Run as root for the netns target.
# PYTHON defaults to the checkout's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
uptime
"$python" perf/reporting.py
"$python" perf/collection.py
"$python" perf/provisioning.py
"$python" perf/overhead.py
"$python" perf/fidelity.py
"$python" perf/veth_limit.py
"$python" perf/measurements.py
"$python" perf/kernel_overhead.py
uptime
