"""kwok virtual nodes: many nodes of any size on a real cluster, without machines behind them.

kwok (Kubernetes WithOut Kubelet, kubernetes-sigs/kwok) is a controller that
plays the kubelet of every node annotated ``kwok.x-k8s.io/node: fake``: it
keeps the node Ready and the pods bound to it Running, and runs no container.
``Controller`` installs it from the release manifests of a pinned version
(``kwok.yaml``: its CRDs, RBAC and the Deployment in kube-system;
``stage-fast.yaml``: the Stages without which it does nothing), downloaded
from GitHub or read from a local copy for clusters that cannot reach GitHub.
``VirtualNodes`` creates nodes of a given capacity, waits until kwok reports
them Ready, and deletes them. Everything goes through the Kubernetes Python
client; kubectl is never called.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import requests
import yaml
from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError, ResourceNotFoundError
from kubernetes.utils import parse_quantity

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets.kubernetes import manifests
from pytest_telescope.targets.kubernetes.cluster import NodeState, api_error_text, call_api, request_failure

KWOK_VERSION = "v0.7.0"
RELEASES_URL = "https://github.com/kubernetes-sigs/kwok/releases/download"
RELEASE_ASSETS = ("kwok.yaml", "stage-fast.yaml")
CONTROLLER = "Deployment kube-system/kwok-controller"  # as kwok.yaml names it

# The release's controller manages the nodes annotated so (--manage-nodes-with-annotation-selector).
NODE_ANNOTATION = "kwok.x-k8s.io/node"
# The label kwok's documentation selects its nodes by, and the taint that keeps real pods off them.
NODE_LABELS = {"type": "kwok"}
NODE_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
# What a pod meant for the virtual nodes carries.
NODE_TOLERATION = {"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}


# --- the release manifests -------------------------------------------------------------------


def release_urls(version: str = KWOK_VERSION) -> list[str]:
    """The release assets that install kwok ``version`` in a cluster, in the order they apply."""
    return [f"{RELEASES_URL}/{version}/{asset}" for asset in RELEASE_ASSETS]


def fetch(url: str, timeout: float = 30.0) -> list[dict]:
    """The Kubernetes objects of the multi-document YAML at ``url``."""
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as error:
        raise ProvisionError(
            f"kwok manifests {url}: cannot download: {_download_error(error, timeout)} "
            "(for a cluster without access to GitHub, give a local copy with --telescope-kwok-manifests)"
        ) from None
    return parse(response.text, url)


def _download_error(error: requests.RequestException, timeout: float) -> str:
    if isinstance(error, requests.HTTPError):
        return f"HTTP {error.response.status_code} {error.response.reason}"
    if isinstance(error, requests.Timeout):
        return f"no answer within {timeout:g} s"
    return request_failure(error)


def read_local(path: Path) -> list[dict]:
    """The objects of a manifest file, or of every ``.yaml``/``.yml`` file of a directory, by name."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise ProvisionError(f"kwok manifests {path}: no .yaml file in this directory")
    elif path.exists():
        files = [path]
    else:
        raise ProvisionError(f"kwok manifests {path}: no such file or directory (from --telescope-kwok-manifests)")
    documents = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ProvisionError(f"kwok manifests {file}: cannot read it: {request_failure(error)}") from None
        documents += parse(text, str(file))
    return documents


def parse(text: str, source: str) -> list[dict]:
    """The objects of a multi-document YAML; empty documents are skipped."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ProvisionError(f"kwok manifests {source}: not valid YAML{where}") from None
    for number, document in enumerate(documents, 1):
        if document is not None and not _is_object(document):
            raise ProvisionError(f"kwok manifests {source}: document {number} is not a Kubernetes object (apiVersion, kind, metadata.name)")
    return [document for document in documents if document is not None]


def _is_object(document) -> bool:
    return (
        isinstance(document, dict)
        and isinstance(document.get("apiVersion"), str)
        and isinstance(document.get("kind"), str)
        and isinstance(document.get("metadata"), dict)
        and isinstance(document["metadata"].get("name"), str)
    )


def load_manifests(source: Path | None, version: str = KWOK_VERSION, timeout: float = 30.0) -> list[dict]:
    """kwok's manifests: from ``source`` (a file or directory) if given, else the release of ``version``."""
    if source is not None:
        return read_local(source)
    return [document for url in release_urls(version) for document in fetch(url, timeout)]


# --- installing and removing objects of any kind ---------------------------------------------


@dataclass(frozen=True)
class ObjectRef:
    """One object that ``install`` created: what ``remove`` deletes."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.api_version})"


def install(api_client: client.ApiClient, documents: Sequence[dict], *, timeout: float = 120.0, poll_interval: float = 2.0) -> list[ObjectRef]:
    """Create every object of ``documents``; one that already exists is taken as it is.

    Namespaces and CustomResourceDefinitions go first. An object of a custom
    kind waits, up to ``timeout`` seconds, until the API server serves that
    kind. Returns the objects created, in order. When one cannot be created,
    the ones created before it are deleted and the error names the object.
    """
    created: list[ObjectRef] = []
    with _dynamic_client(api_client) as dynamic:
        try:
            for document in sorted(documents, key=_install_order):
                made = _create(dynamic, document, timeout, poll_interval)
                if made is not None:
                    created.append(made)
        except ProvisionError as error:
            failures = _delete_objects(dynamic, created)
            if failures:
                raise ProvisionError(f"{error}; and could not delete what it had installed: {'; '.join(failures)}") from None
            raise
    return created


def _install_order(document: dict) -> int:
    return {"Namespace": 0, "CustomResourceDefinition": 1}.get(document["kind"], 2)


def _create(dynamic: DynamicClient, document: dict, timeout: float, poll_interval: float) -> ObjectRef | None:
    metadata = document["metadata"]
    described = ObjectRef(document["apiVersion"], document["kind"], metadata["name"], metadata.get("namespace"))
    deadline = time.monotonic() + timeout
    while True:
        try:
            resource = dynamic.resources.get(api_version=described.api_version, kind=described.kind)
            namespace = (described.namespace or "default") if resource.namespaced else None
            resource.create(body=document, namespace=namespace)
            return ObjectRef(described.api_version, described.kind, described.name, namespace)
        except ConflictError:
            return None
        # A kind whose CustomResourceDefinition was just created is served a moment later.
        except ResourceNotFoundError:
            problem = "the API server does not serve this kind"
        except NotFoundError as error:
            problem = api_error_text(error)
        except client.ApiException as error:
            raise ProvisionError(f"kwok install: create {described}: {api_error_text(error)}") from None
        except Exception as error:  # urllib3: the API server cannot be reached
            raise ProvisionError(f"kwok install: create {described}: {request_failure(error)}") from None
        if time.monotonic() >= deadline:
            raise ProvisionError(f"kwok install: create {described}: {problem} (after {timeout:g} s)")
        time.sleep(poll_interval)


def _delete_objects(dynamic: DynamicClient, objects: Sequence[ObjectRef]) -> list[str]:
    """Delete ``objects``, newest first; what is gone already is fine. Returns what could not be deleted, and why."""
    failures = []
    for ref in reversed(objects):
        try:
            resource = dynamic.resources.get(api_version=ref.api_version, kind=ref.kind)
            resource.delete(name=ref.name, namespace=ref.namespace)
        except (NotFoundError, ResourceNotFoundError):
            pass
        except client.ApiException as error:
            failures.append(f"{ref}: {api_error_text(error)}")
        except Exception as error:
            failures.append(f"{ref}: {request_failure(error)}")
    return failures


@contextlib.contextmanager
def _dynamic_client(api_client: client.ApiClient) -> Iterator[DynamicClient]:
    # The dynamic client caches what it discovers in a file, by default one shared by every user in
    # the temporary directory and named after the server: ours is private and lasts one call.
    with tempfile.TemporaryDirectory(prefix="telescope-kwok-") as directory:
        try:
            dynamic = DynamicClient(api_client, cache_file=os.path.join(directory, "discovery.json"))
        except client.ApiException as error:
            raise ProvisionError(f"kwok: discover the API of {api_client.configuration.host}: {api_error_text(error)}") from None
        except Exception as error:  # urllib3: the API server cannot be reached
            raise ProvisionError(f"kwok: discover the API of {api_client.configuration.host}: {request_failure(error)}") from None
        yield dynamic


def remove(api_client: client.ApiClient, *, nodes: Sequence[str] = (), installed: Sequence[ObjectRef] = ()) -> None:
    """Delete ``nodes``, then the ``installed`` objects, newest first; what is gone already is fine.

    Everything is tried; then one error names what could not be deleted.
    """
    core = client.CoreV1Api(api_client)
    failures = []
    for name in nodes:
        try:
            core.delete_node(name)
        except client.ApiException as error:
            if error.status != 404:
                failures.append(f"Node {name}: {api_error_text(error)}")
        except Exception as error:
            failures.append(f"Node {name}: {request_failure(error)}")
    if installed:
        try:
            with _dynamic_client(api_client) as dynamic:
                failures += _delete_objects(dynamic, installed)
        except ProvisionError as error:
            failures.append(str(error))
    if failures:
        raise ProvisionError("kwok teardown: could not delete " + "; ".join(failures))


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
        remove(self.api_client, installed=installed)


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
        remove(self.api_client, nodes=names)
