"""What the tests share: pytester, and suite directories set up as the repository's benchmarks are."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def benchmark_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A fresh directory for a benchmark suite, with the fixtures the repository's suites share
    (its conftest.py: ``iperf3_run``...)."""
    pytester.makeconftest((REPO / "conftest.py").read_text())
    return pytester


@pytest.fixture
def local_suite(benchmark_suite: pytest.Pytester) -> pytest.Pytester:
    """A ``benchmark_suite`` on the local target of the Terraform modules the plugin ships; no Prometheus,
    no kernel histograms."""
    benchmark_suite.makeini("[pytest]\ntelescope_prometheus = off\ntelescope_kernel = off\naddopts = -p no:terraform -p no:cacheprovider\n")
    return benchmark_suite
