"""Kubernetes targets: endpoints are pods of a cluster, commands run through the exec API.

A cluster comes from a Terraform module (``connect``: its outputs hold the
kubeconfig and the node pools) or already exists (``connect_existing``: a
kubeconfig path). Either way the target checks the nodes before any
benchmark (``validate``), creates one namespace per run and target, places
the ``server`` and ``client`` pods as the scenario asks, runs commands in
them with the Kubernetes Python client (never kubectl), and deletes the
namespace at teardown. ``PortForward`` reaches a service of the cluster (its
Prometheus) from 127.0.0.1, through the API server's portforward subresource.

Settings (a scenario's ``target.<cloud>``; all optional):
``placement`` (same-node, different-node, different-zone; default
different-node), ``host_network``, ``node_selector`` (every pod),
``node_selectors`` (role -> labels), ``tolerations``, ``storage`` (os-disk,
host-path, pvc), ``storage_class``, ``storage_size``, ``host_path``,
``image_registry``, ``images`` (tool -> image), ``node_pools`` (name ->
{count, labels}: expected nodes, for an existing cluster), ``ready_timeout``
and ``pod_ready_timeout`` (seconds).
"""

from __future__ import annotations

import contextlib
import getpass
import http.client
import json
import os
import re
import secrets
import selectors
import socket
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import yaml
from kubernetes import client
from kubernetes.config import kube_config
from kubernetes.stream import portforward, stream
from kubernetes.stream.ws_client import ERROR_CHANNEL, STDERR_CHANNEL, STDOUT_CHANNEL
from websocket import WebSocketException

from pytest_telescope.errors import ProvisionError, ToolError
from pytest_telescope.process import Completed
from pytest_telescope.targets import Background, Connection, Endpoint, Target, TargetSpec
from pytest_telescope.targets.kubernetes import manifests

Echo = Callable[[str], None]

ROLES = ("server", "client")
ANCHOR_ROLE = "server"  # the client is placed relative to the server
POOL_LABELS = {
    "aks": "kubernetes.azure.com/agentpool",
    "eks": "eks.amazonaws.com/nodegroup",
    "gke": "cloud.google.com/gke-nodepool",
}
# Taints a node carries while it starts, stops or is unhealthy: such a node is not ready for us.
LIFECYCLE_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
RECORD_FILE = "kubernetes.json"
REQUEST_TIMEOUT = 30  # seconds, for the calls of teardown: a silent API server must not hang the end of a run
KUBECONFIG_FILE = "kubeconfig"
FIRST_PORT = 5201
POD_PID_DIR = "/tmp"  # inside the container
STOP_SECONDS = 20  # the kill script waits up to 5 s for the pid file and 5 s after SIGTERM; plus a margin
PROMETHEUS_READY_PATH = "/-/ready"
FORWARD_CHECK_SECONDS = 30.0

# Runs argv (the arguments after the pid file) as itself, after writing its pid where we can find it.
PIDFILE_WRAPPER = 'pidfile=$1; shift; echo $$ > "$pidfile" && exec "$@"'
# Stops the process named by the pid file $1: SIGTERM, then SIGKILL after 5 s. Waits for the
# file first: a block that ends at once may get here before the wrapper wrote it.
KILL_SCRIPT = """
i=0; while [ ! -s "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
pid=$(cat "$1" 2>/dev/null) || exit 0
rm -f "$1"
kill "$pid" 2>/dev/null || exit 0
i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
kill -9 "$pid" 2>/dev/null
exit 0
"""


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterSettings:
    placement: str = "different-node"
    host_network: bool = False
    node_selector: Mapping[str, str] = field(default_factory=dict)
    node_selectors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    tolerations: Sequence[Mapping] = ()
    storage: str = "os-disk"
    storage_class: str | None = None
    storage_size: str = "10Gi"
    host_path: str = "/mnt/telescope"
    image_registry: str | None = None
    images: Mapping[str, str] = field(default_factory=dict)
    node_pools: Mapping[str, Mapping] = field(default_factory=dict)
    ready_timeout: float = 900.0
    pod_ready_timeout: float = 300.0

    @classmethod
    def of(cls, settings: Mapping) -> "ClusterSettings":
        known = cls.__dataclass_fields__
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise ProvisionError(f"target settings: {unknown[0]}: unknown key (known: {', '.join(known)})")
        for key, value in settings.items():
            expected = _SETTING_TYPES[key]
            if not isinstance(value, expected) or (isinstance(value, bool) and bool not in _as_tuple(expected)):
                raise ProvisionError(f"target settings: {key}: {value!r} is not {_type_names(expected)}")
        found = cls(**settings)
        if found.placement not in manifests.PLACEMENTS:
            raise ProvisionError(f"target settings: placement: {found.placement!r} is not one of {', '.join(manifests.PLACEMENTS)}")
        if found.storage not in manifests.STORAGE_KINDS:
            raise ProvisionError(f"target settings: storage: {found.storage!r} is not one of {', '.join(manifests.STORAGE_KINDS)}")
        for role in found.node_selectors:
            if role not in ROLES:
                raise ProvisionError(f"target settings: node_selectors.{role}: not a role (roles: {', '.join(ROLES)})")
        for tool in found.images:
            if tool not in manifests.DEFAULT_IMAGES:
                raise ProvisionError(f"target settings: images.{tool}: not a tool (tools: {', '.join(manifests.DEFAULT_IMAGES)})")
        return found

    def selector(self, role: str) -> dict[str, str]:
        return {**self.node_selector, **self.node_selectors.get(role, {})}

    def images_by_tool(self) -> dict[str, str]:
        return {tool: manifests.image(tool, self.image_registry, dict(self.images)) for tool in manifests.DEFAULT_IMAGES}


_SETTING_TYPES: dict[str, type | tuple[type, ...]] = {
    "placement": str,
    "host_network": bool,
    "node_selector": dict,
    "node_selectors": dict,
    "tolerations": list,
    "storage": str,
    "storage_class": str,
    "storage_size": str,
    "host_path": str,
    "image_registry": str,
    "images": dict,
    "node_pools": dict,
    "ready_timeout": (int, float),
    "pod_ready_timeout": (int, float),
}


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _type_names(types: type | tuple[type, ...]) -> str:
    names = {"str": "a string", "bool": "true or false", "dict": "a mapping", "list": "a list", "int": "a number", "float": "a number"}
    return " or ".join(dict.fromkeys(names[t.__name__] for t in _as_tuple(types)))


# --- nodes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeState:
    """What validation needs to know of one node."""

    name: str
    labels: Mapping[str, str]
    ready: bool
    cordoned: bool
    taints: tuple[Mapping[str, str], ...]
    conditions: tuple[str, ...]  # the ones that explain a node that is not ready
    info: Mapping[str, str]

    @classmethod
    def of(cls, node) -> "NodeState":
        status, spec = node.status, node.spec
        ready, explained = False, []
        for condition in (status.conditions if status else None) or []:
            reason = f" ({condition.reason}: {condition.message})" if condition.reason or condition.message else ""
            if condition.type == "Ready":
                ready = condition.status == "True"
                if not ready:
                    explained.append(f"Ready={condition.status}{reason}")
            elif condition.type in PRESSURE_CONDITIONS and condition.status == "True":
                explained.append(f"{condition.type}=True{reason}")
        node_info = status.node_info if status else None
        return cls(
            name=node.metadata.name,
            labels=dict(node.metadata.labels or {}),
            ready=ready,
            cordoned=bool(spec and spec.unschedulable),
            taints=tuple(
                {"key": t.key, "value": t.value or "", "effect": t.effect} for t in (spec.taints if spec else None) or []
            ),
            conditions=tuple(explained),
            info={
                "os_image": node_info.os_image,
                "kernel": node_info.kernel_version,
                "kubelet": node_info.kubelet_version,
                "container_runtime": node_info.container_runtime_version,
            }
            if node_info
            else {},
        )

    @property
    def zone(self) -> str | None:
        return self.labels.get(manifests.ZONE_TOPOLOGY)

    @property
    def usable(self) -> bool:
        """Ready, not cordoned, and not tainted by its own lifecycle (starting, unreachable...)."""
        lifecycle = any(t["key"].startswith(LIFECYCLE_TAINT_PREFIXES) for t in self.taints)
        return self.ready and not self.cordoned and not lifecycle

    def matches(self, selector: Mapping[str, str]) -> bool:
        return all(self.labels.get(key) == value for key, value in selector.items())

    def tolerates_taints(self, tolerations: Sequence[Mapping]) -> bool:
        return all(
            any(_tolerates(toleration, taint) for toleration in tolerations)
            for taint in self.taints
            if taint["effect"] in ("NoSchedule", "NoExecute")
        )

    def describe(self) -> str:
        parts = list(self.conditions) or ([] if self.ready else ["Ready condition missing"])
        if self.cordoned:
            parts.append("cordoned (unschedulable)")
        if self.taints:
            parts.append("taints " + ", ".join(_taint(t) for t in self.taints))
        return f"{self.name}: {'; '.join(parts) or 'Ready'}"


def _tolerates(toleration: Mapping, taint: Mapping) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if toleration.get("operator") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint["key"]
    return toleration.get("key") == taint["key"] and (toleration.get("value") or "") == taint["value"]


def _taint(taint: Mapping) -> str:
    value = f"={taint['value']}" if taint["value"] else ""
    return f"{taint['key']}{value}:{taint['effect']}"


def _selector_text(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in selector.items()) or "any node"


def pool_selector(name: str, pool: Mapping, pool_label: str | None) -> dict[str, str]:
    """The labels that every node of pool ``name`` carries."""
    return {**({pool_label: name} if pool_label else {}), **(pool.get("labels") or {})}


def check_nodes(
    nodes: Sequence[NodeState], pools: Mapping[str, Mapping], pool_label: str | None, settings: ClusterSettings
) -> list[str]:
    """Why the cluster cannot take the benchmark yet; empty when it can.

    Every node pool has at least its ``count`` of usable nodes, and the
    server and client pods each have a usable node, placed as asked.
    """
    problems = []
    for name, pool in pools.items():
        selector = pool_selector(name, pool, pool_label)
        if not selector:
            problems.append(f"node pool {name}: no labels to find its nodes by (give it labels)")
            continue
        usable = sum(1 for node in nodes if node.usable and node.matches(selector))
        if usable < pool["count"]:
            problems.append(
                f"node pool {name}: {usable} of {pool['count']} nodes Ready and schedulable ({_selector_text(selector)})"
            )
    candidates = {
        role: [
            n for n in nodes
            if n.usable and n.matches(settings.selector(role)) and n.tolerates_taints(settings.tolerations)
        ]
        for role in ROLES
    }
    for role, found in candidates.items():
        if not found:
            problems.append(
                f"no Ready, schedulable node for the {role} pod "
                f"(nodeSelector {_selector_text(settings.selector(role))}; taints not tolerated count too)"
            )
    if not problems:
        problem = _placement_problem(settings.placement, candidates["server"], candidates["client"])
        if problem:
            problems.append(f"placement {settings.placement}: {problem}")
    return problems


def _placement_problem(placement: str, servers: Sequence[NodeState], clients: Sequence[NodeState]) -> str | None:
    if placement == "same-node":
        if not {n.name for n in servers} & {n.name for n in clients}:
            return "no node can take both the server and the client pod"
    elif placement == "different-node":
        if not any(s.name != c.name for s in servers for c in clients):
            return f"needs two nodes, and only {servers[0].name} can take the pods"
    elif not any(s.zone and c.zone and s.zone != c.zone for s in servers for c in clients):
        zones = sorted({n.zone or "no zone label" for n in [*servers, *clients]})
        return f"needs nodes in two zones ({manifests.ZONE_TOPOLOGY}); the usable nodes are in: {', '.join(zones)}"
    return None


def not_ready_report(what: str, timeout: float, problems: Sequence[str], nodes: Sequence[NodeState], limit: int = 20) -> str:
    lines = [f"{what}: not ready for benchmarks after {timeout:g} s:", *("  " + p for p in problems)]
    unusable = [n for n in nodes if not n.usable]
    if unusable:
        lines.append("nodes not ready or not schedulable:")
        lines += ["  " + n.describe() for n in unusable[:limit]]
        if len(unusable) > limit:
            lines.append(f"  and {len(unusable) - limit} more")
    return "\n".join(lines)


# --- exec ------------------------------------------------------------------------------------


class ExecStream:
    """Output and exit status of one exec connection, read as it comes."""

    def __init__(self, connection, echo: Echo | None = None):
        self.connection = connection
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.merged: list[str] = []
        self._echo = echo
        self._partial = ""

    def pump(self, wait: float) -> bool:
        """Read what arrives within ``wait`` seconds; False once the command has ended."""
        if self.connection.is_open():
            try:
                self.connection.update(timeout=wait)
            except (WebSocketException, OSError):
                self.connection.close()  # the connection dropped: returncode() then says so
        for channel, sink in ((STDOUT_CHANNEL, self.stdout), (STDERR_CHANNEL, self.stderr)):
            data = self.connection.read_channel(channel)
            if data:
                sink.append(data)
                self.merged.append(data)
                self._show(data)
        return self.connection.is_open()

    def _show(self, data: str) -> None:
        if self._echo:
            *lines, self._partial = (self._partial + data).split("\n")
            for line in lines:
                self._echo(line)

    def finish(self, timeout: float | None) -> bool:
        """Read until the command ends; False if ``timeout`` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pump(wait=1.0):
            if deadline is not None and time.monotonic() > deadline:
                return False
        if self._echo and self._partial:
            self._echo(self._partial)
        return True

    def returncode(self) -> int:
        """The exit status, from the error channel: a ``metav1.Status`` the API server sends last."""
        text = self.connection.read_channel(ERROR_CHANNEL)
        if not text.strip():
            raise ExecFailed("the exec stream closed without an exit status")
        try:
            status = json.loads(text)
        except ValueError:
            raise ExecFailed(_first_line(text)) from None
        if status.get("status") == "Success":
            return 0
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                return int(cause["message"])
        raise ExecFailed(status.get("message") or text)


class ExecFailed(Exception):
    """The command could not run at all (no exit status of its own)."""


class PodExec:
    """The exec subresource of pods: the one place that streams commands into them."""

    def __init__(self, core: client.CoreV1Api):
        self.core = core

    def open(self, namespace: str, pod: str, container: str, argv: Sequence[str]):
        try:
            return stream(
                self.core.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                command=list(argv),
                container=container,
                stdin=False,
                stdout=True,
                stderr=True,
                tty=False,
                _preload_content=False,
            )
        except client.ApiException as error:
            raise ExecFailed(api_error_text(error)) from None

    def run(
        self,
        namespace: str,
        pod: str,
        container: str,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        echo: Echo | None = None,
        on_timeout: Callable[[], None] | None = None,
    ) -> tuple[int | None, str, str]:
        """(returncode, stdout, stderr); returncode is None if ``timeout`` passed first.

        Then ``on_timeout`` stops the command, and its last output is read before the stream closes.
        """
        connection = self.open(namespace, pod, container, argv)
        try:
            output = ExecStream(connection, echo)
            finished = output.finish(timeout)
            if not finished and on_timeout:
                on_timeout()
                output.finish(STOP_SECONDS)
            returncode = output.returncode() if finished else None
            return returncode, "".join(output.stdout), "".join(output.stderr)
        finally:
            connection.close()


class PodProcess(Background):
    def __init__(self, argv: list[str], output: ExecStream):
        self.argv = argv
        self.output_stream = output

    def running(self) -> bool:
        return self.output_stream.pump(wait=0)

    def output(self) -> str:
        self.output_stream.pump(wait=0)
        return "".join(self.output_stream.merged)


class PodEndpoint(Endpoint):
    """A pod of the run: commands run in the container named after their program."""

    def __init__(
        self,
        role: str,
        namespace: str,
        pod: str,
        address: str,
        node: str,
        containers: Sequence[str],
        pod_exec: PodExec,
        echo: Echo | None = None,
        pid_dir: str = POD_PID_DIR,
    ):
        self.role, self.namespace, self.pod, self.address, self.node = role, namespace, pod, address, node
        self.scratch_dir = manifests.SCRATCH_DIR
        self.containers = list(containers)
        self._exec = pod_exec
        self._echo = echo
        self._pid_dir = pid_dir
        self._ports_given: set[int] = set()

    def _pidfile(self) -> str:
        return f"{self._pid_dir}/telescope-{secrets.token_hex(6)}.pid"

    def _wrapped(self, pidfile: str, argv: Sequence[str]) -> list[str]:
        # argv stays a list of arguments: the shell receives it as "$@", never as text to parse.
        return ["sh", "-c", PIDFILE_WRAPPER, "sh", pidfile, *argv]

    def _exec_run(
        self, container: str, argv: list[str], shown: list[str], timeout: float | None, on_timeout: Callable[[], None] | None = None
    ) -> tuple[int | None, str, str]:
        try:
            return self._exec.run(
                self.namespace, self.pod, container, argv, timeout=timeout, echo=self._echo, on_timeout=on_timeout
            )
        except ExecFailed as error:
            raise ToolError(shown, f"could not run in pod {self.namespace}/{self.pod}, container {container}: {error}") from None

    def free_port(self) -> int:
        taken = self.listening_ports() | self._ports_given
        port = next(p for p in range(FIRST_PORT, 65536) if p not in taken)
        self._ports_given.add(port)
        return port

    def run(self, argv: Sequence[str], *, timeout: float | None = None, check: bool = True) -> Completed:
        argv = list(argv)
        container = manifests.container_for(argv, self.containers)
        pidfile = self._pidfile()
        wrapped = self._wrapped(pidfile, argv)
        returncode, stdout, stderr = self._exec_run(container, wrapped, argv, timeout, lambda: self._kill(container, pidfile))
        if returncode is None:
            raise ToolError(argv, f"did not finish within {timeout:g} s on {self.role}", stderr + stdout)
        completed = Completed(argv, returncode, stdout, stderr)
        if check and returncode != 0:
            raise ToolError(argv, f"exited with status {returncode} on {self.role}", completed.output)
        return completed

    @contextlib.contextmanager
    def start(self, argv: Sequence[str]) -> Iterator[PodProcess]:
        argv = list(argv)
        container = manifests.container_for(argv, self.containers)
        pidfile = self._pidfile()
        try:
            connection = self._exec.open(self.namespace, self.pod, container, self._wrapped(pidfile, argv))
        except ExecFailed as error:
            raise ToolError(argv, f"could not start in pod {self.namespace}/{self.pod}: {error}") from None
        process = PodProcess(argv, ExecStream(connection, self._echo))
        try:
            yield process
        finally:
            try:
                # Closing the stream does not stop the command in the pod: kill it by its pid.
                if process.running():
                    self._kill(container, pidfile)
                    process.output_stream.finish(STOP_SECONDS)
            finally:
                connection.close()

    def _kill(self, container: str, pidfile: str) -> None:
        kill = ["sh", "-c", KILL_SCRIPT, "sh", pidfile]
        self._exec_run(container, kill, ["kill", pidfile], timeout=STOP_SECONDS)


# --- port-forward ----------------------------------------------------------------------------


class PortForward:
    """``http://127.0.0.1:<local_port>`` forwarded to a port of a Running, Ready pod behind a service.

    The pod is chosen once, from the service's selector; the service's
    ``targetPort`` (a number, or the name of a container port) is the pod's
    port. A thread accepts connections on 127.0.0.1, and each connection opens
    its own portforward stream: the API server carries one TCP connection per
    stream and ends the stream when that connection ends. ``error`` is the
    last failure a stream reported (the API server's refusal, or the pod's
    port refusing the connection). ``close`` stops accepting and ends every
    connection.
    """

    def __init__(self, api_client: client.ApiClient, namespace: str, service: str, port: int):
        # The client's portforward() swaps its ApiClient's call_api while a stream opens: on a client of
        # its own, the target's calls on other threads are never sent as websockets. Streams open one at
        # a time for the same reason.
        self._api_client = client.ApiClient(api_client.configuration)
        self.core = client.CoreV1Api(self._api_client)
        self.namespace, self.service, self.port = namespace, service, port
        self.error: str | None = None
        try:
            self.pod, self.target_port = self._resolve()
        except ProvisionError:
            self._api_client.close()
            raise
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.local_port = self._listener.getsockname()[1]
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._opening = threading.Lock()
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept, name=self.what, daemon=True)
        self._acceptor.start()

    @property
    def what(self) -> str:
        return f"port-forward to service {self.namespace}/{self.service}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.local_port}"

    def _resolve(self) -> tuple[str, int]:
        """The pod to forward to and its port."""
        service = self._read(self.core.read_namespaced_service, self.service, self.namespace)
        ports = service.spec.ports or []
        service_port = next((p for p in ports if p.port == self.port), None)
        if service_port is None:
            known = ", ".join(str(p.port) for p in ports) or "none"
            raise ProvisionError(f"{self.what}: the service has no port {self.port} (its ports: {known})")
        if not service.spec.selector:
            raise ProvisionError(f"{self.what}: the service has no selector, so no pod to forward to")
        selector = ",".join(f"{key}={value}" for key, value in service.spec.selector.items())
        pods = self._read(self.core.list_namespaced_pod, self.namespace, label_selector=selector).items
        serving = sorted((pod for pod in pods if _serving(pod)), key=lambda pod: pod.metadata.name)
        if not serving:
            states = ", ".join(f"{pod.metadata.name} {_pod_state(pod)}" for pod in pods) or "none"
            raise ProvisionError(f"{self.what}: no Running, Ready pod with {selector} (pods: {states})")
        pod = serving[0]
        return pod.metadata.name, self._pod_port(pod, service_port.target_port or self.port)

    def _read(self, call, *args, **kwargs):
        return call_api(self.what, call, *args, **kwargs)

    def _pod_port(self, pod, target_port: int | str) -> int:
        if isinstance(target_port, int):
            return target_port
        for container in pod.spec.containers:
            for container_port in container.ports or []:
                if container_port.name == target_port:
                    return container_port.container_port
        raise ProvisionError(f"{self.what}: pod {pod.metadata.name} has no container port named {target_port}")

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._closed:
                    connection.close()
                    return
                self._connections.add(connection)
            threading.Thread(target=self._serve, args=(connection,), name=self.what, daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            try:
                with self._opening:
                    forward = portforward(
                        self.core.connect_get_namespaced_pod_portforward, self.pod, self.namespace, ports=str(self.target_port)
                    )
            except client.ApiException as error:
                self.error = _handshake_error(error)
                return
            try:
                _pump(connection, forward.socket(self.target_port))
            finally:
                self.error = forward.error(self.target_port) or self.error
                forward.close()
        finally:
            # After the error is recorded: whoever sees this connection end may then read it.
            with self._lock:
                self._connections.discard(connection)
            connection.close()

    def check(self, path: str, timeout: float = FORWARD_CHECK_SECONDS) -> None:
        """An HTTP GET of ``path`` through the forward answers 2xx; else ``ProvisionError`` saying why."""
        where = f"{self.what} (pod {self.pod}, port {self.target_port})"
        request = http.client.HTTPConnection("127.0.0.1", self.local_port, timeout=timeout)
        try:
            request.request("GET", path)
            response = request.getresponse()
            body = response.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as error:
            raise ProvisionError(f"{where}: {self.error or _first_line(error)}") from None
        finally:
            request.close()
        if not 200 <= response.status < 300:
            answer = f": {_first_line(body)}" if body.strip() else ""
            raise ProvisionError(f"{where}: GET {path} answered {response.status} {response.reason}{answer}")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections = list(self._connections)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept
        self._listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # its thread then closes its stream
        self._acceptor.join()
        self._api_client.close()


def _serving(pod) -> bool:
    status = pod.status
    ready = any(c.type == "Ready" and c.status == "True" for c in (status.conditions or [])) if status else False
    return bool(status and status.phase == "Running" and ready and pod.metadata.deletion_timestamp is None)


def _pod_state(pod) -> str:
    if pod.metadata.deletion_timestamp is not None:
        return "Terminating"
    phase = pod.status.phase if pod.status else None
    return f"{phase} (not Ready)" if phase == "Running" else phase or "Unknown"


def _handshake_error(error: client.ApiException) -> str:
    """The status and the API server's message of a refused websocket upgrade, without its headers."""
    # websocket-client joins the status line, the headers and the body with " -+-+- "
    status, *rest = (error.reason or "").split(" -+-+- ")
    try:
        message = json.loads(rest[-1]).get("message", "")
    except (IndexError, ValueError, AttributeError):
        message = ""
    return f"{status}: {message}" if message else _first_line(status)


def _pump(local: socket.socket, forwarded) -> None:
    """Copy bytes both ways until either side ends or fails."""
    peers = {local: forwarded, forwarded: local}
    with selectors.DefaultSelector() as selector:
        for side in peers:
            selector.register(side, selectors.EVENT_READ)
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    peers[key.fileobj].sendall(data)
        except OSError:
            return


# --- the target ------------------------------------------------------------------------------


class Waiting:
    """A wait of up to ``timeout`` seconds that tells ``say`` how it goes every ``HEARTBEAT_SECONDS``:
    nodes can take many minutes to become ready, and the terminal must not stay silent."""

    HEARTBEAT_SECONDS = 30.0

    def __init__(self, timeout: float, say: Echo | None):
        self.started = time.monotonic()
        self.timeout = timeout
        self._say = say
        self._next = self.started + self.HEARTBEAT_SECONDS

    @property
    def over(self) -> bool:
        return time.monotonic() - self.started >= self.timeout

    def tell(self, text: str) -> None:
        now = time.monotonic()
        if self._say and now >= self._next:
            self._say(f"{text} ({now - self.started:.0f} s of {self.timeout:g} s)")
            self._next = now + self.HEARTBEAT_SECONDS


class KubernetesTarget(Target):
    def __init__(
        self,
        api_client: client.ApiClient,
        cloud: str,
        settings: Mapping,
        run_id: str,
        *,
        kubeconfig: str,
        node_pools: Mapping[str, Mapping] | None = None,
        deletion_due_time: str | None = None,
        echo: Echo | None = None,
        say: Echo | None = None,
        poll_interval: float = 5.0,
        pid_dir: str = POD_PID_DIR,
    ):
        self.cloud = cloud
        self.kubeconfig = kubeconfig
        self.settings = ClusterSettings.of(settings)
        self.run_id = run_id
        self.namespace = manifests.namespace_name(run_id, TargetSpec.of(cloud, dict(settings)).key)
        self.node_pools = dict(node_pools if node_pools is not None else self.settings.node_pools)
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.pod_exec = PodExec(self.core)
        self._deletion_due_time = deletion_due_time
        self._echo = echo
        self._say = say
        self._poll_interval = poll_interval
        self._pid_dir = pid_dir
        self._endpoints: dict[str, PodEndpoint] = {}
        self._nodes: list[NodeState] | None = None
        self._version: str | None = None
        self._namespace_ready = False
        self._forwards: dict[tuple[str, str, int], PortForward] = {}
        # At teardown, or when the target is collected or the process ends.
        self._close_forwards = weakref.finalize(self, _close_all, self._forwards)

    def _api(self, what: str, call, *args, **kwargs):
        return call_api(f"{self.cloud} cluster: {what}", call, *args, context=f" (kubeconfig {self.kubeconfig})", **kwargs)

    def nodes(self) -> list[NodeState]:
        return [NodeState.of(node) for node in self._api("list nodes", self.core.list_node).items]

    @property
    def version(self) -> str:
        if self._version is None:
            self._version = self._api("read the version", client.VersionApi(self.api_client).get_code).git_version
        return self._version

    def validate(self) -> None:
        self.version  # fails first, and plainly, when the API server cannot be reached
        waiting = Waiting(self.settings.ready_timeout, self._say)
        while True:
            nodes = self.nodes()
            problems = check_nodes(nodes, self.node_pools, POOL_LABELS.get(self.cloud), self.settings)
            if not problems:
                self._nodes = nodes
                return
            if waiting.over:
                raise ProvisionError(not_ready_report(f"{self.cloud} cluster", self.settings.ready_timeout, problems, nodes))
            if self._echo:
                self._echo(f"waiting for nodes: {problems[0]}")
            waiting.tell(f"{self.cloud} cluster: waiting for nodes: {problems[0]}")
            time.sleep(self._poll_interval)

    def endpoint(self, role: str) -> PodEndpoint:
        if role not in ROLES:
            raise ProvisionError(f"the {self.cloud} target has no {role!r} endpoint (it has {', '.join(ROLES)})")
        if role not in self._endpoints:
            if role != ANCHOR_ROLE and self.settings.placement == "same-node":
                self.endpoint(ANCHOR_ROLE)  # a required pod affinity needs its peer to exist
            self._endpoints[role] = self._create_endpoint(role)
        return self._endpoints[role]

    def _create(self, what: str, call, *args, **kwargs) -> None:
        """Create an object; one that exists already (made by another worker of the run) is taken as is."""
        try:
            call(*args, **kwargs)
        except client.ApiException as error:
            if error.status != 409:
                raise ProvisionError(f"{self.cloud} cluster: {what}: {api_error_text(error)}") from None

    def _ensure_namespace(self) -> None:
        if not self._namespace_ready:
            body = manifests.namespace(self.namespace, self.run_id, self._deletion_due_time)
            self._create(f"create namespace {self.namespace}", self.core.create_namespace, body)
            self._namespace_ready = True

    def pod_manifest(self, role: str) -> dict:
        settings = self.settings
        claim = f"scratch-{role}"
        volume = manifests.scratch_volume(settings.storage, claim_name=claim, host_path=settings.host_path)
        peer_rule = manifests.affinity(settings.placement, ANCHOR_ROLE, self.run_id) if role != ANCHOR_ROLE else None
        return manifests.pod(
            role,
            self.run_id,
            settings.images_by_tool(),
            volume,
            node_selector=settings.selector(role),
            tolerations=settings.tolerations,
            affinity=peer_rule,
            host_network=settings.host_network,
        )

    def _create_endpoint(self, role: str) -> PodEndpoint:
        self._ensure_namespace()
        if self.settings.storage == "pvc":
            claim = manifests.persistent_volume_claim(
                f"scratch-{role}", self.run_id, role, self.settings.storage_class, self.settings.storage_size
            )
            self._create(f"create PVC scratch-{role}", self.core.create_namespaced_persistent_volume_claim, self.namespace, claim)
        manifest = self.pod_manifest(role)
        self._create(f"create pod {self.namespace}/{role}", self.core.create_namespaced_pod, self.namespace, manifest)
        pod = self._wait_running(role)
        containers = [c["name"] for c in manifest["spec"]["containers"]]
        return PodEndpoint(
            role, self.namespace, role, pod.status.pod_ip, pod.spec.node_name, containers, self.pod_exec, self._echo, self._pid_dir
        )

    def _wait_running(self, name: str):
        waiting = Waiting(self.settings.pod_ready_timeout, self._say)
        while True:
            pod = self._api(f"read pod {self.namespace}/{name}", self.core.read_namespaced_pod, name, self.namespace)
            phase = pod.status.phase if pod.status else None
            ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or [])) if pod.status else False
            if phase == "Running" and ready and pod.status.pod_ip:
                return pod
            if phase in ("Failed", "Succeeded"):
                raise ProvisionError(f"pod {self.namespace}/{name} ended ({phase}) before any benchmark: {describe_pod(pod)}")
            if waiting.over:
                raise ProvisionError(
                    f"pod {self.namespace}/{name} not running after {self.settings.pod_ready_timeout:g} s: {describe_pod(pod)}"
                )
            waiting.tell(f"pod {self.namespace}/{name}: {describe_pod(pod)}")
            time.sleep(self._poll_interval)

    def prometheus_url(self, namespace: str, service: str, port: int) -> str:
        """The URL, on 127.0.0.1, of the cluster's Prometheus behind ``namespace/service:port``.

        The forward is opened on first use, once Prometheus answers through it
        that it is ready; ``ProvisionError`` names the service otherwise.
        """
        key = (namespace, service, port)
        if key not in self._forwards:
            forward = PortForward(self.api_client, namespace, service, port)
            try:
                forward.check(PROMETHEUS_READY_PATH)
            except ProvisionError:
                forward.close()
                raise
            self._forwards[key] = forward
        return self._forwards[key].url

    def teardown(self) -> None:
        """Close the port-forwards; delete the run's namespace, and with it every pod and claim of the run."""
        self._close_forwards()
        delete_namespace(self.core, self.namespace)

    def describe(self) -> str:
        nodes = self._nodes if self._nodes is not None else self.nodes()
        ready = sum(1 for n in nodes if n.usable)
        storage = self.settings.storage + (f" ({self.settings.storage_class})" if self.settings.storage == "pvc" else "")
        network = ", hostNetwork" if self.settings.host_network else ""
        return (
            f"Kubernetes {self.version}, {ready} of {len(nodes)} nodes ready; namespace {self.namespace}; "
            f"placement {self.settings.placement}{network}; storage {storage}"
        )

    @property
    def metadata(self) -> dict:
        """Versions and placement: read from explicit fields only, never from the kubeconfig."""
        if self._nodes is None:
            self._nodes = self.nodes()
        by_name = {n.name: n for n in self._nodes}
        endpoints = {}
        for role, endpoint in self._endpoints.items():
            node = by_name.get(endpoint.node)
            endpoints[role] = {
                "pod": endpoint.pod,
                "address": endpoint.address,
                "node": endpoint.node,
                "zone": node.zone if node else None,
                **(dict(node.info) if node else {}),
            }
        settings = self.settings
        return {
            "cloud": self.cloud,
            "kubernetes_version": self.version,
            "namespace": self.namespace,
            "placement": settings.placement,
            "host_network": settings.host_network,
            "storage": {
                "kind": settings.storage,
                **({"storage_class": settings.storage_class, "size": settings.storage_size} if settings.storage == "pvc" else {}),
                **({"host_path": settings.host_path} if settings.storage == "host-path" else {}),
            },
            "images": settings.images_by_tool(),
            "nodes": {
                "count": len(self._nodes),
                **{key: sorted({n.info[key] for n in self._nodes if n.info.get(key)}) for key in _NODE_INFO_KEYS},
            },
            "endpoints": endpoints,
        }


_NODE_INFO_KEYS = ("os_image", "kernel", "kubelet", "container_runtime")


def _close_all(forwards: dict[tuple[str, str, int], PortForward]) -> None:
    for forward in forwards.values():
        forward.close()
    forwards.clear()


def describe_pod(pod) -> str:
    """Why a pod is not running: its phase, scheduling and container states."""
    status = pod.status
    if status is None:
        return "no status yet"
    parts = [f"phase {status.phase}"]
    for condition in status.conditions or []:
        if condition.status != "True" and condition.message:
            parts.append(f"{condition.type}: {condition.reason}: {condition.message}")
    for container in status.container_statuses or []:
        state = container.state
        waiting = state.waiting if state else None
        terminated = state.terminated if state else None
        if waiting and waiting.reason:
            parts.append(f"container {container.name} {waiting.reason}: {waiting.message or ''}".rstrip(": "))
        if terminated:
            parts.append(f"container {container.name} exited {terminated.exit_code} ({terminated.reason})")
    return "; ".join(parts)


def call_api(what: str, call, *args, context: str = "", **kwargs):
    """``call(*args, **kwargs)``; an API error, or a server that cannot be reached, as one line about ``what``."""
    try:
        return call(*args, **kwargs)
    except client.ApiException as error:
        raise ProvisionError(f"{what}: {api_error_text(error)}") from None
    except Exception as error:  # urllib3 and exec-plugin failures: unreachable server, no credentials
        raise ProvisionError(f"{what}: {request_failure(error)}{context}") from None


def api_error_text(error: client.ApiException) -> str:
    """Status, reason and the server's message: never the response headers."""
    message = ""
    if error.body:
        try:
            message = json.loads(error.body).get("message", "")
        except (ValueError, AttributeError):
            message = _first_line(error.body)
    text = f"{error.status} {error.reason}" if error.status else _first_line(error.reason or "")
    return f"{text}: {message}" if message else text


def request_failure(error: Exception) -> str:
    """Why a request failed: the system's reason when it could not connect (refused, no such host), else the first line."""
    found = re.search(r"\[Errno -?\d+\] ([^'\"]+)", str(error))
    return found.group(1).rstrip(": ") if found else _first_line(error)


def _first_line(error: object, limit: int = 300) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:limit]


def delete_namespace(core: client.CoreV1Api, namespace: str) -> None:
    try:
        core.delete_namespace(namespace, propagation_policy="Background", _request_timeout=REQUEST_TIMEOUT)
    except client.ApiException as error:
        if error.status != 404:
            raise ProvisionError(f"delete namespace {namespace}: {api_error_text(error)}") from None
    except Exception as error:  # urllib3: an unreachable or silent API server
        raise ProvisionError(f"delete namespace {namespace}: {request_failure(error)}") from None


def delete_virtual_nodes(core: client.CoreV1Api, run_id: str) -> None:
    """The kwok nodes of the run: cluster-scoped, so a namespace's deletion leaves them behind."""
    selector = f"{manifests.RUN_LABEL}={manifests.label_value(run_id)},type=kwok"
    what = f"delete the run's kwok nodes ({selector})"
    call_api(what, core.delete_collection_node, label_selector=selector, _request_timeout=REQUEST_TIMEOUT)


# --- connecting ------------------------------------------------------------------------------


def load_client(kubeconfig: Path, context: str | None = None) -> client.ApiClient:
    """An API client for ``kubeconfig``. Errors name the file, never show its content."""
    try:
        return kube_config.new_client_from_config(config_file=str(kubeconfig), context=context, persist_config=False)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ProvisionError(f"kubeconfig {kubeconfig}: not valid YAML{where}") from None
    except Exception as error:  # ConfigException, OSError, and whatever a malformed file raises inside the loader
        raise ProvisionError(f"kubeconfig {kubeconfig}: cannot load it: {_first_line(error, 200)}") from None


def write_private(path: Path, content: str) -> None:
    """Write ``content`` readable by us only: the file 0600 in a 0700 directory."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    # Through a new file renamed over the old: another process may be reading it (a tool of another worker).
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    os.replace(partial, path)


def resolve_kubeconfig(given: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The kubeconfig file to use: ``given``, else $KUBECONFIG, else ~/.kube/config."""
    if given:
        path, source = Path(given).expanduser(), "--telescope-kubeconfig"
    elif environ.get("KUBECONFIG"):
        paths = [p for p in environ["KUBECONFIG"].split(os.pathsep) if p]
        if len(paths) > 1:
            raise ProvisionError("KUBECONFIG lists several files: pass the one to use with --telescope-kubeconfig PATH")
        path, source = Path(paths[0]).expanduser(), "KUBECONFIG"
    else:
        path, source = Path("~/.kube/config").expanduser(), "the default location"
    if not path.is_file():
        raise ProvisionError(f"kubeconfig {path} (from {source}): no such file")
    return path.resolve()


def _record(directory: Path, kubeconfig: Path, run_id: str, namespace: str, context: str | None) -> None:
    """What teardown needs in another process (the xdist controller): no secret, only the path.

    Scenarios that share a cluster each have their namespace: the record lists them all.
    """
    record_file = directory / RECORD_FILE
    namespaces = json.loads(record_file.read_text())["namespaces"] if record_file.exists() else []
    record = {
        "kubeconfig": str(kubeconfig), "context": context, "run_id": run_id, "namespaces": sorted({*namespaces, namespace})
    }
    write_private(record_file, json.dumps(record))


def connect(
    outputs: dict,
    echo: Echo | None = None,
    say: Echo | None = None,
    *,
    cloud: str,
    settings: Mapping,
    run_id: str,
    directory: Path,
    deletion_due_time: str | None = None,
) -> KubernetesTarget:
    """A cluster a Terraform module made: ``outputs`` holds ``kubeconfig`` (its content) and ``node_pools``.

    The kubeconfig is written to ``directory/kubeconfig`` (0600; the
    directory 0700), whose path tools such as clusterloader2 take.
    """
    if not isinstance(outputs.get("kubeconfig"), str):
        raise ProvisionError(f"the {cloud} module has no kubeconfig output (a string): the Kubernetes target needs one")
    kubeconfig = directory / KUBECONFIG_FILE
    write_private(kubeconfig, outputs["kubeconfig"])
    target = KubernetesTarget(
        load_client(kubeconfig),
        cloud,
        settings,
        run_id,
        kubeconfig=str(kubeconfig),
        node_pools=outputs.get("node_pools") or {},
        deletion_due_time=deletion_due_time,
        echo=echo,
        say=say,
    )
    _record(directory, kubeconfig, run_id, target.namespace, None)
    return target


def connect_existing(
    kubeconfig: str | None,
    echo: Echo | None = None,
    say: Echo | None = None,
    *,
    settings: Mapping,
    run_id: str,
    directory: Path,
    context: str | None = None,
    deletion_due_time: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> KubernetesTarget:
    """An existing cluster (bring your own): ``kubeconfig`` is a path, or None for $KUBECONFIG."""
    path = resolve_kubeconfig(kubeconfig, environ)
    target = KubernetesTarget(
        load_client(path, context),
        "existing",
        settings,
        run_id,
        kubeconfig=str(path),
        deletion_due_time=deletion_due_time,
        echo=echo,
        say=say,
    )
    _record(directory, path, run_id, target.namespace, context)
    return target


def teardown(directory: Path) -> None:
    """Delete the namespaces recorded in ``directory`` by ``connect`` or ``connect_existing``, if any,
    and the run's kwok nodes."""
    record_file = directory / RECORD_FILE
    if not record_file.exists():
        return
    record = json.loads(record_file.read_text())
    api_client = load_client(Path(record["kubeconfig"]), record["context"])
    with api_client:
        core = client.CoreV1Api(api_client)
        for namespace in record["namespaces"]:
            delete_namespace(core, namespace)
        delete_virtual_nodes(core, record["run_id"])


# --- providers: how the pool of a run provisions and reaches each kind of cluster ------------


class ClusterProvider:
    """A cloud's managed Kubernetes, made by the Terraform module ``terraform/<MODULE>``.

    A scenario's ``target.<cloud>.cluster`` holds the module's inputs: the
    cluster's shape (node pools, version, network). Scenarios with the same
    shape share one cluster in a run, each in its own namespace; the other
    keys of ``target.<cloud>`` are the pods' settings (``ClusterSettings``).
    """

    def __init__(self, cloud: str, module: str):
        self.cloud = cloud
        self.MODULE = module

    def provisioned(self, settings: Mapping) -> dict:
        return dict(settings.get("cluster", {}))

    def variables(self, name: str, inputs: dict, connection: Connection) -> dict:
        """The module's inputs: the scenario's, and the tags every resource of the run carries.

        ``owner`` and ``region`` come from the scenario, else from ``TF_VAR_owner`` and
        ``TF_VAR_region`` in the environment (Terraform reads those itself).
        """
        defaults = {"owner": _login_name()} if "TF_VAR_owner" not in os.environ else {}
        return {
            **defaults,
            **inputs,
            "cluster_name": f"ts-{name}",
            "run_id": connection.run_id,
            "scenario": connection.directory.name,
            "deletion_delay": f"{int(connection.deletion_delay.total_seconds())}s",
        }

    def connect(self, outputs: dict, settings: Mapping, connection: Connection) -> KubernetesTarget:
        return connect(
            outputs,
            connection.echo,
            connection.say,
            cloud=self.cloud,
            settings={k: v for k, v in settings.items() if k != "cluster"},
            run_id=connection.run_id,
            directory=connection.directory,
            deletion_due_time=connection.deletion_due_time,
        )


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no passwd entry and no $USER
        return "unknown"


class ExistingCluster:
    """Bring your own cluster: nothing to provision, the kubeconfig says where it is."""

    MODULE = None

    def provisioned(self, settings: Mapping) -> dict:
        return {}

    def connect(self, outputs: dict, settings: Mapping, connection: Connection) -> KubernetesTarget:
        return connect_existing(
            connection.kubeconfig,
            connection.echo,
            connection.say,
            settings=settings,
            run_id=connection.run_id,
            directory=connection.directory,
            deletion_due_time=connection.deletion_due_time,
        )


PROVIDERS = {
    "aks": ClusterProvider("aks", "azure"),
    "eks": ClusterProvider("eks", "aws"),
    "gke": ClusterProvider("gke", "gcp"),
    "existing": ExistingCluster(),
}
