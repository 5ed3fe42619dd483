"""The session's Prometheus: where windows are read from, started early (or on first use) or reached, stopped at the end."""

from __future__ import annotations

import re
import threading
import urllib.parse
from typing import Sequence

import requests

from pytest_telescope.errors import TelescopeError, ToolError
from pytest_telescope.measure.query import Measurement, measure, query_error, scrape_interval, wait_for_scrape
from pytest_telescope.measure.server import LocalPrometheus
from pytest_telescope.samples import Sample

# What ``--telescope-prometheus cluster`` reads: kube-prometheus-stack's service of its Prometheus.
CLUSTER_PROMETHEUS = ("monitoring", "prometheus-operated", 9090)


class Measurements:
    """Prometheus for one pytest process: where it comes from, started early (or on first use), stopped at the end.

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
        if source not in ("local", "off") and self.cluster_service is None:
            check_url(source)
        self._say = say
        self._said: set[str] = set()
        self._local: LocalPrometheus | None = None
        self._client = None
        self._attached: set[int] = set()
        self._cluster_clients: dict[int, object] = {}  # by id(target); None when it cannot be measured
        self._intervals: dict[str, float] = {}  # scrape interval by Prometheus URL
        self._starting: threading.Thread | None = None
        self._started: tuple[str, BaseException | None] = ("", None)  # what to say once started, or what it raised
        self._ready = threading.Event()
        self._release = threading.Event()

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

    def start_early(self) -> None:
        """Start the local Prometheus now, in the background, so that the wait for its first scrape
        overlaps collection and provisioning; the first window that needs it waits for the rest."""
        if self.source == "local" and self._starting is None:
            self._say("prometheus: starting, with node-exporter; its first scrape takes a few seconds")
            self._starting = threading.Thread(target=self._start_local, name="telescope-prometheus", daemon=True)
            self._starting.start()

    def stop(self) -> None:
        if self._starting is not None:
            self._ready.wait()  # what it started is then in _local, to be stopped
        if self._local is not None:
            self._local.stop()
        if self._starting is not None:
            self._release.set()
            self._starting.join()

    def _start_local(self) -> None:
        """Runs in the background: the messages are said, and an error raised, where the result is used.

        The thread lives until ``stop``: the processes it starts die with it (their parent-death
        signal follows the thread that started them, not the process)."""
        try:
            self._local = LocalPrometheus().start()
            self._started = (f"prometheus {self._local.url}: first scrape after {self._local.startup_seconds:.1f}s", None)
        except ToolError as error:
            self._started = (f"measurements off: {str(error).splitlines()[0]}", None)
        except BaseException as error:
            self._started = ("", error)
        finally:
            self._ready.set()
        self._release.wait()

    def _connect(self) -> None:
        from prometheus_api_client import PrometheusConnect

        url = self.source
        if self.source == "local":
            self.start_early()
            self._ready.wait()
            said, error = self._started
            if error is not None:
                raise error
            self._say(said)
            if self._local is None:
                self.source = "off"
                return
            url = self._local.url
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


def check_url(source: str) -> None:
    """A Prometheus URL, reachable now: checked once at the start, not by a timeout in every test."""
    parts = urllib.parse.urlsplit(source)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TelescopeError(
            f"--telescope-prometheus {source!r}: expected local, off, cluster, cluster:<namespace>/<service>:<port>"
            " or a Prometheus URL (http:// or https://)"
        )
    try:
        requests.get(f"{source.rstrip('/')}/api/v1/query", params={"query": "1"}, timeout=10).raise_for_status()
    except requests.RequestException as error:
        raise TelescopeError(f"--telescope-prometheus {source}: {query_error(error, source)}") from None


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
