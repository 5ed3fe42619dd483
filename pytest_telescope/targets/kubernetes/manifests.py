"""Kubernetes manifests of the cluster target, as plain dicts: no client, no I/O.

Every pod runs one idle container per tool (``iperf3``, ``fio``), each from
its own pinned image; a command runs in the container named after its
program (see ``container_for``). The containers share the pod's network and
its scratch volume.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

MANAGED_BY = "pytest-telescope"
RUN_LABEL = "telescope/run-id"
ROLE_LABEL = "telescope/role"
COMPONENT_LABEL = "app.kubernetes.io/component"
DELETION_DUE_ANNOTATION = "telescope/deletion-due-time"

# Pinned by version tag. An air-gapped cluster mirrors them and sets image_registry.
DEFAULT_IMAGES = {
    "iperf3": "docker.io/nicolaka/netshoot:v0.13",
    "fio": "docker.io/ljishen/fio:3.36",
}

PLACEMENTS = ("same-node", "different-node", "different-zone")
STORAGE_KINDS = ("os-disk", "host-path", "pvc")
SCRATCH_DIR = "/scratch"
HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"
ZONE_TOPOLOGY = "topology.kubernetes.io/zone"
# The pods idle while commands run in them through exec; 2^31-1 seconds is "forever" for every sleep.
IDLE_COMMAND = ["sleep", "2147483647"]
# A node pod's container, as kubectl-trace sizes its bpftrace's (iovisor/kubectl-trace, pkg/tracejob/job.go):
# with requests it is Burstable, not BestEffort, the first class the kubelet evicts when memory runs short.
NODE_POD_RESOURCES = {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"cpu": "1", "memory": "1G"}}


def label_value(text: str) -> str:
    """``text`` as a valid label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:63].strip("-_.")


def namespace_name(run_id: str, target_key: str) -> str:
    """One namespace per run and target: readable, unique, a valid DNS label."""
    digest = hashlib.sha256(f"{run_id}/{target_key}".encode()).hexdigest()[:8]
    readable = re.sub(r"[^a-z0-9-]", "-", run_id.lower())[:40].strip("-")
    return "-".join(filter(None, ["telescope", readable, digest]))


def labels(run_id: str, role: str | None = None) -> dict[str, str]:
    found = {"app.kubernetes.io/managed-by": MANAGED_BY, RUN_LABEL: label_value(run_id)}
    if role:
        found[ROLE_LABEL] = role
    return found


def namespace(name: str, run_id: str, deletion_due_time: str | None = None) -> dict:
    metadata: dict = {"name": name, "labels": labels(run_id)}
    if deletion_due_time:
        metadata["annotations"] = {DELETION_DUE_ANNOTATION: deletion_due_time}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def image(tool: str, registry: str | None = None, overrides: dict[str, str] | None = None) -> str:
    """The image of ``tool``: an explicit override as given, else the default, moved to ``registry`` if set."""
    if overrides and tool in overrides:
        return overrides[tool]
    return mirrored(DEFAULT_IMAGES[tool], registry)


def mirrored(reference: str, registry: str | None) -> str:
    """``reference`` (which names its registry first) pulled from ``registry`` instead, when set."""
    if not registry:
        return reference
    return f"{registry.rstrip('/')}/{reference.split('/', 1)[1]}"


def container_for(argv: Sequence[str], containers: Sequence[str]) -> str:
    """The container that runs ``argv``: the one named after its program, else the first."""
    program = argv[0].rsplit("/", 1)[-1]
    return program if program in containers else containers[0]


def affinity(placement: str, peer_role: str, run_id: str) -> dict:
    """Where a pod goes relative to the pod of ``peer_role``.

    Only the second pod of a pair carries the rule: a required anti-affinity
    is honoured both ways by the scheduler, and a required affinity needs
    its peer to exist first (the caller creates the peer first).
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}")
    term = {
        "labelSelector": {"matchLabels": {RUN_LABEL: label_value(run_id), ROLE_LABEL: peer_role}},
        "topologyKey": ZONE_TOPOLOGY if placement == "different-zone" else HOSTNAME_TOPOLOGY,
    }
    kind = "podAffinity" if placement == "same-node" else "podAntiAffinity"
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def scratch_volume(kind: str, *, claim_name: str | None = None, host_path: str | None = None) -> dict:
    """The pod's scratch volume: the node's OS disk (emptyDir), a host directory, or a PVC."""
    if kind == "os-disk":
        return {"name": "scratch", "emptyDir": {}}
    if kind == "host-path":
        return {"name": "scratch", "hostPath": {"path": host_path, "type": "DirectoryOrCreate"}}
    if kind == "pvc":
        return {"name": "scratch", "persistentVolumeClaim": {"claimName": claim_name}}
    raise ValueError(f"storage must be one of {', '.join(STORAGE_KINDS)}, got {kind!r}")


def persistent_volume_claim(name: str, run_id: str, role: str, storage_class: str | None, size: str) -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "labels": labels(run_id, role)},
        "spec": spec,
    }


def pod(
    role: str,
    run_id: str,
    images: dict[str, str],
    volume: dict,
    *,
    node_selector: dict[str, str] | None = None,
    tolerations: Sequence[dict] = (),
    affinity: dict | None = None,
    host_network: bool = False,
) -> dict:
    """An idle pod for ``role`` with one container per tool in ``images`` (tool name -> image)."""
    containers = [
        {
            "name": tool,
            "image": reference,
            "command": IDLE_COMMAND,
            "volumeMounts": [{"name": volume["name"], "mountPath": SCRATCH_DIR}],
        }
        for tool, reference in images.items()
    ]
    spec: dict = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 1,  # sleep as PID 1 ignores SIGTERM: do not wait 30 s for it
        "containers": containers,
        "volumes": [volume],
    }
    if host_network:
        spec["hostNetwork"] = True
        spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if tolerations:
        spec["tolerations"] = [dict(t) for t in tolerations]
    if affinity:
        spec["affinity"] = affinity
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": role, "labels": labels(run_id, role)}, "spec": spec}


def node_pod(name: str, run_id: str, node: str, image: str, command: Sequence[str], host_paths: Sequence[str], component: str) -> dict:
    """A privileged pod on ``node``, in the host's PID namespace, with the host directories ``host_paths``
    mounted at the same paths: for a program that observes the node itself.

    ``nodeName`` places it without the scheduler, and it tolerates every taint: it runs on the node
    whatever pool the node belongs to. Its one container is named ``component``, sized ``NODE_POD_RESOURCES``.
    """
    volumes = [
        {"name": re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-"), "hostPath": {"path": path, "type": "Directory"}}
        for path in host_paths
    ]
    container = {
        "name": component,
        "image": image,
        "command": list(command),
        "securityContext": {"privileged": True},
        "resources": NODE_POD_RESOURCES,
        "volumeMounts": [{"name": volume["name"], "mountPath": volume["hostPath"]["path"]} for volume in volumes],
    }
    spec = {
        "nodeName": node,
        "hostPID": True,
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 5,
        "tolerations": [{"operator": "Exists"}],
        "containers": [container],
        "volumes": volumes,
    }
    metadata = {"name": name, "labels": {**labels(run_id), COMPONENT_LABEL: component}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
