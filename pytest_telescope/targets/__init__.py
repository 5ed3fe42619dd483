"""Targets: hosts or pods that run a command, and where their metrics come from.

A benchmark is written once against ``Target`` and ``Endpoint``; which
cloud it runs on is only the ``target`` fixture's parameter.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable, Sequence

from pytest_telescope.errors import ToolError
from pytest_telescope.process import Completed


@dataclass(frozen=True)
class TargetSpec:
    """What a test runs on: a cloud and the scenario's settings for it.

    The settings are kept as canonical JSON: hashable, and equal for equal
    settings, however nested, so that scenarios asking for the same target
    share it in a run.
    """

    cloud: str
    frozen: str = "{}"

    @classmethod
    def of(cls, cloud: str, settings: dict) -> "TargetSpec":
        return cls(cloud, json.dumps(settings, sort_keys=True, separators=(",", ":")))

    @property
    def settings(self) -> dict:
        return json.loads(self.frozen)

    @property
    def key(self) -> str:
        """A short name, stable across processes, for files, locks and namespaces."""
        if self.frozen == "{}":
            return self.cloud
        return f"{self.cloud}-{hashlib.sha256(self.frozen.encode()).hexdigest()[:8]}"

    def __str__(self) -> str:
        settings = ", ".join(f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in self.settings.items())
        return f"{self.cloud} ({settings})" if settings else self.cloud


@dataclass(frozen=True)
class Connection:
    """What a provider needs, besides a module's outputs, to reach a target."""

    run_id: str
    directory: Path  # the target's private state directory
    deletion_delay: timedelta
    deletion_due_time: str
    echo: Callable[[str], None] | None = None  # live output, shown with -v or -s
    say: Callable[[str], None] | None = None  # a progress line, always shown
    kubeconfig: str | None = None  # bring your own cluster: a path, or "" for $KUBECONFIG


class Background(ABC):
    """A command started on an endpoint that runs while the benchmark does."""

    argv: list[str]

    @abstractmethod
    def running(self) -> bool: ...

    @abstractmethod
    def output(self) -> str: ...


class Endpoint(ABC):
    """One host or pod of a target, in a role such as ``server`` or ``client``."""

    role: str
    address: str
    scratch_dir: str

    @abstractmethod
    def run(self, argv: Sequence[str], *, timeout: float | None = None, check: bool = True) -> Completed:
        """Run ``argv`` (an argument list, never a shell string) to completion."""

    @abstractmethod
    def start(self, argv: Sequence[str]) -> contextlib.AbstractContextManager[Background]:
        """Run ``argv`` in the background for the duration of a ``with`` block."""

    @abstractmethod
    def free_port(self) -> int:
        """A TCP port a server may listen on at this endpoint's address."""

    def listening_ports(self) -> set[int]:
        """TCP ports something listens on, as this endpoint sees them."""
        tables = self.run(["cat", "/proc/net/tcp", "/proc/net/tcp6"], check=False).stdout
        listening = set()
        for line in tables.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":  # 0A is TCP_LISTEN
                listening.add(int(fields[1].rsplit(":", 1)[1], 16))
        return listening

    def wait_listening(self, server: Background, port: int, timeout: float = 10.0) -> None:
        """Wait until ``server`` listens on ``port``; fail with its output if it died."""
        deadline = time.monotonic() + timeout
        while port not in self.listening_ports():
            if not server.running():
                raise ToolError(server.argv, "exited before it listened", server.output())
            if time.monotonic() > deadline:
                raise ToolError(server.argv, f"not listening on port {port} after {timeout:g} s", server.output())
            time.sleep(0.02)


@dataclass(frozen=True)
class MetricsSource:
    """A node-exporter a local Prometheus scrapes: a role of the target, and where its network counters live.

    ``netns`` None is the host's own network namespace. ``devices`` is a regex of
    the network devices to report (node-exporter's default, all but ``lo``, when empty).
    """

    role: str
    netns: str | None = None
    devices: str = ""


class Target(ABC):
    """What a benchmark runs on: named endpoints, and metadata for the results."""

    cloud: str

    @abstractmethod
    def endpoint(self, role: str) -> Endpoint: ...

    def endpoints(self, *roles: str) -> tuple[Endpoint, ...]:
        return tuple(self.endpoint(role) for role in roles)

    @abstractmethod
    def validate(self) -> None:
        """Raise ``ProvisionError`` unless the target is healthy enough to measure."""

    def fingerprint_endpoint(self) -> Endpoint | None:
        """The endpoint whose host explains the results (kernel, CPUs, sysctls); None where none can be asked."""
        return None

    def metrics_sources(self) -> list[MetricsSource]:
        """Exporters a local Prometheus must add for this target (a cluster has its own)."""
        return []

    @abstractmethod
    def describe(self) -> str:
        """One line for the terminal: what was provisioned."""

    @property
    @abstractmethod
    def metadata(self) -> dict:
        """What explains the results (mode, shaping, kernel...). Never a secret."""
