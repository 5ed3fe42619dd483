"""Fixtures the benchmark suites share, beside the plugin's own (target, case, record_samples...)."""

import functools
from typing import Callable

import pytest

from pytest_telescope.tools import iperf3


def measure_iperf3(target, case, record_samples) -> None:
    """Measures ``case`` with iperf3, from the target's ``client`` endpoint to an iperf3 server on
    its ``server`` endpoint, and records the samples; the server stops when the client is done."""
    server, client = target.endpoints("server", "client")
    port = server.free_port()
    with server.start(iperf3.server_command(port, bind=server.address)) as process:
        server.wait_listening(process, port)
        timeout = case.params.get("duration", 10) + 60
        result = client.run(iperf3.command(server.address, port, **case.params), timeout=timeout, check=False)
    record_samples(iperf3.parse(result.stdout, result.argv))


@pytest.fixture
def iperf3_run(target, case, record_samples) -> Callable[[], None]:
    """``measure_iperf3`` of this test's target and case. A callable, so that each
    ``--telescope-repeat`` of the test measures again."""
    return functools.partial(measure_iperf3, target, case, record_samples)
