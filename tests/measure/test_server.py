"""Prometheus and node-exporters started here: one inside each network namespace, every process stopped."""

import os
import shutil
import subprocess
import time

import pytest

from pytest_telescope.errors import ToolError
from pytest_telescope.measure.golden import GOLDEN_SIGNALS
from pytest_telescope.measure.query import wait_for_scrape
from pytest_telescope.measure.server import LocalPrometheus
from pytest_telescope.targets import MetricsSource
from pytest_telescope.targets.local import LocalEndpoint
from pytest_telescope.tools import iperf3

RECEIVED = next(signal for signal in GOLDEN_SIGNALS if signal.name == "network_receive_throughput")

needs_namespaces = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iperf3"), reason="needs root, iproute2 and iperf3"
)


@pytest.fixture
def namespaces():
    """Two network namespaces of our own joined by a veth pair: server 10.201.0.1, client 10.201.0.2."""
    names = {role: f"tsprom{os.getpid()}{role[0]}" for role in ("server", "client")}
    devices = {role: f"tsp{os.getpid()}{role[0]}"[:15] for role in names}
    for name in names.values():
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(
            ["ip", "link", "add", devices["server"], "type", "veth", "peer", "name", devices["client"]], check=True
        )
        for number, role in enumerate(("server", "client"), start=1):
            subprocess.run(["ip", "link", "set", devices[role], "netns", names[role]], check=True)
            subprocess.run(
                ["ip", "-n", names[role], "addr", "add", f"10.201.0.{number}/24", "dev", devices[role]], check=True
            )
            subprocess.run(["ip", "-n", names[role], "link", "set", devices[role], "up"], check=True)
        yield names
    finally:
        for name in names.values():
            subprocess.run(["ip", "netns", "del", name], check=False)


@needs_namespaces
def test_an_exporter_inside_each_namespace_sees_the_traffic_iperf3_reports(
    prometheus, client, measured, namespaces, tmp_path
):
    server, iperf3_client = (
        LocalEndpoint(role, f"10.201.0.{n}", namespaces[role], str(tmp_path), None)
        for n, role in ((1, "server"), (2, "client"))
    )
    sources = [MetricsSource(role, netns) for role, netns in namespaces.items()]
    prometheus.attach(sources)
    try:
        port = 5201
        with server.start(iperf3.server_command(port, bind=server.address)) as process:
            server.wait_listening(process, port)
            start = time.time()
            result = iperf3_client.run(iperf3.command(server.address, port, duration=3), timeout=30)
            end = time.time()
        received = {s.metric: s.value for s in iperf3.parse(result.stdout)}["throughput_received"]
        assert wait_for_scrape(client, end, timeout=5 * prometheus.scrape_interval)

        samples, problems = measured([RECEIVED], start, end)
    finally:
        prometheus.detach(sources)

    assert problems == []
    throughput = {sample.labels["role"]: sample.value for sample in samples}
    assert throughput["server"] == pytest.approx(received, rel=0.25)
    assert throughput["client"] < received / 100  # only acknowledgements flow back
    assert set(throughput) == {"host", "server", "client"}


def test_stop_ends_every_process_and_removes_the_directory(prometheus_installed):
    running = LocalPrometheus().start()
    processes = [running._prometheus, *(popen for popen, _ in running._exporters.values())]
    directory = running.directory
    assert directory.is_dir() and all(popen.poll() is None for popen in processes)

    running.stop()

    assert not directory.exists()
    assert all(popen.poll() is not None for popen in processes)


def test_missing_binaries_are_a_clear_error_and_start_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with pytest.raises(
        ToolError,
        match="^prometheus: not found on PATH; install the Debian packages prometheus and prometheus-node-exporter$",
    ):
        LocalPrometheus().start()
    assert list(tmp_path.iterdir()) == []
