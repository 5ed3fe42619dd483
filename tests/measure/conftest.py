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
