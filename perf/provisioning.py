"""Provisioning: apply + destroy of the local target, and how often -n 2 provisions it.

Targets (issue 8, figure 5): the local target's apply + destroy <= 5 s; under
``-n 2`` exactly one provisioning per target.

    python perf/provisioning.py [--rounds 5]

Part 1 provisions and destroys the local target through ``TargetPool`` (what the
``target`` fixture and the session end do), timing each Terraform command. Part 2
runs a suite of 8 cases on one target with ``-n 2`` and a ``terraform`` shim that
counts the commands; ``-n 2`` needs root for namespaces only, and counts the same
in loopback mode.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, REPO, heading, summary, timed_run, verdict  # noqa: E402

from pytest_telescope.progress import Progress
from pytest_telescope.provision import terraform
from pytest_telescope.provision.pool import TargetPool
from pytest_telescope.redact import Redactor
from pytest_telescope.targets import TargetSpec

SUITE = """
import pytest


@pytest.mark.parametrize("n", range(8))
def test_runs_on_the_target(target, n):
    (client,) = target.endpoints("client")
    assert client.run(["true"]).returncode == 0
"""


def timed_terraform_steps() -> dict[str, list[float]]:
    """Wall time of each Terraform command the pool runs, by command (init, plan, apply, destroy)."""
    steps: dict[str, list[float]] = {}
    original = terraform.TerraformRunner._run_cmd

    @functools.wraps(original)
    def run_cmd(self, args, output=False):
        started = time.perf_counter()
        try:
            return original(self, args, output)
        finally:
            steps.setdefault(args[1], []).append(time.perf_counter() - started)

    terraform.TerraformRunner._run_cmd = run_cmd
    return steps


def apply_and_destroy(rounds: int) -> None:
    steps = timed_terraform_steps()
    provisioned, destroyed, totals = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(rounds):
            redactor = Redactor()
            pool = TargetPool(
                Path(tmp) / "state",
                f"perf{index}",
                REPO / "pytest_telescope" / "terraform",
                Progress(lambda line: None, redactor),
                redactor,
                deletion_delay=timedelta(hours=2),
                owner_pid=os.getpid(),
            )
            started = time.perf_counter()
            target = pool.get(TargetSpec("local"))
            middle = time.perf_counter()
            errors = pool.destroy_all()
            ended = time.perf_counter()
            if errors:
                raise SystemExit(f"destroy failed: {errors}")
            provisioned.append(middle - started)
            destroyed.append(ended - middle)
            totals.append(ended - started)
            namespaces = [endpoint["namespace"] for endpoint in target.metadata["endpoints"].values() if endpoint["namespace"]]
            left = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()) & set(namespaces)
            if left:
                raise SystemExit(f"namespaces left after destroy: {sorted(left)}")
    print(f"  mode {target.mode}")
    print(f"  provision (init, plan, apply, validate) {summary(provisioned, ' s')}")
    print(f"  destroy                                 {summary(destroyed, ' s')}")
    for step, values in steps.items():
        print(f"    terraform {step:8s} {summary(values, ' s')}")
    terraform = sum(statistics.median(values) for values in steps.values())
    print(f"  harness beyond Terraform's commands: {statistics.median(totals) - terraform:.3f} s per apply + destroy")
    median = statistics.median(totals)
    print(f"  apply + destroy {summary(totals, ' s')}   target <= 5 s: {verdict(median, 5.0)}")


def provisionings_under_xdist(rounds: int) -> None:
    real = shutil.which("terraform") or shutil.which("tofu")
    if real is None:
        raise SystemExit("terraform: not found on PATH")
    applies, destroys, walls, workers = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bin").mkdir()
        calls = root / "terraform-calls"
        shim = root / "bin" / Path(real).name
        shim.write_text(f'#!/bin/sh\necho "$1" >> {calls}\nexec {real} "$@"\n')
        shim.chmod(0o755)
        (root / "suite").mkdir()
        (root / "suite" / "test_suite.py").write_text(SUITE)
        (root / "suite" / "pytest.ini").write_text(
            "[pytest]\naddopts = -p no:terraform -p no:cacheprovider\n"
        )
        env = {**os.environ, "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}"}
        for _ in range(rounds):
            calls.write_text("")
            wall, completed = timed_run([PYTHON, "-m", "pytest", "-v", "-n", "2", "-m", "local"], cwd=root / "suite", env=env)
            workers.append(len(set(re.findall(r"\[(gw\d+)\].*PASSED", completed.stdout))))
            commands = calls.read_text().split()
            applies.append(commands.count("apply"))
            destroys.append(commands.count("destroy"))
            walls.append(wall)
    exact = all(count == 1 for count in applies + destroys)
    print(
        f"  -n 2, 8 tests on one target: applies per run {applies}, destroys per run {destroys}   target exactly 1: {'MET' if exact else 'MISSED'}"
    )
    print(f"  workers that ran tests on the shared target, per run: {workers}")
    print(f"  wall time of the whole pytest -n 2 run {summary(walls, ' s')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    heading(f"provisioning: local target apply + destroy through TargetPool, {args.rounds} rounds")
    apply_and_destroy(args.rounds)
    heading(f"provisioning under -n 2, {args.rounds} runs")
    provisionings_under_xdist(args.rounds)


if __name__ == "__main__":
    main()
