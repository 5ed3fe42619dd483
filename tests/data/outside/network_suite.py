"""A suite of a user's own: iperf3 over the local target (copied in as test_network.py)."""

import pytest
from pytest_telescope.tools import iperf3


@pytest.mark.scenario("iperf3.yaml")
def test_iperf3(target, case, record_samples):
    server, client = target.endpoints("server", "client")
    port = server.free_port()
    with server.start(iperf3.server_command(port, bind=server.address)) as process:
        server.wait_listening(process, port)
        result = client.run(iperf3.command(server.address, port, **case.params), timeout=60)
    record_samples(iperf3.parse(result.stdout, result.argv))
