"""Measurements from Prometheus: what the system did while a benchmark ran.

``LocalPrometheus`` runs Prometheus and node-exporters as plain processes on
127.0.0.1. ``measure`` evaluates PromQL over one test's [start, end] window
and reduces each series to one statistic, as samples. ``GOLDEN_SIGNALS`` are
the USE measurements (utilization, saturation, errors) taken on every
benchmark. ``fingerprint`` records the configuration of an endpoint that
explains results.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

import requests
import yaml

from pytest_telescope.errors import TelescopeError, ToolError
from pytest_telescope.process import die_with_parent, require, stop
from pytest_telescope.samples import Sample
from pytest_telescope.targets import Endpoint

INSTALL_HINT = "install the Debian packages prometheus and prometheus-node-exporter"
# What ``--telescope-prometheus cluster`` reads: kube-prometheus-stack's service of its Prometheus.
CLUSTER_PROMETHEUS = ("monitoring", "prometheus-operated", 9090)
STATISTICS = ("avg", "max", "min", "p99", "last")

# What the host's exporter collects: enough for the golden signals, little else, so scraping stays cheap.
HOST_COLLECTORS = ("cpu", "meminfo", "diskstats", "loadavg", "pressure", "vmstat", "netdev", "netstat")
# What an exporter inside a network namespace collects: only what is namespaced.
NETWORK_COLLECTORS = ("netdev", "netstat")

# systemd socket activation (sd_listen_fds): the first passed descriptor is number 3.
_LISTEN_FD = 3


@dataclass(frozen=True)
class MetricsSource:
    """A node-exporter the local Prometheus scrapes: a role of the target, and where its network counters live.

    ``netns`` None is the host's own network namespace. ``devices`` is a regex of
    the network devices to report (node-exporter's default, all but ``lo``, when empty).
    """

    role: str
    netns: str | None = None
    devices: str = ""


@dataclass(frozen=True)
class Measurement:
    """A PromQL expression evaluated over a test's window and reduced to one statistic per series.

    The expression may use ``$rate_interval`` (the range of ``rate()``) and
    ``$by`` (the labels series are grouped by: ``role`` locally).
    """

    name: str
    promql: str
    statistic: str = "avg"
    unit: str = ""
    explains: str = ""

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ValueError(
                f"measurement {self.name}: statistic must be one of {', '.join(STATISTICS)}, got {self.statistic!r}"
            )

    def query(self, rate_interval: str, by: str) -> str:
        return self.promql.replace("$rate_interval", rate_interval).replace("$by", by)


GOLDEN_SIGNALS: tuple[Measurement, ...] = (
    Measurement(
        "cpu_utilization",
        '100 * (1 - avg by ($by) (rate(node_cpu_seconds_total{mode="idle"}[$rate_interval])))',
        "avg",
        "%",
        "share of CPU time not idle, over all CPUs",
    ),
    Measurement(
        "cpu_saturation",
        "100 * sum by ($by) (rate(node_pressure_cpu_waiting_seconds_total[$rate_interval]))",
        "avg",
        "%",
        "share of time some task waited for a CPU (PSI cpu some)",
    ),
    Measurement(
        "memory_utilization",
        "100 * (1 - sum by ($by) (node_memory_MemAvailable_bytes) / sum by ($by) (node_memory_MemTotal_bytes))",
        "max",
        "%",
        "memory in use, not available to new work",
    ),
    Measurement(
        "memory_saturation",
        "100 * sum by ($by) (rate(node_pressure_memory_waiting_seconds_total[$rate_interval]))",
        "avg",
        "%",
        "share of time some task stalled on memory: reclaim, swap-in, refaults (PSI memory some)",
    ),
    Measurement(
        "memory_oom_kills",
        "sum by ($by) (rate(node_vmstat_oom_kill[$rate_interval]))",
        "max",
        "1/s",
        "processes killed by the kernel for lack of memory",
    ),
    Measurement(
        "disk_io_utilization",
        "100 * max by ($by) (rate(node_disk_io_time_seconds_total[$rate_interval]))",
        "avg",
        "%",
        "share of time the busiest block device had I/O in flight",
    ),
    Measurement(
        "disk_saturation",
        "max by ($by) (rate(node_disk_io_time_weighted_seconds_total[$rate_interval]))",
        "avg",
        "count",
        "average number of requests queued or in flight on the busiest device",
    ),
    Measurement(
        "disk_read_latency",
        "1000 * sum by ($by) (rate(node_disk_read_time_seconds_total[$rate_interval]))"
        " / sum by ($by) (rate(node_disk_reads_completed_total[$rate_interval]))",
        "avg",
        "ms",
        "average time a read took, queueing included",
    ),
    Measurement(
        "disk_write_latency",
        "1000 * sum by ($by) (rate(node_disk_write_time_seconds_total[$rate_interval]))"
        " / sum by ($by) (rate(node_disk_writes_completed_total[$rate_interval]))",
        "avg",
        "ms",
        "average time a write took, queueing included",
    ),
    Measurement(
        "disk_read_throughput",
        "sum by ($by) (rate(node_disk_read_bytes_total[$rate_interval])) / 2^20",
        "avg",
        "MiB/s",
        "bytes read from block devices",
    ),
    Measurement(
        "disk_write_throughput",
        "sum by ($by) (rate(node_disk_written_bytes_total[$rate_interval])) / 2^20",
        "avg",
        "MiB/s",
        "bytes written to block devices",
    ),
    Measurement(
        "network_receive_throughput",
        "8 * sum by ($by) (rate(node_network_receive_bytes_total[$rate_interval])) / 1e6",
        "avg",
        "Mbit/s",
        "bits received on the network devices",
    ),
    Measurement(
        "network_transmit_throughput",
        "8 * sum by ($by) (rate(node_network_transmit_bytes_total[$rate_interval])) / 1e6",
        "avg",
        "Mbit/s",
        "bits sent on the network devices",
    ),
    Measurement(
        "network_drops",
        "sum by ($by) (rate(node_network_receive_drop_total[$rate_interval])"
        " + rate(node_network_transmit_drop_total[$rate_interval]))",
        "max",
        "packets/s",
        "packets the devices dropped (full rings or backlogs)",
    ),
    Measurement(
        "network_errors",
        "sum by ($by) (rate(node_network_receive_errs_total[$rate_interval])"
        " + rate(node_network_transmit_errs_total[$rate_interval]))",
        "max",
        "packets/s",
        "packets the devices received or sent with errors",
    ),
    Measurement(
        "network_tcp_retransmits",
        "sum by ($by) (rate(node_netstat_Tcp_RetransSegs[$rate_interval]))",
        "avg",
        "segments/s",
        "TCP segments sent again: loss or congestion on the path",
    ),
)


# Reducing a window


def reduce(values: Sequence[float], statistic: str) -> float:
    """One number for a series' values over the window (in time order)."""
    if not values:
        raise ValueError("no values to reduce")
    if statistic == "avg":
        return sum(values) / len(values)
    if statistic == "max":
        return max(values)
    if statistic == "min":
        return min(values)
    if statistic == "last":
        return values[-1]
    if statistic == "p99":
        return percentile(values, 99)
    raise ValueError(f"unknown statistic {statistic!r}; known: {', '.join(STATISTICS)}")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile, interpolated linearly between the closest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def samples_from_result(measurement: Measurement, result: list[dict], window: str) -> tuple[list[Sample], list[str]]:
    """Samples from a ``query_range`` result: one per series, labelled with the series' labels.

    NaN points (a ratio with nothing to divide) are left out; a series with
    nothing else, or an empty result, is a problem, not a sample.
    """
    if not result:
        return [], [f"{measurement.name}: no data {window}: no series matched, or none was scraped then"]
    samples, problems = [], []
    for series in result:
        labels = {key: value for key, value in series.get("metric", {}).items() if key != "__name__"}
        values = [float(value) for _, value in series.get("values", [])]
        finite = [value for value in values if math.isfinite(value)]
        if not finite:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels"
            problems.append(
                f"{measurement.name} ({shown}): only NaN or infinite values {window},"
                " e.g. a latency when nothing was read or written"
            )
            continue
        labels["statistic"] = measurement.statistic
        samples.append(Sample(measurement.name, reduce(finite, measurement.statistic), measurement.unit, labels))
    return samples, problems


def measure(
    client,
    measurements: Iterable[Measurement],
    start: float,
    end: float,
    step: float,
    *,
    rate_interval: float = 2.0,
    by: str = "role",
) -> tuple[list[Sample], list[str]]:
    """Evaluate each measurement over [start, end] (Unix seconds) through a ``PrometheusConnect``.

    A ``rate()`` at time t covers the ``rate_interval`` before t, so points are
    evaluated from ``start + rate_interval`` on: none of them averages in time
    before the test. A window shorter than that is one point at ``end`` whose
    rate covers the whole window.

    Returns the samples and the problems: a query Prometheus rejects, an
    unreachable server or an empty result is a message naming the measurement
    and its query; it never takes the other measurements' samples with it.
    """
    first = start + rate_interval
    if first > end:
        first, rate_interval = end, end - start
    window = f"between {_clock(start)} and {_clock(end)} UTC"
    samples: list[Sample] = []
    problems: list[str] = []
    for measurement in measurements:
        query = measurement.query(_duration(rate_interval), by)
        try:
            result = client.custom_query_range(
                query,
                start_time=datetime.fromtimestamp(first, timezone.utc),
                end_time=datetime.fromtimestamp(end, timezone.utc),
                step=_duration(step),
                # The client rounds start and end to whole seconds; a test lasts only a few.
                params={"start": f"{first:.3f}", "end": f"{end:.3f}"},
            )
        except Exception as error:  # the client raises its own exception, requests' or ValueError
            problems.append(f"{measurement.name}: {_query_error(error, client.url)} (query: {query})")
            continue
        found, missing = samples_from_result(measurement, result, window)
        samples += found
        problems += [f"{problem} (query: {query})" for problem in missing]
    return samples, problems


def wait_for_scrape(client, after: float, timeout: float) -> bool:
    """Wait until every scrape target was scraped after ``after`` (Unix seconds): a window ending then is complete."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = client.custom_query("min(timestamp(up))")
            if result and float(result[0]["value"][1]) >= after:
                return True
        except Exception:  # an unreachable server is reported by measure, with the query that failed
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _query_error(error: Exception, url: str) -> str:
    """Prometheus' own words when it rejected the query, the reason when it could not be reached, else the client's."""
    text = str(error)
    rejected = re.search(r'"error":"((?:[^"\\]|\\.)*)"', text)
    if rejected:
        return "Prometheus rejected the query: " + json.loads(f'"{rejected.group(1)}"')
    if isinstance(error, requests.ConnectionError):
        reason = re.search(r"\[Errno -?\d+\] ([^'\"]+)", text)
        return f"cannot reach Prometheus at {url}: {reason.group(1) if reason else text.splitlines()[0]}"
    return f"query failed: {text.splitlines()[0] if text else type(error).__name__}"


def scrape_interval(url: str) -> float | None:
    """The global scrape interval of the Prometheus at ``url``, from its /api/v1/status/config; None if it does not say."""
    try:
        answer = requests.get(f"{url}/api/v1/status/config", timeout=10)
        answer.raise_for_status()
        config = yaml.safe_load(answer.json()["data"]["yaml"])
        return duration_seconds(config["global"]["scrape_interval"])
    except (requests.RequestException, ValueError, KeyError, TypeError, yaml.YAMLError):
        return None


def duration_seconds(text: str) -> float:
    """A Prometheus duration such as ``30s``, ``1m30s`` or ``500ms``, in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    unit_seconds = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(int(number) * unit_seconds[unit] for number, unit in parts)


def _duration(seconds: float) -> str:
    """A Prometheus duration: whole units only, so milliseconds."""
    return f"{round(seconds * 1000)}ms"


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%H:%M:%S.%f")[:-3]


# Running Prometheus and node-exporters locally


class LocalPrometheus:
    """Prometheus and node-exporters as plain processes on 127.0.0.1, in a private temporary directory.

    ``start`` runs the host's exporter and Prometheus and returns once a
    ``rate()`` over the host's counters has data. ``attach`` adds exporters
    for a target's network namespaces. ``stop`` ends every process it started.
    """

    def __init__(self, *, scrape_interval: float = 1.0, timeout: float = 30.0):
        self.scrape_interval = scrape_interval
        self.timeout = timeout
        self.url = ""
        self.startup_seconds = 0.0
        self.directory: Path | None = None
        self._exporters: dict[MetricsSource, tuple[subprocess.Popen, str]] = {}
        self._prometheus: subprocess.Popen | None = None

    def __enter__(self) -> "LocalPrometheus":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def rate_interval(self) -> float:
        """Two scrape intervals: the shortest range in which ``rate()`` always finds two samples."""
        return 2 * self.scrape_interval

    def start(self) -> "LocalPrometheus":
        for binary in ("prometheus", "prometheus-node-exporter"):
            require(binary, INSTALL_HINT)
        began = time.monotonic()
        self.directory = Path(tempfile.mkdtemp(prefix="telescope-prometheus-"))
        try:
            host = MetricsSource("host")
            self._start_exporter(host, HOST_COLLECTORS)
            self._write_targets()
            self._start_prometheus()
            self._wait_scraped(host)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def attach(self, sources: Iterable[MetricsSource]) -> None:
        """Scrape these sources too, from now until ``stop``; returns once each has data for ``rate()``.

        Prometheus sees a new scrape target only at its discovery manager's
        next 5 s tick, so this takes 1 to 6 s, once per target.
        """
        new = [source for source in sources if source not in self._exporters]
        for source in new:
            self._start_exporter(source, NETWORK_COLLECTORS)
        if new:
            self._write_targets()
            for source in new:
                self._wait_scraped(source)

    def detach(self, sources: Iterable[MetricsSource]) -> None:
        """Stop scraping these sources and stop their exporters: one inside a namespace keeps it alive."""
        gone = [self._exporters.pop(source) for source in sources if source in self._exporters]
        if gone:
            self._write_targets()
        for popen, _ in gone:
            stop(popen)

    def stop(self) -> None:
        """Stop every process we started (by its PID) and remove the temporary directory."""
        processes = ([self._prometheus] if self._prometheus else []) + [popen for popen, _ in self._exporters.values()]
        for popen in processes:
            stop(popen)
        self._prometheus = None
        self._exporters.clear()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def _start_exporter(self, source: MetricsSource, collectors: Sequence[str]) -> None:
        """Start node-exporter on a socket we bind in the host's namespace, even when it runs inside ``source.netns``.

        Handing it the listening socket (systemd socket activation) lets an
        exporter inside a namespace read its counters natively while
        Prometheus, outside, still reaches it on 127.0.0.1.
        """
        argv = ["prometheus-node-exporter", "--web.systemd-socket", "--collector.disable-defaults"]
        argv += [f"--collector.{name}" for name in collectors]
        if source.devices:
            argv.append(f"--collector.netdev.device-include={source.devices}")
        if source.netns:
            require("ip", "install iproute2")
            argv = ["ip", "netns", "exec", source.netns, *argv]
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            address = f"127.0.0.1:{listener.getsockname()[1]}"
            popen = self._launch(argv, _exporter_name(source), listen_fd=listener.fileno())
        self._exporters[source] = (popen, address)

    def _write_targets(self) -> None:
        """The file Prometheus discovers its scrape targets from, replaced whole so it never reads half of it."""
        groups = [
            {
                "targets": [address],
                "labels": {"role": source.role, **({"namespace": source.netns} if source.netns else {})},
            }
            for source, (_, address) in self._exporters.items()
        ]
        path = self.directory / "targets.json"
        path.with_suffix(".tmp").write_text(json.dumps(groups))
        path.with_suffix(".tmp").replace(path)

    def _start_prometheus(self) -> None:
        interval = _duration(self.scrape_interval)
        config = {
            "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {"job_name": "node", "file_sd_configs": [{"files": [str(self.directory / "targets.json")]}]}
            ],
        }
        (self.directory / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._prometheus = self._launch(
            [
                "prometheus",
                f"--config.file={self.directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                "--storage.tsdb.retention.time=1d",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            "prometheus",
        )

    def _launch(self, argv: list[str], name: str, listen_fd: int | None = None) -> subprocess.Popen:
        log = open(self.directory / f"{name}.log", "wb")

        def in_child() -> None:
            die_with_parent()
            if listen_fd is not None:
                os.dup2(listen_fd, _LISTEN_FD)
                os.set_inheritable(_LISTEN_FD, True)  # dup2 onto itself keeps close-on-exec
                os.closerange(_LISTEN_FD + 1, os.sysconf("SC_OPEN_MAX"))
                # Set here, in the child, because LISTEN_PID must be its own PID (ip netns exec keeps it).
                os.environ["LISTEN_FDS"] = "1"
                os.environ["LISTEN_PID"] = str(os.getpid())

        with log:
            return subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=in_child,
                # subprocess would close descriptor 3 after in_child made it; in_child closes the others itself.
                close_fds=listen_fd is None,
            )

    def _wait_scraped(self, source: MetricsSource) -> None:
        """Wait until Prometheus scraped ``source`` twice, so ``rate()`` over it has data."""
        _, address = self._exporters[source]
        query = f'sum_over_time(up{{instance="{address}"}}[1m]) >= 2'
        deadline = time.monotonic() + self.timeout
        while not self._query(query):
            for popen, name in self._named_processes():
                if popen.poll() is not None:
                    raise ToolError(popen.args, f"exited with status {popen.returncode}", self._log(name))
            if time.monotonic() > deadline:
                raise ToolError(
                    f"prometheus at {self.url}",
                    f"had not scraped the {source.role} exporter at {address} twice after {self.timeout:g} s",
                    self._log("prometheus"),
                )
            time.sleep(0.05)

    def _named_processes(self) -> list[tuple[subprocess.Popen, str]]:
        named = [(popen, _exporter_name(source)) for source, (popen, _) in self._exporters.items()]
        return named + ([(self._prometheus, "prometheus")] if self._prometheus else [])

    def _query(self, query: str) -> list:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.load(response)["data"]["result"]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return []  # not listening yet

    def _log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace") if self.directory else ""


def _exporter_name(source: MetricsSource) -> str:
    return f"exporter-{source.netns or source.role}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# System fingerprint

FINGERPRINT_COMMANDS = {
    "uname": ["uname", "-r", "-m"],
    "cpuinfo": ["cat", "/proc/cpuinfo"],
    "meminfo": ["cat", "/proc/meminfo"],
    "links": ["ip", "-j", "-d", "link", "show"],
}
SYSCTLS = (
    "net.core.rmem_default",
    "net.core.rmem_max",
    "net.core.wmem_default",
    "net.core.wmem_max",
    "net.core.netdev_max_backlog",
    "net.core.somaxconn",
    "net.core.default_qdisc",
    "net.ipv4.tcp_congestion_control",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_mtu_probing",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_sack",
    "net.ipv4.tcp_window_scaling",
)


def fingerprint(endpoint: Endpoint) -> dict:
    """What explains an endpoint's results: kernel, CPUs, memory, network devices and net.* sysctls.

    A command that cannot run there is named under ``unavailable`` with the
    first line of its output; the rest is still recorded.
    """
    outputs: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    commands = {**FINGERPRINT_COMMANDS, "sysctl": ["sysctl", "-e", *SYSCTLS]}
    for name, argv in commands.items():
        try:
            completed = endpoint.run(argv, timeout=30, check=False)
        except ToolError as error:
            unavailable[name] = str(error).splitlines()[0]
            continue
        if completed.returncode != 0:
            unavailable[name] = (
                f"{' '.join(argv)}: exited with status {completed.returncode}: "
                + (completed.output.splitlines() or [""])[0]
            )
            continue
        outputs[name] = completed.stdout
    facts: dict = {}
    parsers = {
        "uname": parse_uname,
        "cpuinfo": parse_cpuinfo,
        "meminfo": parse_meminfo,
        "links": parse_links,
        "sysctl": parse_sysctl,
    }
    for name, output in outputs.items():
        try:
            facts.update(parsers[name](output))
        except (ValueError, KeyError, TypeError) as error:
            unavailable[name] = f"{' '.join(commands[name])}: unreadable output ({error})"
    if unavailable:
        facts["unavailable"] = unavailable
    return facts


def parse_uname(output: str) -> dict:
    """``uname -r -m``: kernel release and machine architecture."""
    kernel, arch = output.split()
    return {"kernel": kernel, "arch": arch}


def parse_cpuinfo(output: str) -> dict:
    """``/proc/cpuinfo``: the CPU model (x86 ``model name``; ARM has none) and the number of CPUs."""
    models = [line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith("model name")]
    cpus = sum(1 for line in output.splitlines() if re.match(r"processor\s*:", line))
    return {"cpu_model": models[0] if models else None, "cpus": cpus}


def parse_meminfo(output: str) -> dict:
    """``/proc/meminfo``: total memory and swap, in bytes."""
    kib = {}
    for line in output.splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[-1] == "kB":
            kib[key] = int(parts[0])
    return {"memory_bytes": kib["MemTotal"] * 1024, "swap_bytes": kib.get("SwapTotal", 0) * 1024}


def parse_links(output: str) -> dict:
    """``ip -j -d link show``: per network device, MTU, state, queue discipline and queue counts."""
    interfaces = {}
    for link in json.loads(output):
        interfaces[link["ifname"]] = {
            "kind": link.get("linkinfo", {}).get("info_kind", link.get("link_type")),
            "state": link.get("operstate"),
            "mtu": link.get("mtu"),
            "qdisc": link.get("qdisc"),
            "txqlen": link.get("txqlen"),
            "tx_queues": link.get("num_tx_queues"),
            "rx_queues": link.get("num_rx_queues"),
        }
    return {"interfaces": interfaces}


def parse_sysctl(output: str) -> dict:
    """``sysctl key...``: ``key = value`` lines; multi-value settings keep single spaces."""
    settings = {}
    for line in output.splitlines():
        key, separator, value = line.partition(" = ")
        if separator:
            settings[key.strip()] = " ".join(value.split())
    return {"sysctl": settings}


class Measurements:
    """Prometheus for one pytest process: where it comes from, started on first use, stopped at the end.

    ``source`` is ``local`` (start Debian's Prometheus and node-exporter here,
    for targets on this machine), ``off``, ``cluster`` or
    ``cluster:<namespace>/<service>:<port>`` (the Prometheus of a cluster
    target, reached through the target's port-forward; ``cluster`` is
    ``CLUSTER_PROMETHEUS``), or the URL of a Prometheus that already scrapes
    the target. If the local pair cannot start, or a cluster's Prometheus
    cannot be reached, ``say`` is told once and benchmarks run on without
    measurements. ``window`` reads the Prometheus of the target last found
    ``available``.
    """

    def __init__(self, source: str, say):
        self.source = source
        self.cluster_service = cluster_service(source)
        self._say = say
        self._said: set[str] = set()
        self._local: LocalPrometheus | None = None
        self._client = None
        self._attached: set[int] = set()
        self._cluster_clients: dict[int, object] = {}  # by id(target); None when it cannot be measured
        self._intervals: dict[str, float] = {}  # scrape interval by Prometheus URL

    def available(self, target) -> bool:
        if self.source == "off":
            return False
        if self.cluster_service is not None:
            if id(target) not in self._cluster_clients:
                self._cluster_clients[id(target)] = self._connect_cluster(target)
            self._client = self._cluster_clients[id(target)]
            return self._client is not None
        if self.source == "local" and not target.metrics_sources():
            return False  # a Prometheus started here sees only this machine, not a cluster
        if self._client is None:
            self._connect()
        if self._local is not None and id(target) not in self._attached:
            self._local.attach(target.metrics_sources())
            self._attached.add(id(target))
        return self._client is not None

    def window(self, measurements: Sequence[Measurement], start: float, end: float) -> tuple[list[Sample], list[str]]:
        if self._local:
            step, rate_interval = self._local.scrape_interval, self._local.rate_interval
        else:
            # Another's Prometheus scrapes at its own pace (15-60 s is usual): a window's points are one
            # scrape apart, and a rate() spans four scrapes, as Grafana's $__rate_interval does.
            step = self._scrape_interval()
            rate_interval = 4 * step
        wait_for_scrape(self._client, end, timeout=2 * step + 1)
        return measure(self._client, measurements, start, end, step, rate_interval=rate_interval)

    def _scrape_interval(self) -> float:
        url = self._client.url
        if url not in self._intervals:
            found = scrape_interval(url)
            if found is None:
                self._say_once(f"prometheus {url}: its scrape interval is unknown (/api/v1/status/config); windows use 1 s steps")
            self._intervals[url] = found or 1.0
        return self._intervals[url]

    def stop(self) -> None:
        if self._local is not None:
            self._local.stop()

    def _connect(self) -> None:
        from prometheus_api_client import PrometheusConnect

        url = self.source
        if self.source == "local":
            try:
                self._local = LocalPrometheus().start()
            except ToolError as error:
                self.source = "off"
                self._say(f"measurements off: {str(error).splitlines()[0]}")
                return
            url = self._local.url
            self._say(f"prometheus {url}: first scrape after {self._local.startup_seconds:.1f}s")
        self._client = PrometheusConnect(url=url, disable_ssl=True)

    def _connect_cluster(self, target):
        """A client of the target's own Prometheus through its port-forward; None, said once, when there is none."""
        from prometheus_api_client import PrometheusConnect

        namespace, service, port = self.cluster_service
        if not hasattr(target, "prometheus_url"):
            self._say_once(
                f"measurements off for {target.cloud}: --telescope-prometheus {self.source} reads a cluster's"
                f" Prometheus, and a {target.cloud} target has none"
            )
            return None
        try:
            url = target.prometheus_url(namespace, service, port)
        except TelescopeError as error:
            self._say_once(f"measurements off for {target.cloud}: {str(error).splitlines()[0]}")
            return None
        self._say(f"prometheus {namespace}/{service}:{port} of {target.cloud}: forwarded to {url}")
        return PrometheusConnect(url=url, disable_ssl=True)

    def _say_once(self, text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            self._say(text)


def cluster_service(source: str) -> tuple[str, str, int] | None:
    """The (namespace, service, port) of a cluster's Prometheus that ``source`` names; None for other sources."""
    if source == "cluster":
        return CLUSTER_PROMETHEUS
    if not source.startswith("cluster:"):
        return None
    match = re.fullmatch(r"cluster:([a-z0-9][-a-z0-9]*)/([a-z0-9][-a-z0-9]*):(\d{1,5})", source)
    if match is None or not 0 < int(match[3]) < 65536:
        raise TelescopeError(
            f"--telescope-prometheus {source}: expected cluster:<namespace>/<service>:<port>,"
            " e.g. cluster:monitoring/prometheus-k8s:9090"
        )
    return match[1], match[2], int(match[3])
