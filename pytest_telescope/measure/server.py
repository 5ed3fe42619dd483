"""Prometheus and node-exporters started here, as plain processes on 127.0.0.1, stopped by PID."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterable, Sequence

from pytest_telescope.errors import ToolError
from pytest_telescope.measure.query import duration_text
from pytest_telescope.process import die_with_parent, free_loopback_port, require, stop
from pytest_telescope.targets import MetricsSource

INSTALL_HINT = "install the Debian packages prometheus and prometheus-node-exporter"
# The temporary directory of a local Prometheus: telescope-prometheus-<pid>-<random>; the pid tells
# `telescope cleanup` whether its run is over (a killed run leaves it).
TEMP_PREFIX = "telescope-prometheus-"

# What the host's exporter collects: enough for the golden signals, little else, so scraping stays cheap.
HOST_COLLECTORS = ("cpu", "meminfo", "diskstats", "loadavg", "pressure", "vmstat", "netdev", "netstat")
# What an exporter inside a network namespace collects: only what is namespaced.
NETWORK_COLLECTORS = ("netdev", "netstat")

# systemd socket activation (sd_listen_fds): the first passed descriptor is number 3.
_LISTEN_FD = 3


def directories_left(temp_root: Path) -> dict[Path, int]:
    """The temporary directories of local Prometheus servers in ``temp_root``, each with the pid of its run."""
    found = {}
    for directory in sorted(temp_root.glob(f"{TEMP_PREFIX}*")):
        pid = directory.name.removeprefix(TEMP_PREFIX).split("-")[0]
        if pid.isdigit() and directory.is_dir():
            found[directory] = int(pid)
    return found


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
        self.directory = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
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
        interval = duration_text(self.scrape_interval)
        config = {
            "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {"job_name": "node", "file_sd_configs": [{"files": [str(self.directory / "targets.json")]}]}
            ],
        }
        (self.directory / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        port = free_loopback_port()
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
