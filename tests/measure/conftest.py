"""The Prometheus pair the measurement tests share: started once, only where its binaries are installed."""

import shutil

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
