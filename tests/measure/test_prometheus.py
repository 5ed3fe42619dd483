"""Measurements: a real Prometheus and node-exporters, and the pure parts (window reduction, fingerprint parsers)."""

import json
import math
import os
import platform
import shutil
import subprocess
import time

import pytest
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from pytest_telescope.errors import ToolError
from pytest_telescope.measure.prometheus import (
    GOLDEN_SIGNALS,
    LocalPrometheus,
    Measurement,
    Measurements,
    MetricsSource,
    duration_seconds,
    fingerprint,
    measure,
    parse_cpuinfo,
    parse_links,
    parse_meminfo,
    parse_sysctl,
    parse_uname,
    percentile,
    reduce,
    samples_from_result,
    scrape_interval,
    wait_for_scrape,
)
from pytest_telescope.samples import Sample
from pytest_telescope.targets.local import LocalEndpoint
from pytest_telescope.tools import fio, iperf3

SIGNALS = {signal.name: signal for signal in GOLDEN_SIGNALS}
HAS_PROMETHEUS = all(shutil.which(binary) for binary in ("prometheus", "prometheus-node-exporter"))
needs_prometheus = pytest.mark.skipif(
    not HAS_PROMETHEUS, reason="needs prometheus and prometheus-node-exporter on PATH"
)
needs_namespaces = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iperf3"), reason="needs root, iproute2 and iperf3"
)


@pytest.fixture(scope="session")
def prometheus():
    """The Prometheus pair, started once for every test here that needs it."""
    with LocalPrometheus() as running:
        yield running


@pytest.fixture
def client(prometheus):
    return PrometheusConnect(prometheus.url, retry=Retry(total=0))


def measured(client, prometheus, measurements, start, end):
    return measure(client, measurements, start, end, prometheus.scrape_interval, rate_interval=prometheus.rate_interval)


def by_role(samples: list[Sample], metric: str) -> dict[str, float]:
    return {sample.labels["role"]: sample.value for sample in samples if sample.metric == metric}


# A real Prometheus and node-exporter


@needs_prometheus
def test_fio_disk_signal_is_above_zero_during_the_run_and_near_zero_outside(prometheus, client, tmp_path):
    disk = [SIGNALS["disk_io_utilization"], SIGNALS["disk_read_throughput"]]
    quiet_start = time.time()
    time.sleep(2 * prometheus.rate_interval)
    quiet_end = start = time.time()
    result = subprocess.run(
        fio.command(str(tmp_path / "fio.dat"), rw="randread", size="64M", runtime=4),
        capture_output=True,
        text=True,
        check=True,
    )
    end = time.time()
    read_by_fio = sum(sample.value for sample in fio.parse(result.stdout) if sample.metric == "read_bandwidth")
    assert wait_for_scrape(client, end, timeout=5 * prometheus.scrape_interval)

    during, during_problems = measured(client, prometheus, disk, start, end)
    before, before_problems = measured(client, prometheus, disk, quiet_start, quiet_end)

    assert during_problems == before_problems == []
    # Reads are fio's alone (its file is laid out by writes, and anything else here mostly writes):
    # the host reads what fio says it read, and next to nothing before.
    assert by_role(during, "disk_read_throughput")["host"] == pytest.approx(read_by_fio, rel=0.5)
    assert by_role(before, "disk_read_throughput")["host"] < read_by_fio / 20
    assert by_role(during, "disk_io_utilization")["host"] > max(20, by_role(before, "disk_io_utilization")["host"])
    assert all(sample.labels["statistic"] == "avg" for sample in during + before)


@needs_prometheus
def test_a_promql_error_and_an_empty_result_are_messages_and_lose_no_other_sample(prometheus, client):
    end = time.time()
    start = end - 3 * prometheus.rate_interval
    broken = Measurement("broken", "rate(node_cpu_seconds_total[$rate_interval]", unit="1/s")
    absent = Measurement("absent", "node_no_such_metric", unit="count")

    samples, problems = measured(client, prometheus, [broken, SIGNALS["cpu_utilization"], absent], start, end)

    assert [(sample.metric, sample.unit, sample.labels["role"]) for sample in samples] == [
        ("cpu_utilization", "%", "host")
    ]
    assert 0 <= samples[0].value <= 100
    assert len(problems) == 2
    assert problems[0].startswith("broken: Prometheus rejected the query: ")
    assert "parse error" in problems[0] and "(query: rate(node_cpu_seconds_total[2000ms]" in problems[0]
    assert problems[1].startswith("absent: no data between ")
    assert problems[1].endswith("(query: node_no_such_metric)")


@needs_prometheus
def test_an_unreachable_prometheus_is_a_message_per_measurement():
    with_nothing_listening = PrometheusConnect("http://127.0.0.1:9", retry=Retry(total=0))
    end = time.time()

    samples, problems = measure(with_nothing_listening, GOLDEN_SIGNALS[:2], end - 5, end, 1.0)

    assert samples == []
    assert [problem.split(":")[0] for problem in problems] == ["cpu_utilization", "cpu_saturation"]
    assert all("cannot reach Prometheus at http://127.0.0.1:9: Connection refused (query: " in p for p in problems)


@needs_prometheus
def test_every_golden_signal_is_valid_promql_with_data_from_the_host_exporter(prometheus, client):
    end = time.time()
    samples, problems = measured(client, prometheus, GOLDEN_SIGNALS, end - 3 * prometheus.rate_interval, end)

    ratios_without_io = {"disk_read_latency", "disk_write_latency"}
    assert all(problem.split(" ")[0] in ratios_without_io and "only NaN" in problem for problem in problems), problems
    assert set(SIGNALS) - ratios_without_io <= {sample.metric for sample in samples}
    assert all(sample.unit == SIGNALS[sample.metric].unit for sample in samples)
    assert all(not math.isnan(sample.value) for sample in samples)


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


@needs_prometheus
@needs_namespaces
def test_an_exporter_inside_each_namespace_sees_the_traffic_iperf3_reports(prometheus, client, namespaces, tmp_path):
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

        samples, problems = measured(client, prometheus, [SIGNALS["network_receive_throughput"]], start, end)
    finally:
        prometheus.detach(sources)

    assert problems == []
    throughput = by_role(samples, "network_receive_throughput")
    assert throughput["server"] == pytest.approx(received, rel=0.25)
    assert throughput["client"] < received / 100  # only acknowledgements flow back
    assert set(throughput) == {"host", "server", "client"}


@needs_prometheus
def test_stop_ends_every_process_and_removes_the_directory():
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


# Reducing a window


@pytest.mark.parametrize(
    "statistic, expected", [("avg", 2.5), ("max", 4.0), ("min", 1.0), ("last", 3.0), ("p99", 3.97)]
)
def test_reduce(statistic, expected):
    assert reduce([1.0, 4.0, 2.0, 3.0], statistic) == pytest.approx(expected)


def test_percentile_interpolates_between_ranks():
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_reduce_refuses_nothing_and_unknown_statistics():
    with pytest.raises(ValueError, match="no values"):
        reduce([], "avg")
    with pytest.raises(ValueError, match="unknown statistic 'median'"):
        reduce([1.0], "median")


def test_a_measurement_names_its_statistic_and_substitutes_its_placeholders():
    with pytest.raises(ValueError, match="measurement x: statistic must be one of avg, max, min, p99, last, got 'p95'"):
        Measurement("x", "up", "p95")
    assert (
        Measurement("x", "sum by ($by) (rate(a[$rate_interval]))").query("2000ms", "instance")
        == "sum by (instance) (rate(a[2000ms]))"
    )


def test_samples_from_result_one_per_series_with_its_labels_and_nan_left_out():
    measurement = Measurement("disk_read_latency", "...", "max", "ms")
    result = [
        {"metric": {"__name__": "x", "role": "host"}, "values": [[1.0, "NaN"], [2.0, "0.5"], [3.0, "1.5"]]},
        {"metric": {"role": "client"}, "values": [[1.0, "NaN"], [2.0, "NaN"]]},
    ]

    samples, problems = samples_from_result(measurement, result, "between A and B UTC")

    assert samples == [Sample("disk_read_latency", 1.5, "ms", {"role": "host", "statistic": "max"})]
    assert problems == [
        "disk_read_latency (role=client): only NaN or infinite values between A and B UTC,"
        " e.g. a latency when nothing was read or written"
    ]


class RangeQueryClientDouble:
    """Records the range queries it is sent and answers each with no series."""

    def __init__(self):
        self.calls = []

    def custom_query_range(self, query, start_time, end_time, step, params):
        self.calls.append({"query": query, "step": step, **params})
        return []


def test_points_start_one_rate_interval_into_the_window_so_none_averages_in_time_before_it():
    client = RangeQueryClientDouble()
    measure(client, [SIGNALS["network_drops"]], 100.0, 110.0, 1.0, rate_interval=2.0)
    assert client.calls == [
        {
            "query": SIGNALS["network_drops"].query("2000ms", "role"),
            "step": "1000ms",
            "start": "102.000",
            "end": "110.000",
        }
    ]


def test_a_window_shorter_than_the_rate_interval_is_one_point_whose_rate_covers_it():
    client = RangeQueryClientDouble()
    measure(client, [SIGNALS["cpu_utilization"]], 100.0, 101.5, 1.0, rate_interval=2.0)
    assert client.calls[0]["query"] == SIGNALS["cpu_utilization"].query("1500ms", "role")
    assert (client.calls[0]["start"], client.calls[0]["end"]) == ("101.500", "101.500")


def test_samples_from_an_empty_result_is_a_problem():
    samples, problems = samples_from_result(Measurement("absent", "..."), [], "between A and B UTC")
    assert samples == []
    assert problems == ["absent: no data between A and B UTC: no series matched, or none was scraped then"]


# Fingerprint

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
cpu MHz\t\t: 2596.138

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
cpu MHz\t\t: 2596.138
"""

CPUINFO_ARM = """processor\t: 0
BogoMIPS\t: 243.75
CPU part\t: 0xd0c

processor\t: 1
BogoMIPS\t: 243.75
"""

MEMINFO = """MemTotal:       24684084 kB
MemFree:        23353284 kB
MemAvailable:   23945796 kB
HugePages_Total:       0
SwapTotal:             0 kB
"""

LINKS = json.dumps(
    [
        {
            "ifindex": 1,
            "ifname": "lo",
            "mtu": 65536,
            "qdisc": "noqueue",
            "operstate": "UNKNOWN",
            "txqlen": 1000,
            "link_type": "loopback",
            "num_tx_queues": 1,
            "num_rx_queues": 1,
        },
        {
            "ifindex": 6,
            "ifname": "tsplA",
            "mtu": 1500,
            "qdisc": "tbf",
            "operstate": "UP",
            "txqlen": 1000,
            "link_type": "ether",
            "linkinfo": {"info_kind": "veth"},
            "num_tx_queues": 2,
            "num_rx_queues": 2,
        },
    ]
)

SYSCTL = (
    "net.core.rmem_max = 4194304\nnet.ipv4.tcp_rmem = 4096\t131072\t33554432\nnet.ipv4.tcp_congestion_control = bbr\n"
)


def test_parse_uname():
    assert parse_uname("6.18.44-fc-v669 x86_64\n") == {"kernel": "6.18.44-fc-v669", "arch": "x86_64"}


def test_parse_cpuinfo_counts_processors_and_keeps_the_model():
    assert parse_cpuinfo(CPUINFO) == {"cpu_model": "AMD EPYC", "cpus": 2}
    assert parse_cpuinfo(CPUINFO_ARM) == {"cpu_model": None, "cpus": 2}


def test_parse_meminfo_in_bytes():
    assert parse_meminfo(MEMINFO) == {"memory_bytes": 24684084 * 1024, "swap_bytes": 0}


def test_parse_links_mtu_and_queues():
    assert parse_links(LINKS) == {
        "interfaces": {
            "lo": {
                "kind": "loopback",
                "state": "UNKNOWN",
                "mtu": 65536,
                "qdisc": "noqueue",
                "txqlen": 1000,
                "tx_queues": 1,
                "rx_queues": 1,
            },
            "tsplA": {
                "kind": "veth",
                "state": "UP",
                "mtu": 1500,
                "qdisc": "tbf",
                "txqlen": 1000,
                "tx_queues": 2,
                "rx_queues": 2,
            },
        }
    }


def test_parse_sysctl_keeps_multi_value_settings_with_single_spaces():
    assert parse_sysctl(SYSCTL) == {
        "sysctl": {
            "net.core.rmem_max": "4194304",
            "net.ipv4.tcp_rmem": "4096 131072 33554432",
            "net.ipv4.tcp_congestion_control": "bbr",
        }
    }


def test_fingerprint_of_this_host(tmp_path):
    facts = fingerprint(LocalEndpoint("client", "127.0.0.1", None, str(tmp_path), None))

    assert facts["kernel"] == platform.release()
    assert facts["arch"] == platform.machine()
    assert facts["cpus"] == os.cpu_count()
    assert facts["memory_bytes"] == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert facts["interfaces"]["lo"]["mtu"] == 65536
    assert facts["sysctl"]["net.core.rmem_max"] == open("/proc/sys/net/core/rmem_max").read().strip()
    assert "unavailable" not in facts


def test_fingerprint_names_what_it_could_not_run_and_keeps_the_rest(tmp_path, monkeypatch):
    tools = tmp_path / "bin"
    tools.mkdir()
    for binary in ("uname", "cat"):
        (tools / binary).symlink_to(shutil.which(binary))
    monkeypatch.setenv("PATH", str(tools))

    facts = fingerprint(LocalEndpoint("client", "127.0.0.1", None, str(tmp_path), None))

    assert facts["kernel"] == platform.release() and facts["cpus"] == os.cpu_count()
    assert set(facts["unavailable"]) == {"links", "sysctl"}
    assert facts["unavailable"]["links"].startswith("ip: not found on PATH")


def test_a_local_prometheus_never_measures_a_cluster():
    class ClusterTargetDouble:
        def metrics_sources(self):
            return []  # a cluster's metrics are in its own Prometheus

    measurements = Measurements("local", say=lambda text: None)

    assert not measurements.available(ClusterTargetDouble())
    assert measurements._local is None  # nothing was started for it


def test_the_scrape_interval_is_read_from_the_prometheus_itself(prometheus):
    assert scrape_interval(prometheus.url) == prometheus.scrape_interval
    assert scrape_interval("http://127.0.0.1:9") is None  # nothing listens: unknown, not an error


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200)])
def test_prometheus_durations(text, seconds):
    assert duration_seconds(text) == seconds


def test_a_window_of_anothers_prometheus_steps_by_its_scrape_interval(prometheus):
    measurements = Measurements(prometheus.url, say=lambda text: None)
    end = time.time()
    assert measurements.available(ClusterTargetWithOwnPrometheusDouble())
    samples, problems = measurements.window([GOLDEN_SIGNALS[0]], end - 10, end)
    assert problems == [] and samples and measurements._intervals == {prometheus.url: prometheus.scrape_interval}


class ClusterTargetWithOwnPrometheusDouble:
    def metrics_sources(self):
        return []
