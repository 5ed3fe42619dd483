"""cluster_crud: the operations of a case, the checks of its parameters, and the samples of what was timed."""

import re
from pathlib import Path

import pytest
import yaml

from pytest_telescope import scenario
from pytest_telescope.errors import ProvisionError, ScenarioError
from pytest_telescope.samples import Sample
from pytest_telescope.tools import case_parameters, cluster_crud
from pytest_telescope.tools._params import ParameterError

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "benchmarks" / "kubernetes" / "cluster-crud.yaml"
KEPT = {"name": "bench", "count": 3, "machine_size": "Standard_D4s_v5", "labels": {"role": "bench"}}


def test_a_pool_is_created_scaled_up_back_down_and_deleted_beside_the_clusters_own():
    operations = cluster_crud.command([KEPT], "aks", create_count=1, scale_count=3, pause=30)

    assert [(o.name, o.count, o.pause) for o in operations] == [("create", 1, 0), ("scale_up", 3, 30), ("scale_down", 1, 30), ("delete", 0, 30)]
    crud = {"name": "crud", "machine_size": "Standard_D2s_v5"}
    assert [o.node_pools for o in operations] == [
        [KEPT, {**crud, "count": 1}], [KEPT, {**crud, "count": 3}], [KEPT, {**crud, "count": 1}], [KEPT],
    ]
    assert {o.pool for o in operations} == {"crud"}


def test_a_case_names_the_pools_machine_and_count_on_a_cloud():
    (operation, *_) = cluster_crud.command([], "eks", pool="gpu", eks_machine_size="p4d.24xlarge", create_count=0)
    assert operation.node_pools == [{"name": "gpu", "count": 0, "machine_size": "p4d.24xlarge"}]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pool": "System-1"}, "pool must be 1-12 characters of [a-z0-9] starting with a letter, not system, got 'System-1'"),
        ({"pool": "system"}, "pool must be 1-12 characters of [a-z0-9] starting with a letter, not system, got 'system'"),
        ({"create_count": -1}, "create_count must be a whole number >= 0, got -1"),
        ({"create_count": 2, "scale_count": 2}, "scale_count must be a whole number > create_count (2), got 2"),
        ({"gke_machine_size": ""}, "gke_machine_size must name a machine size, got ''"),
        ({"pause": -5}, "pause must be a number of seconds >= 0, got -5"),
    ],
)
def test_a_case_the_operations_would_not_take_is_refused(params, message):
    with pytest.raises(ParameterError, match=f"^{re.escape(message)}$"):
        cluster_crud.check({**case_parameters(cluster_crud), **params})


POOL = 'google_container_node_pool.this["crud"]'


def test_what_terraform_timed_is_samples():
    scale_up = cluster_crud.command([], "gke")[1]
    timed = cluster_crud.parse(scale_up, 41.5, [(POOL, "update", 39.25, 1_800_000_002.0)])
    labels = {"pool": "crud", "nodes": "3", "operation": "scale_up"}
    assert timed == [
        Sample("node_pool_apply_duration", 41.5, "s", labels),
        Sample("node_pool_resource_duration", 39.25, "s", {**labels, "address": POOL, "action": "update"}),
    ]
    assert {s.metric for s in timed} <= set(cluster_crud.METRICS)


def test_an_operation_is_timed_from_the_first_change_to_the_pools_resources_until_its_nodes_are_ready():
    """Not from Terraform's plan, nor from a change to another resource of the cluster: the pool's own
    (on EKS its launch template and node group) are keyed by its name."""
    create = cluster_crud.command([], "eks")[0]
    changes = [
        ('aws_eks_cluster.this', "update", 30.0, 1_800_000_000.0),
        ('aws_launch_template.this["crud"]', "create", 2.5, 1_800_000_030.0),
        ('aws_eks_node_group.this["crud"]', "create", 150.0, 1_800_000_032.5),
        ('aws_eks_node_group.this["crudx"]', "update", 1.0, 1_800_000_001.0),
    ]
    assert cluster_crud.duration(create, changes, ready=1_800_000_200.0) == Sample("node_pool_create_duration", 170.0, "s", {"pool": "crud", "nodes": "1"})
    with pytest.raises(ProvisionError, match=r'^node pool crud: the create changed no resource keyed \["crud"\]: nothing to time it from'):
        cluster_crud.duration(create, changes[:1], ready=1_800_000_200.0)


def test_the_shipped_suite_has_a_cluster_of_its_own_on_each_cloud():
    """It changes its cluster: a suite that shared it (the same `cluster`) would be measured on a cluster
    with a pool coming and going."""
    suite = scenario.load(SUITE)
    assert suite.clouds == ("aks", "eks", "gke")
    others = [scenario.load(path) for path in sorted(REPO.glob("benchmarks/*/*.yaml")) if path != SUITE]
    for cloud in suite.clouds:
        own = suite.target_settings(cloud)["cluster"]
        sharing = [other.path.name for other in others if other.target_settings(cloud).get("cluster") == own]
        assert not sharing, f"{cloud}: {sharing} share the CRUD suite's cluster"
    assert [case.id for case in suite.cases] == ["one-to-three-nodes", "zero-to-two-nodes"]
    # A baseline judges the operations; Terraform's part and each resource's are shown only.
    assert suite.judged == {f"node_pool_{operation}_duration" for operation in ("create", "scale_up", "scale_down", "delete")}


def test_a_case_is_checked_when_its_scenario_is_loaded(tmp_path):
    path = tmp_path / "crud.yaml"
    path.write_text(yaml.safe_dump({"benchmark": "cluster_crud", "params": {"scale_count": 0}}))
    with pytest.raises(ScenarioError, match=r"crud.yaml: params.scale_count: scale_count must be a whole number > create_count \(1\), got 0"):
        scenario.load(path)
