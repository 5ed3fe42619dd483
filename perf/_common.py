"""What every benchmark of the harness shares: the machine line, timers, medians and spreads."""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def machine() -> str:
    """One line naming the machine and its load, printed above every figure."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{platform.node()}: {os.cpu_count()} CPU ({cpu}), kernel {platform.release()}, "
        f"Python {platform.python_version()}, load average {load}, {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


def summary(values: list[float], unit: str = "", digits: int = 3) -> str:
    """``median (min..max, n=N)``: what every figure is reported as."""
    return (
        f"{statistics.median(values):.{digits}f}{unit} "
        f"(min {min(values):.{digits}f}, max {max(values):.{digits}f}, n={len(values)})"
    )


def median_interval(values: list[float], coverage: float = 0.95) -> tuple[float, float]:
    """A distribution-free interval holding the true median with at least ``coverage``
    (order statistics of the binomial(n, 1/2)); with too few values, the whole range."""
    ordered = sorted(values)
    n = len(ordered)
    tail, k = 0.0, 0
    while k < n // 2 and tail + math.comb(n, k) / 2**n <= (1 - coverage) / 2:
        tail += math.comb(n, k) / 2**n
        k += 1
    return ordered[max(k - 1, 0)], ordered[n - max(k, 1)]


def verdict(value: float, limit: float, *, at_most: bool = True) -> str:
    met = value <= limit if at_most else value >= limit
    return "MET" if met else "MISSED"


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as elapsed: ...`` then ``elapsed[0]`` is the wall time in seconds."""
    elapsed: list[float] = []
    started = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed.append(time.perf_counter() - started)


def timed_run(argv: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``argv`` to completion; its wall time and result. Fails loudly with its output."""
    started = time.perf_counter()
    completed = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} exited {completed.returncode}:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    return elapsed, completed


def heading(title: str) -> None:
    print(f"\n== {title}")
    print(machine())


@contextmanager
def local_target(state_dir: Path, run_id: str = "perf"):
    """The local target, provisioned as the plugin does (TargetPool), destroyed on the way out."""
    from datetime import timedelta

    from pytest_telescope.progress import Progress
    from pytest_telescope.provision.pool import TargetPool
    from pytest_telescope.redact import Redactor
    from pytest_telescope.targets import TargetSpec

    redactor = Redactor()
    pool = TargetPool(state_dir, run_id, REPO / "pytest_telescope" / "terraform", Progress(lambda line: None, redactor), redactor, timedelta(hours=2), os.getpid())
    try:
        yield pool.get(TargetSpec("local"))
    finally:
        errors = pool.destroy_all()
        if errors:
            print(f"destroy failed: {errors}", file=sys.stderr)


def write_suite(directory: Path, files: dict[str, str]) -> Path:
    """A benchmark suite in ``directory`` using this repo's Terraform modules, as tests/test_end_to_end.py makes one."""
    directory.mkdir(parents=True, exist_ok=True)
    ini = "[pytest]\ntelescope_prometheus = off\naddopts = -p no:terraform -p no:cacheprovider\n"
    (directory / "pytest.ini").write_text(ini)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


# A conftest that records each item's wall time as pytest runs it: setup, call, teardown
# and every report hook (where the plugin writes JSONL), from outside all other plugins.
ITEM_WALL_CONFTEST = """
import json
import os
import time

import pytest

WALL = {}


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.perf_counter()
    yield
    WALL[item.nodeid] = time.perf_counter() - started


def pytest_sessionfinish(session):
    with open(os.environ["PERF_ITEM_WALL"], "w") as file:
        json.dump(WALL, file)
"""


def run_suite(directory: Path, *args: str) -> tuple[float, dict[str, float]]:
    """Run pytest in ``directory``; its process wall time and each item's wall time (seconds)."""
    wall_file = directory / "item-wall.json"
    env = {**os.environ, "PERF_ITEM_WALL": str(wall_file)}
    wall, _ = timed_run([PYTHON, "-m", "pytest", "-q", *args], cwd=directory, env=env)
    return wall, json.loads(wall_file.read_text())


def listening(namespace: str | None, port: int) -> bool:
    prefix = ["ip", "netns", "exec", namespace] if namespace else []
    table = subprocess.run([*prefix, "cat", "/proc/net/tcp"], capture_output=True, text=True, check=True).stdout
    return any(f":{port:04X} " in line and line.split()[3] == "0A" for line in table.splitlines()[1:])


def bare_round(target, fio_file: Path, duration: int) -> tuple[float, float]:
    """(iperf3 Mbit/s received, fio read IOPS) from the same commands run bare."""
    from pytest_telescope.tools import fio, iperf3

    server, client = target.endpoint("server"), target.endpoint("client")
    in_server = ["ip", "netns", "exec", server.namespace] if server.namespace else []
    in_client = ["ip", "netns", "exec", client.namespace] if client.namespace else []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = subprocess.Popen([*in_server, *iperf3.server_command(port, bind=server.address)], stdout=subprocess.DEVNULL)
    try:
        while not listening(server.namespace, port):
            time.sleep(0.02)
        output = subprocess.run(
            [*in_client, *iperf3.command(server.address, port, duration=duration)], capture_output=True, text=True, check=True
        ).stdout
    finally:
        daemon.wait(timeout=30)
    throughput = json.loads(output)["end"]["sum_received"]["bits_per_second"] / 1e6
    fio_file.unlink(missing_ok=True)  # the plugin's target starts with an empty scratch dir too
    argv = fio.command(str(fio_file), size="64M", runtime=duration, rw="randread", block_size="4k", iodepth=16)
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    iops = json.loads(output[output.index("{") :])["jobs"][0]["read"]["iops"]
    return throughput, iops


def paired(name: str, unit: str, a: list[float], b: list[float], a_name: str, b_name: str, limit: float) -> None:
    """Prints A against B, measured in interleaved rounds: each side, the difference per round, the
    noise floor (B against the next B), and whether the difference is within +-``limit`` percent."""
    deltas = [(x - y) / y * 100 for x, y in zip(a, b)]
    median_delta = (statistics.median(a) - statistics.median(b)) / statistics.median(b) * 100
    width = max(len(a_name), len(b_name))
    print(f"  {name}: {a_name:<{width}} {summary(a, ' ' + unit, 1)}")
    print(f"  {name}: {b_name:<{width}} {summary(b, ' ' + unit, 1)}")
    print(f"  {name}: paired difference per round {summary(deltas, ' %', 2)}")
    noise = [(y - x) / x * 100 for x, y in zip(b, b[1:])]
    print(f"  {name}: noise floor, {b_name} run vs the next {b_name} run {summary(noise, ' %', 2)}")
    low, high = median_interval(deltas)
    print(f"  {name}: 95 % interval of the median paired difference {low:+.2f} % .. {high:+.2f} %")
    met = "MET" if abs(median_delta) <= limit else "MISSED"
    resolved = "" if -limit <= low and high <= limit else f" (the interval is wider than +-{limit:g} %: more rounds are needed to tell)"
    print(f"  {name}: difference of the medians {median_delta:+.2f} %   target within +-{limit:g} %: {met}{resolved}")
