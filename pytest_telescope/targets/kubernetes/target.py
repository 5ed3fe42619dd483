"""The Kubernetes target: the ``server`` and ``client`` pods of a run, in a namespace of their own.

The target checks the nodes before any benchmark (``validate``), creates one
namespace per run and target, places the pods as the scenario asks, runs
commands in them with the Kubernetes Python client (never kubectl), and
deletes the namespace at teardown. What observes the nodes themselves (the
kernel histograms) gets privileged pods pinned to the nodes the roles' pods
may go to (``role_nodes``, ``start_node_pod``), their logs and an exec.
"""

from __future__ import annotations

import time
import weakref
from typing import Iterator, Mapping, Sequence

from kubernetes import client

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets import Target, TargetSpec
from pytest_telescope.targets.kubernetes import manifests
from pytest_telescope.targets.kubernetes import pod_log
from pytest_telescope.targets.kubernetes.api import (
    api_error_text,
    call_api,
    delete_namespace,
    delete_pod,
    describe_pod,
    pod_ready,
)
from pytest_telescope.targets.kubernetes.endpoint import POD_PID_DIR, PodEndpoint
from pytest_telescope.targets.kubernetes.nodes import (
    POOL_LABELS,
    NodeState,
    check_nodes,
    list_selector,
    not_ready_report,
    pool_selector,
    role_nodes,
)
from pytest_telescope.targets.kubernetes.pod_exec import Echo, ExecFailed, PodExec
from pytest_telescope.targets.kubernetes.portforward import PortForward
from pytest_telescope.targets.kubernetes.settings import ROLES, ClusterSettings

ANCHOR_ROLE = "server"  # the client is placed relative to the server
PROMETHEUS_READY_PATH = "/-/ready"


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
        self._validated = False  # validate() done: endpoints() checks the rest, for its pods
        self._version: str | None = None
        self._namespace_ready = False
        self._forwards: dict[tuple[str, str, int], PortForward] = {}
        # At teardown, or when the target is collected or the process ends.
        self._close_forwards = weakref.finalize(self, _close_all, self._forwards)

    def _api(self, what: str, call, *args, **kwargs):
        return call_api(f"{self.cloud} cluster: {what}", call, *args, context=f" (kubeconfig {self.kubeconfig})", **kwargs)

    def nodes(self, label_selector: str = "") -> list[NodeState]:
        """The nodes (those ``label_selector`` picks), from the API server's cache (resourceVersion
        0) rather than a quorum read of etcd."""
        selected = {"label_selector": label_selector} if label_selector else {}
        listed = self._api("list nodes", self.core.list_node, resource_version="0", **selected)
        return [NodeState.of(node) for node in listed.items]

    @property
    def version(self) -> str:
        if self._version is None:
            self._version = self._api("read the version", client.VersionApi(self.api_client).get_code).git_version
        return self._version

    def validate(self) -> None:
        """Every node pool has its nodes. The pods' nodes and their placement are checked for the tests
        that ask for endpoints (``endpoints``): a CL2 or kperf suite has none."""
        self.version  # fails first, and plainly, when the API server cannot be reached
        self._wait_for_nodes(())
        self._validated = True

    def endpoints(self, *roles: str) -> tuple[PodEndpoint, ...]:
        # The rest of a validated target's validation: nodes for these pods, placed as asked.
        if self._validated and any(role not in self._endpoints for role in roles):
            self._wait_for_nodes(roles)
        return super().endpoints(*roles)

    def _wait_for_nodes(self, roles: Sequence[str]) -> None:
        waiting = Waiting(self.settings.ready_timeout, self._say)
        # Every few seconds until the nodes are ready: on a cluster of 1,000 nodes, only those of
        # the pools and the pods' selectors, not all of them from etcd each time.
        pool_label = POOL_LABELS.get(self.cloud)
        selector = list_selector(
            [pool_selector(name, pool, pool_label) for name, pool in self.node_pools.items()]
            + [self.settings.selector(role) for role in roles]
        )
        while True:
            nodes = self.nodes(selector)
            problems = check_nodes(nodes, self.node_pools, pool_label, self.settings, roles)
            if not problems:
                # describe() and metadata count every node of the cluster: listed once, when asked.
                self._nodes = None if selector else nodes
                return
            if waiting.over:
                raise ProvisionError(not_ready_report(f"{self.cloud} cluster", self.settings.ready_timeout, problems, nodes))
            if self._echo:
                self._echo(f"waiting for nodes: {problems[0]}")
            waiting.tell(f"{self.cloud} cluster: waiting for nodes: {problems[0]}")
            time.sleep(self._poll_interval)

    def wait_for_pool(self, name: str, count: int) -> None:
        """Until node pool ``name`` has ``count`` nodes, every one Ready and schedulable: after it was
        created or scaled (0: deleted), within ``ready_timeout``."""
        waiting = Waiting(self.settings.ready_timeout, self._say)
        selector = f"{POOL_LABELS[self.cloud]}={name}"
        while True:
            nodes = self.nodes(selector)
            usable = sum(1 for node in nodes if node.usable)
            if len(nodes) == usable == count:
                return
            problem = f"node pool {name}: {len(nodes)} nodes, {usable} of them Ready and schedulable, expected {count} ({selector})"
            if waiting.over:
                raise ProvisionError(not_ready_report(f"{self.cloud} cluster", self.settings.ready_timeout, [problem], nodes))
            waiting.tell(f"{self.cloud} cluster: waiting for nodes: {problem}")
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
        pod = self.wait_started(role)
        if pod.status.phase in ("Failed", "Succeeded"):
            raise ProvisionError(f"pod {self.namespace}/{role} ended ({pod.status.phase}) before any benchmark: {describe_pod(pod)}")
        containers = [c["name"] for c in manifest["spec"]["containers"]]
        return PodEndpoint(
            role, self.namespace, role, pod.status.pod_ip, pod.spec.node_name, containers, self.pod_exec, self._echo, self._pid_dir
        )

    def wait_started(self, name: str):
        """The pod once it runs and is ready, or once it ended (its phase says which); ``ProvisionError``
        when neither happened within ``pod_ready_timeout``."""
        waiting = Waiting(self.settings.pod_ready_timeout, self._say)
        while True:
            pod = self._api(f"read pod {self.namespace}/{name}", self.core.read_namespaced_pod, name, self.namespace)
            if (pod_ready(pod) and pod.status.pod_ip) or (pod.status and pod.status.phase in ("Failed", "Succeeded")):
                return pod
            if waiting.over:
                raise ProvisionError(
                    f"pod {self.namespace}/{name} not running after {self.settings.pod_ready_timeout:g} s: {describe_pod(pod)}"
                )
            waiting.tell(f"pod {self.namespace}/{name}: {describe_pod(pod)}")
            time.sleep(self._poll_interval)

    def endpoint_nodes(self) -> dict[str, str]:
        """The node of each role's pod, for the pods made so far."""
        return {role: endpoint.node for role, endpoint in self._endpoints.items()}

    def role_nodes(self) -> dict[str, list[str]]:
        """The names of the nodes each role's pod may go to (see ``nodes.role_nodes``)."""
        nodes = self.nodes(list_selector([self.settings.selector(role) for role in ROLES]))
        return {role: [node.name for node in role_nodes(nodes, self.settings, role)] for role in ROLES}

    def start_node_pod(self, name: str, node: str, image: str, command: Sequence[str], host_paths: Sequence[str], component: str) -> None:
        """Create a privileged pod in the run's namespace on ``node`` (``manifests.node_pod``); the
        scenario's ``image_registry``, if set, serves ``image``. ``wait_started`` waits for it."""
        self._ensure_namespace()
        image = manifests.mirrored(image, self.settings.image_registry)
        manifest = manifests.node_pod(name, self.run_id, node, image, command, host_paths, component)
        self._api(f"create pod {self.namespace}/{name}", self.core.create_namespaced_pod, self.namespace, manifest)

    def pod_log(self, name: str, container: str, *, since_seconds: int | None = None, read_timeout: float) -> Iterator[tuple[int, str]]:
        """The lines of a container's log of the namespace's pod ``name`` as they come (``pod_log.follow``)."""
        return pod_log.follow(self.core, self.namespace, name, container, since_seconds=since_seconds, read_timeout=read_timeout)

    def pod_run(self, name: str, container: str, argv: Sequence[str], *, timeout: float) -> tuple[int | None, str, str]:
        """(returncode, stdout, stderr) of ``argv`` in the namespace's pod ``name``; returncode None after ``timeout``."""
        try:
            return self.pod_exec.run(self.namespace, name, container, argv, timeout=timeout)
        except ExecFailed as error:
            raise ProvisionError(f"exec in pod {self.namespace}/{name}: {error}") from None

    def delete_pod(self, name: str) -> None:
        """Delete the namespace's pod ``name``; one already gone is not an error."""
        delete_pod(self.core, self.namespace, name)

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
