"""Network throughput between two endpoints of the target, measured with iperf3."""

import pytest

from pytest_telescope.tools import iperf3


def measure(target, case, record_samples):
    server, client = target.endpoints("server", "client")
    port = server.free_port()
    with server.start(iperf3.server_command(port, bind=server.address)) as process:
        server.wait_listening(process, port)
        timeout = case.params.get("duration", 10) + 60
        result = client.run(iperf3.command(server.address, port, **case.params), timeout=timeout, check=False)
    record_samples(iperf3.parse(result.stdout, result.argv))


@pytest.mark.scenario("iperf3.yaml")
def test_iperf3(target, case, record_samples):
    measure(target, case, record_samples)


@pytest.mark.scenario("iperf3-shaped.yaml")
def test_iperf3_shaped(target, case, record_samples):
    measure(target, case, record_samples)


@pytest.mark.scenario("iperf3-cross-zone.yaml")
def test_iperf3_cross_zone(target, case, record_samples):
    measure(target, case, record_samples)
