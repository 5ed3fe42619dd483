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
    """A ``benchmark_suite`` on the local target of the repository's Terraform modules; no Prometheus."""
    benchmark_suite.makeini(
        f"[pytest]\ntelescope_terraform_dir = {REPO / 'terraform'}\ntelescope_prometheus = off\n"
        "addopts = -p no:terraform -p no:cacheprovider\n"
    )
    return benchmark_suite
