"""The embedded ``local`` target: two network namespaces joined by a veth pair.

The Terraform module ``pytest_telescope/terraform/local`` creates them (or,
without root, only directories, and both endpoints are this host's loopback).
An endpoint runs commands inside its namespace with ``ip netns exec``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Sequence

from pytest_telescope.errors import ProvisionError, ToolError
from pytest_telescope.process import OWN_GROUP, Completed, die_with_parent, free_loopback_port, require, run, stop
from pytest_telescope.targets import Background, Connection, Endpoint, MetricsSource, Target

MODULE = "local"


def mode() -> str:
    """``netns`` when we may create namespaces (root, iproute2), else ``loopback``."""
    return "netns" if os.geteuid() == 0 and shutil.which("ip") else "loopback"


def provisioned(settings: dict) -> dict:
    """Every setting of the local target (shaping) is applied by its module."""
    return settings


def variables(name: str, inputs: dict, connection: Connection) -> dict:
    """The module's inputs for a target called ``name`` with the scenario's settings."""
    return {**inputs, "name": name, "mode": mode(), "state_dir": str(connection.directory / "target")}


def connect(outputs: dict, settings: dict, connection: Connection) -> "LocalTarget":
    return LocalTarget(outputs, connection.echo)


class LocalProcess(Background):
    def __init__(self, argv: list[str], popen: subprocess.Popen, log):
        self.argv, self._popen, self._log = argv, popen, log

    def running(self) -> bool:
        return self._popen.poll() is None

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


class LocalEndpoint(Endpoint):
    def __init__(self, role: str, address: str, namespace: str | None, scratch_dir: str, echo: Callable[[str], None] | None):
        self.role, self.address, self.namespace, self.scratch_dir = role, address, namespace, scratch_dir
        self._echo = echo

    def _in_namespace(self, argv: Sequence[str]) -> list[str]:
        require(argv[0], "install it first (the README's setup command does)")
        return ["ip", "netns", "exec", self.namespace, *argv] if self.namespace else list(argv)

    def free_port(self) -> int:
        return free_loopback_port()

    def run(self, argv: Sequence[str], *, timeout: float | None = None, check: bool = True) -> Completed:
        completed = run(self._in_namespace(argv), timeout=timeout, check=False, echo=self._echo)
        if check and completed.returncode != 0:
            raise ToolError(list(argv), f"exited with status {completed.returncode} on {self.role}", completed.output)
        return completed

    @contextlib.contextmanager
    def start(self, argv: Sequence[str]) -> Iterator[LocalProcess]:
        with tempfile.TemporaryFile() as log:
            popen = subprocess.Popen(
                self._in_namespace(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
                **OWN_GROUP,
            )
            try:
                yield LocalProcess(list(argv), popen, log)
            finally:
                stop(popen)


class LocalTarget(Target):
    cloud = "local"

    def __init__(self, outputs: dict, echo: Callable[[str], None] | None = None):
        self.mode = outputs["mode"]
        self.status = json.loads(Path(outputs["status_file"]).read_text())
        self._endpoints = {
            role: LocalEndpoint(role, endpoint["address"], endpoint.get("namespace") or None, outputs["scratch_dir"], echo)
            for role, endpoint in outputs["endpoints"].items()
        }
        self._interfaces = {role: endpoint.get("interface") for role, endpoint in outputs["endpoints"].items()}

    def endpoint(self, role: str) -> LocalEndpoint:
        try:
            return self._endpoints[role]
        except KeyError:
            raise ProvisionError(f"the local target has no {role!r} endpoint (it has {', '.join(self._endpoints)})") from None

    def validate(self) -> None:
        for role, endpoint in self._endpoints.items():
            if self.mode == "netns":
                links = json.loads(endpoint.run(["ip", "-j", "link", "show", "dev", self._interfaces[role]]).stdout)
                state = links[0].get("operstate") if links else "missing"
                if state != "UP":
                    raise ProvisionError(f"local target: {role} interface {self._interfaces[role]} is {state}, not UP")
            if not Path(endpoint.scratch_dir).is_dir():
                raise ProvisionError(f"local target: scratch directory {endpoint.scratch_dir} is missing")

    def metrics_sources(self) -> list[MetricsSource]:
        if self.mode == "netns":
            return [MetricsSource(role, e.namespace) for role, e in self._endpoints.items()]
        return [MetricsSource("loopback", devices="^lo$")]  # node-exporter skips lo unless asked

    def describe(self) -> str:
        if self.mode == "loopback":
            return "loopback mode (namespaces need root): both endpoints are 127.0.0.1"
        endpoints = ", ".join(f"{role} {e.address} in {e.namespace}" for role, e in self._endpoints.items())
        notes = [f"rate {self.status['shaping']['rate_mbit']} Mbit/s"] if self.status.get("shaping", {}).get("applied") else []
        impairment = self.status.get("impairment", {})
        if impairment.get("requested") and not impairment.get("applied"):
            notes.append(f"delay/loss not applied: {impairment['reason']}")
        return "; ".join([endpoints, *notes])

    @property
    def metadata(self) -> dict:
        return {
            "cloud": self.cloud,
            "mode": self.mode,
            "endpoints": {role: {"address": e.address, "namespace": e.namespace} for role, e in self._endpoints.items()},
            "kernel": platform.release(),
            "cpus": os.cpu_count(),
            **{key: self.status[key] for key in ("shaping", "impairment") if key in self.status},
        }

    def fingerprint_endpoint(self) -> LocalEndpoint:
        return self._endpoints["server"]  # namespaces share the host's kernel, CPUs and memory
