"""cluster_crud: a node pool created, scaled up, scaled down and deleted through the cluster's Terraform module.

Telescope's k8s-cluster-crud family (Azure/telescope: ``modules/python/crud/main.py all``
creates a pool, scales it up, back down and deletes it, with ``--step-wait-time`` between two
operations; ``modules/python/clients/aks_client.py`` times each operation, ``create_node_pool``,
``scale_up``, ``scale_down`` and ``delete_node_pool``, from its request until the pool's nodes
are Ready, with the label ``agentpool=<pool>``; ``eks_client.py`` on AWS; GCP it refuses).
Telescope asks the cloud's API; here each operation is the cluster's own module
(``terraform/azure``, ``aws``, ``gcp``) applied again with the pool added to, changed in or
removed from its ``node_pools``.

``command`` gives a case's operations, each with the ``node_pools`` to apply; ``parse`` turns
what Terraform timed of one into samples, ``duration`` the operation itself: from the start of
Terraform's first change to the pool's own resources (those keyed by its name, as the modules key
them: ``azurerm_kubernetes_cluster_node_pool.this["<pool>"]``; on EKS its launch template too),
not the plan and refresh of the whole cluster before it, until the cluster has the pool's nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from pytest_telescope.errors import ProvisionError
from pytest_telescope.samples import LOWER, Metric, Sample
from pytest_telescope.tools._params import ParameterError, is_int

OPERATIONS = ("create", "scale_up", "scale_down", "delete")
CLOUDS = ("aks", "eks", "gke")
# A pool name all three cluster modules accept (AKS's limit).
POOL_NAME = re.compile(r"[a-z][a-z0-9]{0,11}")
# The machine size of each cluster module's system pool when a suite names none
# (terraform/<module>/variables.tf: a test keeps them in step); the test's pool's by default.
SYSTEM_POOL_SIZES = {"aks": "Standard_D2s_v5", "eks": "m6i.large", "gke": "e2-standard-2"}

METRICS: dict[str, Metric] = {
    # An operation from Terraform's first change to the pool's resources until the cluster has the
    # pool's nodes, all Ready (0 once deleted).
    **{f"node_pool_{operation}_duration": Metric("s", LOWER) for operation in OPERATIONS},
    "node_pool_apply_duration": Metric("s", LOWER),  # Terraform's plan and apply of the whole module (label operation)
    "node_pool_resource_duration": Metric("s", LOWER),  # one resource's change in it (labels operation, address, action)
}

# What a baseline judges: the operations. Terraform's part and a resource's own time are shown, not
# judged: a cloud's API swings (as with provisioning's resource_duration).
JUDGED = tuple(f"node_pool_{operation}_duration" for operation in OPERATIONS)

PARAMETERS = {
    "pool": "name of the node pool the test creates, scales and deletes: 1-12 characters of [a-z0-9], starting with a letter",
    "aks_machine_size": "its VM size on AKS (by default the module's for the system pool of a suite that names none)",
    "eks_machine_size": "its instance type on EKS (by default the module's for the system pool of a suite that names none)",
    "gke_machine_size": "its machine type on GKE (by default the module's for the system pool of a suite that names none)",
    "create_count": "nodes it is created with",
    "scale_count": "nodes it is scaled up to, before it is scaled back down to `create_count`",
    "pause": "seconds between two operations (Telescope's `main.py all --step-wait-time`)",
}


@dataclass(frozen=True)
class Operation:
    name: str  # one of OPERATIONS
    pool: str
    count: int  # the pool's nodes once it is done: 0 when deleted
    node_pools: list[dict]  # the module's node_pools variable that does it
    pause: float  # seconds to wait before it


def check(params: dict) -> None:
    """Raise ``ParameterError`` naming the first of a case's parameters that the operations would not take."""
    if not isinstance(params["pool"], str) or not POOL_NAME.fullmatch(params["pool"]) or params["pool"] == "system":
        raise ParameterError("pool", f"must be 1-12 characters of [a-z0-9] starting with a letter, not system, got {params['pool']!r}")
    for cloud in CLOUDS:
        size = params[f"{cloud}_machine_size"]
        if not isinstance(size, str) or not size:
            raise ParameterError(f"{cloud}_machine_size", f"must name a machine size, got {size!r}")
    create, scale = params["create_count"], params["scale_count"]
    if not is_int(create) or create < 0:
        raise ParameterError("create_count", f"must be a whole number >= 0, got {create!r}")
    if not is_int(scale) or scale <= create:
        raise ParameterError("scale_count", f"must be a whole number > create_count ({create}), got {scale!r}")
    if not isinstance(params["pause"], (int, float)) or params["pause"] < 0:
        raise ParameterError("pause", f"must be a number of seconds >= 0, got {params['pause']!r}")


def command(
    node_pools: Sequence[dict],
    cloud: str,
    *,
    pool: str = "crud",
    aks_machine_size: str = SYSTEM_POOL_SIZES["aks"],
    eks_machine_size: str = SYSTEM_POOL_SIZES["eks"],
    gke_machine_size: str = SYSTEM_POOL_SIZES["gke"],
    create_count: int = 1,
    scale_count: int = 3,
    pause: float = 30,
) -> list[Operation]:
    """The operations of a case on a cluster of ``cloud`` whose module has these ``node_pools``."""
    others = [dict(other) for other in node_pools]
    machine_size = {"aks": aks_machine_size, "eks": eks_machine_size, "gke": gke_machine_size}[cloud]
    new = {"name": pool, "count": create_count, "machine_size": machine_size}
    return [
        Operation("create", pool, create_count, [*others, new], 0),
        Operation("scale_up", pool, scale_count, [*others, {**new, "count": scale_count}], pause),
        Operation("scale_down", pool, create_count, [*others, new], pause),
        Operation("delete", pool, 0, others, pause),
    ]


# A resource Terraform changed (the runner's ResourceChange): address, action, seconds, and its
# start in seconds since the epoch.
Change = tuple[str, str, float, float]


def parse(operation: Operation, seconds: float, resources: Sequence[Change]) -> list[Sample]:
    """What Terraform timed of ``operation``: its plan and apply, and each resource it changed."""
    labels = {"pool": operation.pool, "nodes": str(operation.count), "operation": operation.name}
    return [Sample("node_pool_apply_duration", seconds, "s", labels)] + [
        Sample("node_pool_resource_duration", taken, "s", {**labels, "address": address, "action": action})
        for address, action, taken, _ in resources
    ]


def duration(operation: Operation, resources: Sequence[Change], ready: float) -> Sample:
    """``operation`` itself: from the start of the first of ``resources`` that is the pool's until
    ``ready`` (seconds since the epoch), when the cluster had the pool's nodes."""
    key = f'["{operation.pool}"]'
    starts = [started for address, _, _, started in resources if key in address]
    if not starts:
        raise ProvisionError(f"node pool {operation.pool}: the {operation.name} changed no resource keyed {key}: nothing to time it from "
                             f"(the cluster modules key a pool's resources by its name; changed: {', '.join(address for address, *_ in resources) or 'none'})")
    return Sample(f"node_pool_{operation.name}_duration", ready - min(starts), "s", {"pool": operation.pool, "nodes": str(operation.count)})
