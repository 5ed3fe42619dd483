"""The Kubernetes target's nodes, through the real kubernetes client, against ``FakeApiServerDouble``:
validation waits for the node pools, a pool is waited for after it was made or scaled, the nodes each
role's pod may go to, and what placement and the settings need of them.
"""

from __future__ import annotations

import pytest
from doubles.fake_apiserver import FakeApiServerDouble, node_json

from pytest_telescope.errors import ProvisionError
from pytest_telescope.targets.kubernetes import manifests
from pytest_telescope.targets.kubernetes.nodes import NodeState, check_nodes, list_selector
from pytest_telescope.targets.kubernetes.settings import ClusterSettings
from pytest_telescope.targets.kubernetes.target import KubernetesTarget, Waiting


@pytest.fixture
def api():
    with FakeApiServerDouble() as double:
        yield double


def make_target(api, settings=None, *, cloud="aks", node_pools=None, **kwargs) -> KubernetesTarget:
    return KubernetesTarget(
        api.api_client(), cloud, settings or {}, "20261123T122302Z-dc5148",
        kubeconfig="/nonexistent/kubeconfig", node_pools=node_pools, poll_interval=0, **kwargs,
    )


AKS_POOLS = {"system": {"count": 1, "labels": {}}, "user": {"count": 2, "labels": {"role": "bench"}}}
CRITICAL_ONLY = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}


def aks_node(name, pool, zone="1", taints=(), **kwargs):
    labels = {"kubernetes.azure.com/agentpool": pool, manifests.ZONE_TOPOLOGY: f"eastus2-{zone}"}
    if pool == "user":
        labels["role"] = "bench"
    return node_json(name, labels=labels, taints=[*taints, *([CRITICAL_ONLY] if pool == "system" else [])], **kwargs)


def test_validate_passes_when_every_pool_has_its_nodes(api):
    api.nodes = [aks_node("sys-0", "system"), aks_node("user-0", "user"), aks_node("user-1", "user", zone="2")]
    target = make_target(api, node_pools=AKS_POOLS)
    target.validate()
    assert target.describe().startswith("Kubernetes v1.30.4, 3 of 3 nodes ready")


def test_validate_timeout_lists_the_nodes_not_ready_with_conditions_and_taints(api):
    not_ready_taint = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
    api.nodes = [
        aks_node("sys-0", "system"),
        aks_node("user-0", "user"),
        aks_node("user-1", "user", ready=False, taints=[not_ready_taint]),
    ]
    target = make_target(api, {"ready_timeout": 0}, node_pools=AKS_POOLS)
    with pytest.raises(ProvisionError) as error:
        target.validate()
    message = str(error.value)
    assert "aks cluster: not ready for benchmarks after 0 s" in message
    assert "node pool user: 1 of 2 nodes Ready and schedulable (kubernetes.azure.com/agentpool=user,role=bench)" in message
    assert "user-1: Ready=False (KubeletNotReady: PLEG is not healthy); taints node.kubernetes.io/not-ready:NoSchedule" in message
    assert "sys-0" not in message and "user-0" not in message


def test_validate_waits_for_nodes_that_become_ready(api):
    starting = [aks_node("sys-0", "system"), aks_node("user-0", "user"), aks_node("user-1", "user", ready=False)]
    api.node_lists = [starting, starting, [aks_node("sys-0", "system"), aks_node("user-0", "user"), aks_node("user-1", "user")]]
    waited = []
    make_target(api, node_pools=AKS_POOLS, echo=waited.append).validate()
    assert api.paths("GET").count("/api/v1/nodes") == 3
    assert waited == ["waiting for nodes: node pool user: 1 of 2 nodes Ready and schedulable (kubernetes.azure.com/agentpool=user,role=bench)"] * 2


def test_a_long_wait_for_nodes_says_how_it_goes_without_verbose_output(api, monkeypatch):
    monkeypatch.setattr(Waiting, "HEARTBEAT_SECONDS", 0.0)
    starting = [aks_node("sys-0", "system"), aks_node("user-0", "user"), aks_node("user-1", "user", ready=False)]
    api.node_lists = [starting, [aks_node("sys-0", "system"), aks_node("user-0", "user"), aks_node("user-1", "user")]]
    said = []
    make_target(api, node_pools=AKS_POOLS, say=said.append).validate()
    (line,) = said
    assert line.startswith("aks cluster: waiting for nodes: node pool user: 1 of 2 nodes Ready and schedulable")
    assert line.endswith(" s of 900 s)")


def test_a_pool_scaled_up_is_waited_for_until_its_new_nodes_are_ready(api):
    one, joining = [aks_node("crud-0", "crud")], [aks_node("crud-0", "crud"), aks_node("crud-1", "crud", ready=False)]
    api.node_lists = [one, joining, [aks_node("crud-0", "crud"), aks_node("crud-1", "crud")]]
    make_target(api, {"ready_timeout": 5}).wait_for_pool("crud", 2)
    assert api.node_queries == [{"labelSelector": "kubernetes.azure.com/agentpool=crud", "resourceVersion": "0"}] * 3


def test_a_pool_scaled_down_or_deleted_is_waited_for_until_its_nodes_are_gone(api):
    api.node_lists = [[aks_node("crud-0", "crud"), aks_node("crud-1", "crud")], [aks_node("crud-0", "crud")], []]
    target = make_target(api, {"ready_timeout": 5})
    target.wait_for_pool("crud", 1)
    target.wait_for_pool("crud", 0)
    assert len(api.node_queries) == 3


def test_a_pool_that_does_not_reach_its_count_in_time_says_what_it_has(api):
    api.nodes = [aks_node("crud-0", "crud"), aks_node("crud-1", "crud", ready=False)]
    with pytest.raises(ProvisionError) as error:
        make_target(api, {"ready_timeout": 0}, cloud="eks").wait_for_pool("crud", 3)
    message = str(error.value)
    assert message.startswith("eks cluster: not ready for benchmarks after 0 s:\n")
    assert "node pool crud: 0 nodes, 0 of them Ready and schedulable, expected 3 (eks.amazonaws.com/nodegroup=crud)" in message


def test_on_a_large_cluster_validate_lists_only_the_benchmarks_nodes_from_the_cache(api):
    pools = {"server": {"count": 1, "labels": {"telescope-role": "server"}}, "client": {"count": 1, "labels": {"telescope-role": "client"}}}
    by_role = {"node_selectors": {"server": {"telescope-role": "server"}, "client": {"telescope-role": "client"}}}
    others = [aks_node(f"other-{n}", "other") for n in range(1000)]
    bench = [
        node_json(f"{role}-0", labels={"kubernetes.azure.com/agentpool": role, "telescope-role": role}) for role in ("server", "client")
    ]
    api.node_lists = [others[:500] + bench[:1], others + bench]  # the client's node joins late
    target = make_target(api, by_role, node_pools=pools)
    target.validate()
    # validate() waits for the pools (the pods' nodes are checked when a test asks for them).
    assert api.node_queries == [{"labelSelector": "kubernetes.azure.com/agentpool in (client,server)", "resourceVersion": "0"}] * 2
    assert target.metadata["nodes"]["count"] == 1002  # the whole cluster, listed once for the record
    assert api.node_queries[-1] == {"resourceVersion": "0"}


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        ([{"agentpool": "system"}, {"agentpool": "user", "role": "bench"}], "agentpool in (system,user)"),
        ([{"agentpool": "user", "role": "bench"}, {"role": "bench"}], "role in (bench)"),
        ([{"agentpool": "system"}, {"role": "bench"}], ""),  # no key in common: every node
        ([{"agentpool": "system"}, {}], ""),  # a pod that may go anywhere: every node
        ([], ""),
    ],
)
def test_one_list_selector_covers_every_selector(selectors, expected):
    assert list_selector(selectors) == expected


def test_a_suite_without_endpoints_validates_on_one_node(api):
    """Defect 1: a CL2 or kperf suite never asks for the server and client pods, so the default
    different-node placement must not hold its validation on a cluster of one node."""
    api.nodes = [aks_node("sys-0", "system")]
    target = make_target(api, {"ready_timeout": 0}, node_pools={"system": {"count": 1, "labels": {}}})
    target.validate()
    iperf3 = make_target(api, {"ready_timeout": 0, "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}]})
    iperf3.validate()
    with pytest.raises(ProvisionError, match="placement different-node: needs two nodes, and only sys-0 can take the pods"):
        iperf3.endpoints("server", "client")
    assert not api.paths("POST")  # no pod made


def test_one_endpoint_needs_a_node_for_its_role_only():
    nodes = [state("a", labels={"role": "bench"})]
    settings = ClusterSettings.of({"node_selectors": {"server": {"role": "none"}}})
    assert check_nodes(nodes, {}, None, settings, ("client",)) == []
    assert check_nodes(nodes, {}, None, settings, ("server",))[0].startswith("no Ready, schedulable node for the server pod")


def test_the_nodes_a_roles_pod_may_go_to_are_listed_once_by_its_selector(api):
    api.nodes = [aks_node("sys-0", "system"), aks_node("user-0", "user"), aks_node("user-1", "user", cordoned=True),
                 aks_node("user-2", "user", ready=False), node_json("other-0", labels={"role": "other"})]
    target = make_target(api, {"node_selectors": {"server": {"role": "bench"}}})
    # The server's selector picks the user pool; the client has none, but the system pool's taint keeps it off.
    assert target.role_nodes() == {"server": ["user-0"], "client": ["user-0", "other-0"]}
    assert len(api.node_queries) == 1
    assert target.endpoint_nodes() == {}
    target.endpoint("server")
    assert target.endpoint_nodes() == {"server": "user-0"}


def test_a_cordoned_node_does_not_count(api):
    api.nodes = [aks_node("sys-0", "system"), aks_node("user-0", "user"), aks_node("user-1", "user", cordoned=True)]
    with pytest.raises(ProvisionError, match=r"user-1: cordoned \(unschedulable\)"):
        make_target(api, {"ready_timeout": 0}, node_pools=AKS_POOLS).validate()


def test_an_unreachable_api_server_names_the_kubeconfig(api):
    target = make_target(api)
    api.__exit__(None, None, None)
    with pytest.raises(ProvisionError, match=r"aks cluster: read the version: .*\(kubeconfig /nonexistent/kubeconfig\)"):
        target.validate()


def state(name, *, zone="1", ready=True, labels=None, taints=(), cordoned=False):
    return NodeState(
        name=name, labels={manifests.ZONE_TOPOLOGY: zone, **(labels or {})}, ready=ready, cordoned=cordoned,
        taints=tuple({"key": k, "value": v, "effect": e} for k, v, e in taints), conditions=(), info={},
    )


def problems(nodes, **settings):
    return check_nodes(nodes, {}, None, ClusterSettings.of(settings))


def test_placement_different_zone_needs_nodes_in_two_zones():
    assert problems([state("a"), state("b")], placement="different-zone") == [
        "placement different-zone: needs nodes in two zones (topology.kubernetes.io/zone); the usable nodes are in: 1"
    ]
    assert problems([state("a"), state("b", zone="2")], placement="different-zone") == []


def test_placement_different_node_needs_two_nodes_and_same_node_one_for_both():
    assert problems([state("a")]) == ["placement different-node: needs two nodes, and only a can take the pods"]
    assert problems([state("a")], placement="same-node") == []
    split = {"node_selectors": {"server": {"pool": "s"}, "client": {"pool": "c"}}}
    nodes = [state("a", labels={"pool": "s"}), state("b", labels={"pool": "c"})]
    assert problems(nodes, placement="same-node", **split) == [
        "placement same-node: no node can take both the server and the client pod"
    ]
    assert problems(nodes, **split) == []


def test_a_taint_the_pods_do_not_tolerate_leaves_them_no_node():
    tainted = [state("a", taints=[("dedicated", "bench", "NoSchedule")]), state("b", taints=[("dedicated", "bench", "NoSchedule")])]
    assert problems(tainted)[0].startswith("no Ready, schedulable node for the server pod")
    equal = {"key": "dedicated", "operator": "Equal", "value": "bench", "effect": "NoSchedule"}
    assert problems(tainted, tolerations=[equal]) == []
    assert problems(tainted, tolerations=[{"operator": "Exists"}]) == []
    assert problems(tainted, tolerations=[{**equal, "value": "other"}]) != []
    soft = [state("a", taints=[("spot", "", "PreferNoSchedule")]), state("b")]
    assert problems(soft) == []


def test_settings_are_checked_by_key():
    with pytest.raises(ProvisionError, match=r"target settings: placment: unknown key"):
        ClusterSettings.of({"placment": "same-node"})
    with pytest.raises(ProvisionError, match=r"target settings: placement: 'same-rack' is not one of"):
        ClusterSettings.of({"placement": "same-rack"})
    with pytest.raises(ProvisionError, match=r"target settings: node_selectors.db: not a role"):
        ClusterSettings.of({"node_selectors": {"db": {}}})
    with pytest.raises(ProvisionError, match=r"target settings: host_network: 'yes' is not true or false"):
        ClusterSettings.of({"host_network": "yes"})
