"""Network throughput between two endpoints of the target, measured with iperf3 (the ``iperf3_run``
fixture of the repository's conftest.py)."""

import pytest


@pytest.mark.scenario("iperf3.yaml")
def test_iperf3(iperf3_run):
    iperf3_run()


@pytest.mark.scenario("iperf3-shaped.yaml")
def test_iperf3_shaped(iperf3_run):
    iperf3_run()


@pytest.mark.scenario("iperf3-cross-zone.yaml")
def test_iperf3_cross_zone(iperf3_run):
    iperf3_run()
