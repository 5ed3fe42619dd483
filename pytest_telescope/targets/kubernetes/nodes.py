"""The nodes of a cluster, and whether they can take the benchmark's pods yet.

``check_nodes`` says why not (a node pool short of Ready nodes, no node for
a pod's selector and tolerations, a placement the nodes cannot give), and
``not_ready_report`` turns that into the error shown when the wait is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from pytest_telescope.targets.kubernetes import manifests
from pytest_telescope.targets.kubernetes.settings import ROLES, ClusterSettings

POOL_LABELS = {
    "aks": "kubernetes.azure.com/agentpool",
    "eks": "eks.amazonaws.com/nodegroup",
    "gke": "cloud.google.com/gke-nodepool",
}
# Taints a node carries while it starts, stops or is unhealthy: such a node is not ready for us.
LIFECYCLE_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


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


def list_selector(selectors: Sequence[Mapping[str, str]]) -> str:
    """One label selector for a LIST of nodes that returns every node any of ``selectors`` picks
    (and maybe more, which the check filters out): ``key in (a,b)`` on a label key they all have;
    "" (every node) when one of them is empty or they share no key."""
    common = set.intersection(*(set(selector) for selector in selectors)) if selectors and all(selectors) else set()
    if not common:
        return ""
    key = min(common)
    return f"{key} in ({','.join(sorted({selector[key] for selector in selectors}))})"


def check_nodes(
    nodes: Sequence[NodeState],
    pools: Mapping[str, Mapping],
    pool_label: str | None,
    settings: ClusterSettings,
    roles: Sequence[str] = ROLES,
) -> list[str]:
    """Why the cluster cannot take the benchmark yet; empty when it can.

    Every node pool has at least its ``count`` of usable nodes, and the pod of
    each of ``roles`` has a usable node; the two pods, placed as asked.
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
    candidates = {role: role_nodes(nodes, settings, role) for role in roles}
    for role, found in candidates.items():
        if not found:
            problems.append(
                f"no Ready, schedulable node for the {role} pod "
                f"(nodeSelector {_selector_text(settings.selector(role))}; taints not tolerated count too)"
            )
    if not problems and set(roles) == set(ROLES):
        problem = _placement_problem(settings.placement, candidates["server"], candidates["client"])
        if problem:
            problems.append(f"placement {settings.placement}: {problem}")
    return problems


def role_nodes(nodes: Sequence[NodeState], settings: ClusterSettings, role: str) -> list[NodeState]:
    """The nodes the pod of ``role`` may go to: usable, with its selector's labels, and taints it tolerates."""
    return [n for n in nodes if n.usable and n.matches(settings.selector(role)) and n.tolerates_taints(settings.tolerations)]


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
