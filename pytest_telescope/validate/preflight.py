"""Preflight: does each suite fit the cluster it declares? Offline, in well under a second.

Before anything is applied, a suite's ``target.<cloud>.cluster`` (the module's inputs) is
checked against what its cases will ask of it, with the facts of ``cluster_facts.yaml``
(machine sizes, pods per node, system DaemonSets, storage classes and their CSI drivers,
runkperf's defaults) and the parameters CL2 requires of each measurement
(``tools/_cl2_configs``). Every misfit names the suite, the cloud, the pool, the
shortfall and the fix.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping

import yaml

from pytest_telescope.scenario import Scenario
from pytest_telescope.targets.kubernetes.nodes import POOL_LABELS
from pytest_telescope.targets.kubernetes.settings import ClusterSettings
from pytest_telescope.tools import _cl2_configs
from pytest_telescope.tools.cluster_crud import SYSTEM_POOL_SIZES
from pytest_telescope.tools.clusterloader2.running import PROMETHEUS_STORAGE_CLASSES

CLUSTER_CLOUDS = ("aks", "eks", "gke")
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
# The roles whose pods a benchmark's test asks the target for.
ENDPOINT_ROLES = {"iperf3": ("server", "client"), "fio": ("client",)}
# What a pod of each shipped CL2 config requests (its deployment.yaml), from the case's parameters.
CL2_POD_REQUESTS = {
    "load": lambda p: (10, 10),
    "pod-startup": lambda p: (p["CL2_RESOURCE_CONSUME_CPU"], 0) if p.get("CL2_LOAD_TYPE") == "cpu" else (0, p["CL2_RESOURCE_CONSUME_MEMORY"]),
}
# CL2's own Prometheus (perf-tests clusterloader2/pkg/prometheus/manifests/prometheus-prometheus.yaml,
# under 1,000 nodes, kubelets not scraped): 200m CPU, 2Gi.
CL2_PROMETHEUS = (200, 2048)
KWOK_CONTROLLER_CPU_M = 10
CL2_CONFIG_DIR = "clusterloader2"
_DEFAULT_PARAM = re.compile(r"DefaultParam \.(CL2_[A-Z0-9_]+) \"?([^\"}\s]+)\"?")


@dataclass(frozen=True)
class Misfit:
    path: Path  # the suite's file: two suites of one name in two folders are two suites
    cloud: str
    pool: str
    problem: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.path.name} on {self.cloud}" + (f", pool {self.pool}" if self.pool else "")
        return f"{where}: {self.problem}; fix: {self.fix}"


@dataclass(frozen=True)
class Pool:
    name: str
    count: int
    machine_size: str
    zones: tuple[str, ...]
    labels: Mapping[str, str]
    tainted: bool
    min_count: int | None = None
    max_count: int | None = None
    vcpu: float = 0
    memory_mib: float = 0
    max_pods: int = 0

    def node_labels(self, cloud: str) -> dict[str, str]:
        return {POOL_LABELS[cloud]: self.name, INSTANCE_TYPE_LABEL: self.machine_size, **self.labels}

    def matches(self, cloud: str, selector: Mapping[str, str]) -> bool:
        labels = self.node_labels(cloud)
        return all(labels.get(key) == value for key, value in selector.items())

    def allocatable(self, cloud: str, facts: dict) -> tuple[float, float, int]:
        """CPU (millicores), memory (MiB) and pods left on one node for the suite's pods."""
        daemonsets = facts["daemonsets"][cloud]
        cpu = self.vcpu * 1000 - _reserved_cpu_m(cloud, self.vcpu) - daemonsets["cpu_m"]
        memory = self.memory_mib - _reserved_memory_mib(cloud, self.memory_mib, self.max_pods) - daemonsets["memory_mib"]
        return cpu, memory, self.max_pods - daemonsets["pods"]


@functools.lru_cache(maxsize=1)
def load_facts() -> dict:
    return yaml.safe_load(resources.files(__package__).joinpath("cluster_facts.yaml").read_text())


def check(scenario: Scenario, cloud: str, *, facts: dict | None = None) -> list[Misfit]:
    """Every misfit of ``scenario`` on ``cloud``'s declared cluster; empty when it fits.

    A CL2 case's ``testconfig`` is read from ``clusterloader2/`` beside the scenario file, as the
    suites keep it.
    """
    facts = facts or load_facts()
    config_dir = scenario.path.parent / CL2_CONFIG_DIR
    settings = scenario.target_settings(cloud)
    shape = settings.get("cluster") or {}

    def misfit(pool: str, problem: str, fix: str) -> Misfit:
        return Misfit(scenario.path, cloud, pool, problem, fix)

    if scenario.benchmark == "cluster_crud":
        return _cluster_crud(cloud, shape, scenario, facts, misfit)
    if not shape.get("node_pools"):
        return [misfit("", "no node pools declared, so the module's one system node would be all", f"declare target.{cloud}.cluster.node_pools sized for the suite")]
    pools, problems = _pools(cloud, shape, facts, misfit)
    if problems:
        return problems
    pod_settings = ClusterSettings.of({key: value for key, value in settings.items() if key != "cluster"})
    problems += _zone_counts(cloud, pools, misfit)
    if scenario.benchmark in ENDPOINT_ROLES:
        problems += _endpoints(cloud, pools, pod_settings, ENDPOINT_ROLES[scenario.benchmark], misfit)
        problems += _storage(cloud, pod_settings, facts, misfit)
    for case in scenario.cases:
        params = {**scenario.defaults, **case.params}
        if scenario.benchmark == "clusterloader2":
            problems += _clusterloader2(cloud, pools, params, facts, config_dir, misfit)
        elif scenario.benchmark == "kperf":
            problems += _kperf(cloud, pools, params, facts, misfit)
    return list(dict.fromkeys(problems))


def check_all(pairs: Iterable[tuple[Scenario, str]], facts: dict | None = None) -> list[Misfit]:
    """The misfits of each (scenario, cloud), for the clouds whose clusters are provisioned here."""
    unique = {(scenario.path, cloud): scenario for scenario, cloud in pairs if cloud in CLUSTER_CLOUDS}
    return [misfit for (_, cloud), scenario in unique.items() for misfit in check(scenario, cloud, facts=facts)]


def check_tests(tests: Iterable[tuple[object, Scenario, str]]) -> tuple[list[Misfit], dict[object, str]]:
    """The misfits of the (test, scenario, cloud) triples, and for each test of a misfit pair what it fails with."""
    tests = list(tests)
    misfits = check_all((scenario, cloud) for _, scenario, cloud in tests)
    by_test = {}
    for test, scenario, cloud in tests:
        found = [str(m) for m in misfits if m.path == scenario.path and m.cloud == cloud]
        if found:
            by_test[test] = "preflight: the suite does not fit its cluster, so nothing is applied:\n  " + "\n  ".join(found)
    return misfits, by_test


def report(pairs: Iterable[tuple[Scenario, str]], misfits: list[Misfit]) -> str:
    """What the preflight of ``pairs`` found: each misfit, or how many pairs fit."""
    if misfits:
        return f"preflight: {len(misfits)} misfit(s) of a suite and its cluster:\n" + "\n".join(f"  {m}" for m in misfits)
    checked = {(scenario.path, cloud) for scenario, cloud in pairs if cloud in CLUSTER_CLOUDS}
    return f"preflight: {len(checked)} suite and cloud pairs fit their clusters"


# --- the shape ------------------------------------------------------------------------------


def _pools(cloud: str, shape: dict, facts: dict, misfit) -> tuple[list[Pool], list[Misfit]]:
    system = shape.get("system_pool") or {}
    declared = [
        {"name": "system", "machine_size": system.get("machine_size", SYSTEM_POOL_SIZES[cloud]), "count": system.get("count", 1),
         "zones": system.get("zones", []), "labels": system.get("labels", {}), "taints": [{}] if system.get("critical_addons_only") else []},
        *shape["node_pools"],
    ]
    sizes = facts["instance_types"][cloud]["types"]
    pools, problems = [], []
    for entry in declared:
        size = sizes.get(entry["machine_size"])
        if size is None:
            problems.append(misfit(entry["name"], f"machine size {entry['machine_size']} is not in cluster_facts.yaml",
                                   f"add its vCPUs, memory and max pods to pytest_telescope/validate/cluster_facts.yaml with their source, or use one of {', '.join(sizes)}"))
            continue
        zones = tuple(entry.get("zones") or _default_zones(cloud))
        pools.append(Pool(entry["name"], entry["count"], entry["machine_size"], zones, entry.get("labels") or {},
                          bool(entry.get("taints")), entry.get("min_count"), entry.get("max_count"), size["vcpu"],
                          size["memory_gib"] * 1024, size.get("max_pods") or _max_pods(cloud, shape, facts)))
    return pools, problems


def _default_zones(cloud: str) -> tuple[str, ...]:
    # AKS: a pool without zones has none; EKS and GKE put it in the region's first zone.
    return () if cloud == "aks" else ("<first zone>",)


def _max_pods(cloud: str, shape: dict, facts: dict) -> int:
    table = facts["max_pods"][cloud]
    if cloud == "gke":
        return table["default"]
    plugin = shape.get("network_plugin", "azure")
    overlay = plugin == "azure" and shape.get("network_plugin_mode", "overlay") == "overlay"
    return table["azure-overlay" if overlay else plugin]


def _reserved_cpu_m(cloud: str, vcpu: float) -> float:
    """The kubelet's CPU reservation. AKS: "Node resource reservations" (learn.microsoft.com/azure/aks/
    node-resource-reservations); EKS (amazon-eks-ami nodeadm) and GKE ("Node allocatable"): 6 % of the
    first core, 1 % of the second, 0.5 % of the next two, 0.25 % of the others."""
    if cloud == "aks":
        steps = {1: 60, 2: 100, 4: 140, 8: 180, 16: 260, 32: 420, 64: 740}
        return steps[min((c for c in steps if c >= vcpu), default=64)]
    return 1000 * (0.06 * min(vcpu, 1) + 0.01 * min(max(vcpu - 1, 0), 1) + 0.005 * min(max(vcpu - 2, 0), 2) + 0.0025 * max(vcpu - 4, 0))


def _reserved_memory_mib(cloud: str, memory_mib: float, max_pods: int) -> float:
    """The kubelet's memory reservation plus the 100Mi hard eviction threshold. AKS (1.29+): the lesser of
    20 MiB per max pod + 50 MiB and 25 % of memory; EKS: 11 MiB per max pod + 255 MiB; GKE: 25 % of the
    first 4 GiB, 20 % of the next 4, 10 % of the next 8, 6 % of the next 112, 2 % of the rest."""
    if cloud == "aks":
        reserved = min(20 * max_pods + 50, 0.25 * memory_mib)
    elif cloud == "eks":
        reserved = 11 * max_pods + 255
    else:
        reserved, rest = 0.0, memory_mib
        for size, share in ((4096, 0.25), (4096, 0.20), (8192, 0.10), (114688, 0.06), (math.inf, 0.02)):
            reserved += share * min(rest, size)
            rest = max(rest - size, 0)
    return reserved + 100


def _zone_counts(cloud: str, pools: list[Pool], misfit) -> list[Misfit]:
    if cloud != "gke":
        return []
    return [misfit(p.name, f"count {p.count} is not a multiple of its {len(p.zones)} zones (GKE puts as many nodes in each)",
                   f"make count a multiple of {len(p.zones)}") for p in pools if p.count % len(p.zones)]


# --- endpoints (iperf3, fio) -----------------------------------------------------------------


def _endpoints(cloud: str, pools: list[Pool], settings: ClusterSettings, roles: tuple[str, ...], misfit) -> list[Misfit]:
    tolerated = bool(settings.tolerations)
    candidates = {role: [p for p in pools if p.count and p.matches(cloud, settings.selector(role)) and (tolerated or not p.tainted)] for role in roles}
    problems = [
        misfit("", f"no pool takes the {role} pod (node selector {settings.selector(role) or 'none'}, untainted)",
               f"give a pool the labels {settings.selector(role)} or change target.{cloud}.node_selectors.{role}")
        for role, found in candidates.items() if not found
    ]
    if problems or len(roles) < 2:
        return problems
    servers, clients = candidates["server"], candidates["client"]
    if settings.placement == "different-node":
        nodes = {p.name: p.count for p in servers + clients}
        if sum(nodes.values()) < 2:
            return [misfit(servers[0].name, "placement different-node needs two nodes for the server and client pods, and the pools that take them have one",
                           "a second node (count: 2, or a pool per role), or placement: same-node")]
    elif settings.placement == "different-zone":
        zones = {z for p in servers + clients for z in p.zones}
        if not any(s != c for p in servers for s in p.zones for q in clients for c in q.zones):
            where = ", ".join(sorted(zones)) or "no zone"
            return [misfit("", f"placement different-zone needs the server and client pools in two zones, and they are in: {where}",
                           "set zones on the pools (AKS [\"1\"] and [\"2\"], EKS/GKE zone names of the region)")]
    elif not any(s is c for s in servers for c in clients):
        return [misfit("", "placement same-node needs one pool that takes both pods", "select the same pool for server and client")]
    return []


def _storage(cloud: str, settings: ClusterSettings, facts: dict, misfit) -> list[Misfit]:
    if settings.storage != "pvc":
        return []
    return _storage_class(cloud, settings.storage_class or facts["storage_classes"][cloud]["default"], "storage class", facts, misfit)


def _storage_class(cloud: str, name: str, what: str, facts: dict, misfit) -> list[Misfit]:
    table = facts["storage_classes"][cloud]
    driver = table["classes"].get(name)
    if driver is None:
        return [misfit("", f"{what} {name} is not one a {cloud} cluster of this module has", f"use one of {', '.join(table['classes'])}")]
    if driver not in facts["csi_drivers"][cloud]:
        return [misfit("", f"{what} {name} needs the CSI driver {driver}, which the {cloud} module does not install",
                       f"install {driver} in the cluster module, or use a class of {', '.join(facts['csi_drivers'][cloud]) or 'an installed driver'}")]
    return []


# --- clusterloader2 --------------------------------------------------------------------------


def _clusterloader2(cloud: str, pools: list[Pool], params: dict, facts: dict, config_dir: Path, misfit) -> list[Misfit]:
    testconfig = params.get("testconfig", "")
    name = testconfig.split("/")[0]
    problems = []
    if not (config_dir / testconfig).is_file():
        return [misfit("", f"CL2 config {testconfig} is not in {config_dir}", "name a config of that directory in testconfig")]
    text = (config_dir / testconfig).read_text()
    overrides = {**{k: _number(v) for k, v in _DEFAULT_PARAM.findall(text)},
                 **{f"CL2_{k.upper()}": v for k, v in params.items() if v not in ("", 0)}}
    problems += [misfit("", problem, "set it in the measurement's Params") for problem in _cl2_configs.problems(text, f"CL2 config {testconfig}")]
    cl2_nodes = [p for p in pools if not p.tainted and p.count]
    if not cl2_nodes:
        return problems + [misfit("", "CL2 runs its pods on untainted nodes, and every pool is tainted or empty", "add an untainted node pool")]
    if params.get("prometheus"):
        prometheus_class = params.get("prometheus_storage_class") or PROMETHEUS_STORAGE_CLASSES.get(cloud, "")
        problems += _storage_class(cloud, prometheus_class, "CL2 Prometheus's storage class", facts, misfit) if prometheus_class else []
    if name == "autoscale":
        return problems + _autoscale(cloud, pools, overrides, facts, misfit)
    per_pod = CL2_POD_REQUESTS.get(name)
    pods_per_node = overrides.get("CL2_PODS_PER_NODE", 0)
    for pool in cl2_nodes:
        cpu, memory, pods = pool.allocatable(cloud, facts)
        if pods_per_node > pods:
            problems.append(misfit(pool.name, f"{pods_per_node} pods per node, and a {pool.machine_size} node takes {pods} besides the system DaemonSets ({pool.max_pods} in all)",
                                   "fewer pods_per_node or a machine size that takes more pods"))
        if per_pod:
            cpu_m, memory_mib = per_pod(overrides)
            extra = CL2_PROMETHEUS if params.get("prometheus") else (0, 0)
            if pods_per_node * cpu_m + extra[0] > cpu or pods_per_node * memory_mib + extra[1] > memory:
                problems.append(misfit(pool.name, f"{pods_per_node} pods x {cpu_m}m CPU, {memory_mib}Mi{' and CL2 Prometheus (200m, 2Gi)' if params.get('prometheus') else ''} "
                                       f"exceed what a {pool.machine_size} node has left: {cpu:.0f}m CPU, {memory:.0f}Mi",
                                       "a larger machine size or fewer pods_per_node"))
    return problems


def _autoscale(cloud: str, pools: list[Pool], overrides: dict, facts: dict, misfit) -> list[Misfit]:
    scaled = [p for p in pools if p.max_count is not None]
    if not scaled:
        return [misfit("", "the autoscale config needs an autoscaled pool, and none has min_count/max_count",
                       "give a node pool min_count and max_count (the cluster autoscaler's bounds)")]
    fixed = sum(p.count for p in pools if p.max_count is None)
    pool = scaled[0]
    cpu, _, pods = pool.allocatable(cloud, facts)
    request = _millicores(str(overrides.get("CL2_POD_CPU_REQUEST", "1000m")))
    per_node = min(int(cpu // request), pods) if request else pods
    if per_node < 1:
        return [misfit(pool.name, f"a pod requests {request}m CPU, and a {pool.machine_size} node has {cpu:.0f}m left", "a smaller pod_cpu_request or a larger machine size")]
    problems = []
    down, up, pod_count = overrides.get("CL2_NODES_AFTER_SCALE_DOWN", 3), overrides.get("CL2_NODES_AFTER_SCALE_UP", 10), overrides.get("CL2_POD_COUNT", 100)
    if fixed + pool.min_count != down:
        problems.append(misfit(pool.name, f"after scale down the cluster has {fixed} fixed + {pool.min_count} min_count nodes, not nodes_after_scale_down {down}",
                               f"min_count {down - fixed} or nodes_after_scale_down {fixed + pool.min_count}"))
    needed = max(math.ceil(pod_count / per_node), pool.min_count)
    if needed > pool.max_count:
        problems.append(misfit(pool.name, f"{pod_count} pods need {needed} nodes ({per_node} per {pool.machine_size}), above max_count {pool.max_count}",
                               f"max_count {needed} or fewer pods"))
    elif fixed + needed != up:
        problems.append(misfit(pool.name, f"{pod_count} pods at {per_node} per node make {fixed + needed} nodes in all, not nodes_after_scale_up {up}",
                               f"pod_count {(up - fixed) * per_node} for {up} nodes"))
    return problems


# --- cluster CRUD ---------------------------------------------------------------------------


def _cluster_crud(cloud: str, shape: dict, scenario: Scenario, facts: dict, misfit) -> list[Misfit]:
    """The pool each case makes needs a name of its own in the cluster; the cluster, with that pool
    scaled up, is checked as any other."""
    names = {"system", *(pool["name"] for pool in shape.get("node_pools", []))}
    problems = []
    for case in scenario.cases:
        params = {**scenario.defaults, **case.params}
        if params["pool"] in names:
            problems.append(misfit(params["pool"], "the cluster has a pool of that name, and the test creates and deletes its own",
                                   "give the case's pool another name"))
        made = {"name": params["pool"], "count": params["scale_count"], "machine_size": params[f"{cloud}_machine_size"]}
        _, misfits = _pools(cloud, {**shape, "node_pools": [*shape.get("node_pools", []), made]}, facts, misfit)
        problems += [found for found in misfits if found not in problems]
    return problems


# --- kperf -----------------------------------------------------------------------------------


def _kperf(cloud: str, pools: list[Pool], params: dict, facts: dict, misfit) -> list[Misfit]:
    runkperf = facts["runkperf"]
    if not params.get("bench"):
        runners = params.get("runners", 10)
        slots = sum(p.allocatable(cloud, facts)[2] * p.count for p in pools if not p.tainted)
        return [] if runners <= slots else [misfit("", f"{runners} runner pods, and the untainted nodes take {slots}", "more or larger nodes")]
    bench = runkperf["benches"].get(params["bench"])
    if bench is None:
        return [misfit("", f"runkperf bench {params['bench']} is not in cluster_facts.yaml", f"use one of {', '.join(runkperf['benches'])}")]
    problems = []
    for option, pods, cpu_m in (("rg_affinity", bench["runners"], 0), ("vc_affinity", bench["virtual_nodes"], KWOK_CONTROLLER_CPU_M)):
        affinity = params.get(option) or runkperf[option]
        key, _, values = affinity.partition("=")
        matched = [p for p in pools if p.count and p.node_labels(cloud).get(key) in values.split(",")]
        if not matched:
            problems.append(misfit("", f"--{option.replace('_', '-')} {affinity} matches no pool, so its pods never schedule",
                                   f"set {option} to a label of a declared pool (e.g. telescope-pool=<pool>), or declare a pool that has it"))
            continue
        free = [p.allocatable(cloud, facts) for p in matched]
        slots = sum(f[2] * p.count for f, p in zip(free, matched))
        cpu = sum(f[0] * p.count for f, p in zip(free, matched))
        if pods > slots or pods * cpu_m > cpu:
            problems.append(misfit(matched[0].name, f"{pods} pods of --{option.replace('_', '-')} and the pools it matches take {slots}", "more nodes in that pool"))
    idle = runkperf["eks_idle_instance_type"]
    if cloud == "eks" and not any(p.machine_size == idle and p.count for p in pools):
        problems.append(misfit("", f"runkperf bench --eks takes the providerID of a node of instance type {idle}, and no pool has one",
                               f"declare a pool of one {idle} node (e.g. name: idle)"))
    return problems


def _millicores(text: str) -> float:
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return text
