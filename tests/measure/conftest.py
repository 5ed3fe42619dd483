"""What the measurement tests share: the Prometheus pair, started once, only where its binaries are
installed; bpftrace's recorded printouts."""

import json
import shutil
from pathlib import Path

import pytest
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from pytest_telescope.measure.query import measure
from pytest_telescope.measure.server import LocalPrometheus


@pytest.fixture(scope="session")
def prometheus_installed():
    """Skips the test unless Debian's prometheus and prometheus-node-exporter are on PATH."""
    if not all(shutil.which(binary) for binary in ("prometheus", "prometheus-node-exporter")):
        pytest.skip("needs prometheus and prometheus-node-exporter on PATH")


@pytest.fixture(scope="session")
def prometheus(prometheus_installed):
    """The Prometheus pair, started once for every test here that needs it."""
    with LocalPrometheus() as running:
        yield running


@pytest.fixture
def client(prometheus):
    return PrometheusConnect(prometheus.url, retry=Retry(total=0))


@pytest.fixture
def measured(client, prometheus):
    """``measure`` over a window of the shared Prometheus, at its scrape interval and rate interval."""

    def measured(measurements, start, end):
        return measure(client, measurements, start, end, prometheus.scrape_interval, rate_interval=prometheus.rate_interval)

    return measured


@pytest.fixture(scope="session")
def recorded_printouts() -> list[dict]:
    """The two printouts of bpftrace 0.17's recorded run (tests/data/README.md), as a snapshot reads them:
    map name, without ``@``, to buckets or a count."""
    found, maps = [], {}
    recording = Path(__file__).resolve().parents[1] / "data" / "bpftrace-0.17-snapshots.jsonl"
    for line in filter(None, recording.read_text().splitlines()):  # bpftrace ends with blank lines
        message = json.loads(line)
        if message["type"] not in ("map", "hist"):
            continue
        for name, value in message["data"].items():
            if name == "@zz_end":
                found.append(maps)
                maps = {}
            else:
                maps[name.removeprefix("@")] = value
    return found


GARBLING_BPFTRACE = '''#!/usr/bin/env python3
"""Test double of bpftrace whose second printout holds a line cut short (not JSON); the others are whole."""
import signal
import sys

printed = 0


def print_maps(signum, frame):
    global printed
    printed += 1
    cut = '{"type": "map", "data": {"@tcp_retr' if printed == 2 else '{"type": "map", "data": {"@tcp_retransmits": 3}}'
    print(cut + '\\n{"type": "map", "data": {"@zz_end": 1}}', flush=True)


signal.signal(signal.SIGUSR1, print_maps)
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
print('{"type": "attached_probes", "data": {"probes": 2}}', flush=True)
while True:
    signal.pause()
'''


@pytest.fixture
def garbling_bpftrace(tmp_path) -> Path:
    """A bpftrace double whose second printout (the first window's end) holds a line that is not JSON."""
    path = tmp_path / "garbling_bpftrace"
    path.write_text(GARBLING_BPFTRACE)
    path.chmod(0o755)
    return path
