#!/usr/bin/env bash
# Prepare this checkout on a fresh Debian or Ubuntu machine: system packages,
# then a virtualenv in .venv with the plugin installed. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(iperf3 fio iproute2)
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

if ! command -v terraform >/dev/null && ! command -v tofu >/dev/null; then
    echo "setup: Terraform (or OpenTofu) is not on PATH; install it, then run this again." >&2
    exit 1
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$python" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
    echo "setup: installing pytest-telescope and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e .
    touch .venv/.installed
fi
