"""kwok virtual nodes: many nodes of any size on a real cluster, without machines behind them.

kwok (Kubernetes WithOut Kubelet, kubernetes-sigs/kwok) is a controller that
plays the kubelet of every node annotated ``kwok.x-k8s.io/node: fake``: it
keeps the node Ready and the pods bound to it Running, and runs no container.
``Controller`` installs it from its release manifests (``kwok_release``).
``VirtualNodes`` creates nodes of a given capacity, waits until kwok reports
them Ready, and deletes them. Everything goes through the Kubernetes Python
client; kubectl is never called.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Mapping, Sequence

from kubernetes import client
from kubernetes.utils import parse_quantity

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets.kubernetes import manifests
from pytest_telescope.targets.kubernetes.api import api_error_text, call_api, request_failure
from pytest_telescope.targets.kubernetes.kwok_release import KWOK_VERSION, ObjectRef, install, load_manifests, uninstall
from pytest_telescope.targets.kubernetes.nodes import NodeState

CONTROLLER = "Deployment kube-system/kwok-controller"  # as kwok.yaml names it

# The release's controller manages the nodes annotated so (--manage-nodes-with-annotation-selector).
NODE_ANNOTATION = "kwok.x-k8s.io/node"
# The label kwok's documentation selects its nodes by, and the taint that keeps real pods off them.
NODE_LABELS = {"type": "kwok"}
NODE_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
# What a pod meant for the virtual nodes carries.
NODE_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}


# --- virtual nodes ---------------------------------------------------------------------------


def virtual_node(name: str, *, cpu: str | float, memory: str, pods: int, labels: Mapping[str, str] | None = None) -> dict:
    """A node that kwok manages, with ``cpu``, ``memory`` and ``pods`` as its capacity and allocatable.

    ``cpu`` and ``memory`` are Kubernetes quantities (``32``, ``500m``,
    ``256Gi``). The API server keeps a node's status as it is created, and
    kwok keeps the capacity it finds there.
    """
    capacity = {"cpu": _quantity("cpu", cpu), "memory": _quantity("memory", memory), "pods": _pods(pods)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                **(labels or {}),
                manifests.HOSTNAME_TOPOLOGY: name,
                **NODE_LABELS,
            },
        },
        # A cloud's node lifecycle controller deletes a node without a provider id that its cloud
        # does not know, possibly before kwok marks it Ready; a kwok:// id is left alone (kwok's
        # docs, "Nodes Unexpectedly Deleted"; Telescope's modules/python/kwok/config/kwok-node.yaml).
        "spec": {"providerID": f"kwok://{name}", "taints": [dict(NODE_TAINT)]},
        "status": {
            "allocatable": dict(capacity),
            "capacity": capacity,
            # The fields left empty are filled in by kwok's node-initialize stage, with its own version.
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "bootID": "",
                "containerRuntimeVersion": "",
                "kernelVersion": "",
                "kubeProxyVersion": "",
                "kubeletVersion": "",
                "machineID": "",
                "osImage": "",
                "systemUUID": "",
            },
        },
    }


def _quantity(field: str, value) -> str:
    text = str(value)
    try:
        positive = not isinstance(value, bool) and parse_quantity(text) > 0
    except ValueError:
        positive = False
    if not positive:
        raise ValueError(f"kwok node {field}: {value!r} is not a positive Kubernetes quantity (e.g. 32, 500m, 256Gi)")
    return text


def _pods(value) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"kwok node pods: {value!r} is not a whole number >= 1")
    return str(value)


def add_nodes(api_client: client.ApiClient, nodes: Sequence[dict], *, ready_timeout: float = 120.0, poll_interval: float = 2.0) -> None:
    """Create ``nodes`` (manifests from ``virtual_node``), then wait until kwok reports every one Ready."""
    core = client.CoreV1Api(api_client)
    for node in nodes:
        call_api(f"kwok: create Node {node['metadata']['name']}", core.create_node, node)
    names = [node["metadata"]["name"] for node in nodes]
    waiting = set(names)
    deadline = time.monotonic() + ready_timeout
    selector = ",".join(f"{key}={value}" for key, value in NODE_LABELS.items())
    while True:
        listed = call_api("kwok: list nodes", core.list_node, label_selector=selector)
        waiting -= {node.metadata.name for node in listed.items if NodeState.of(node).ready}
        if not waiting:
            return
        if time.monotonic() >= deadline:
            shown = ", ".join(name for name in names if name in waiting)
            raise ProvisionError(
                f"kwok: {len(waiting)} of {len(names)} virtual nodes not Ready after {ready_timeout:g} s ({shown}): "
                f"is the kwok controller running? ({CONTROLLER})"
            )
        time.sleep(poll_interval)


def remove_nodes(api_client: client.ApiClient, names: Sequence[str]) -> None:
    """Delete the nodes ``names``; what is gone already is fine.

    Everything is tried; then one error names what could not be deleted.
    """
    core = client.CoreV1Api(api_client)
    failures = []
    for name in names:
        try:
            core.delete_node(name)
        except client.ApiException as error:
            if error.status != 404:
                failures.append(f"Node {name}: {api_error_text(error)}")
        except Exception as error:
            failures.append(f"Node {name}: {request_failure(error)}")
    if failures:
        raise ProvisionError("kwok teardown: could not delete " + "; ".join(failures))


# --- what a test uses ------------------------------------------------------------------------


class Controller:
    """kwok's controller on one cluster: installed at the first ``ensure``; ``remove`` deletes what that created.

    Objects of the manifests that the cluster has already (an earlier
    install) are used as they are, and left in place.
    """

    def __init__(
        self,
        api_client: client.ApiClient,
        source: Path | None = None,
        *,
        version: str = KWOK_VERSION,
        timeout: float = 120.0,
        poll_interval: float = 2.0,
        fetch_timeout: float = 30.0,
    ):
        self.api_client = api_client
        self.source = source
        self.version = version
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.fetch_timeout = fetch_timeout
        self.installed: list[ObjectRef] | None = None

    def ensure(self) -> None:
        if self.installed is None:
            documents = load_manifests(self.source, self.version, self.fetch_timeout)
            self.installed = install(self.api_client, documents, timeout=self.timeout, poll_interval=self.poll_interval)

    def remove(self) -> None:
        installed, self.installed = self.installed or [], None
        uninstall(self.api_client, installed)


class VirtualNodes:
    """The virtual nodes of one test: ``add`` creates them (after ``controller.ensure()``), ``remove`` deletes them.

    Names are ``kwok-<random>-<n>``, unique across tests, runs and xdist
    workers; the nodes carry the run's labels (``telescope/run-id``).
    """

    def __init__(
        self,
        api_client: client.ApiClient,
        controller: Controller,
        *,
        run_id: str,
        ready_timeout: float = 120.0,
        poll_interval: float = 2.0,
    ):
        self.api_client = api_client
        self.controller = controller
        self.run_id = run_id
        self.ready_timeout = ready_timeout
        self.poll_interval = poll_interval
        self.names: list[str] = []
        self._prefix = f"kwok-{secrets.token_hex(3)}"

    def add(self, count: int, *, cpu: str | float, memory: str, pods: int, labels: Mapping[str, str] | None = None) -> list[str]:
        """``count`` more Ready virtual nodes of this capacity; returns their names."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"kwok nodes: count {count!r} is not a whole number >= 1")
        first = len(self.names)
        nodes = [
            virtual_node(f"{self._prefix}-{first + index}", cpu=cpu, memory=memory, pods=pods,
                         labels={**manifests.labels(self.run_id), **(labels or {})})
            for index in range(count)
        ]
        self.controller.ensure()
        names = [node["metadata"]["name"] for node in nodes]
        self.names += names  # before they exist: remove() deletes what add created, even if it failed midway
        add_nodes(self.api_client, nodes, ready_timeout=self.ready_timeout, poll_interval=self.poll_interval)
        return names

    def remove(self) -> None:
        names, self.names = self.names, []
        remove_nodes(self.api_client, names)
