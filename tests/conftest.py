"""What the tests share: pytester, and a suite directory laid out as the repository's benchmarks are."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def local_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A fresh directory for a benchmark suite on the local target, with the repository's Terraform
    modules and the fixtures its suites share (its conftest.py: ``iperf3_run``...); no Prometheus."""
    pytester.makeini(
        f"[pytest]\ntelescope_terraform_dir = {REPO / 'terraform'}\ntelescope_prometheus = off\n"
        "addopts = -p no:terraform -p no:cacheprovider\n"
    )
    pytester.makeconftest((REPO / "conftest.py").read_text())
    return pytester
