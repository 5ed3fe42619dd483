"""The cluster CRUD suite (``benchmarks/kubernetes/test_cluster_crud.py``) through the plugin.

Its aks target is made by ``doubles/fake_cluster_module``, standing in for ``terraform/azure`` and
applied, then applied again for each operation, by the real Terraform: a node pool is a
``terraform_data``, each of its nodes another that writes a file. ``FakeApiServerDouble`` lists a
Ready node for each such file, so the suite waits for the nodes that the module's apply made.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from doubles.fake_apiserver import FakeApiServerDouble, node_json

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "benchmarks" / "kubernetes"
FAKE_CLUSTER_MODULE = REPO / "tests" / "doubles" / "fake_cluster_module"
AGENTPOOL = "kubernetes.azure.com/agentpool"


@pytest.fixture
def crud_suite(benchmark_suite, monkeypatch):
    """The suite's test and scenario as they are, but for the pause between operations and the wait
    for nodes; the fake module as the user's terraform/azure; a fake cluster whose nodes it makes."""
    pytester = benchmark_suite
    shutil.copy(SUITE / "test_cluster_crud.py", pytester.path / "test_suite_cluster_crud.py")  # tests/ has a module of its name
    scenario = yaml.safe_load((SUITE / "cluster-crud.yaml").read_text())
    scenario["params"]["pause"] = 0
    scenario["target"]["aks"]["ready_timeout"] = 30
    (pytester.path / "cluster-crud.yaml").write_text(yaml.safe_dump(scenario))
    shutil.copytree(FAKE_CLUSTER_MODULE, pytester.path / "terraform" / "azure")
    nodes = pytester.path / "nodes"
    nodes.mkdir()
    with FakeApiServerDouble() as api:
        api.nodes_from = lambda: [node_json(n.name, labels={AGENTPOOL: n.name.rsplit("-", 1)[0]}) for n in sorted(nodes.iterdir())]
        monkeypatch.setenv("TF_VAR_fake_kubeconfig", api.kubeconfig())
        monkeypatch.setenv("TF_VAR_fake_nodes_dir", str(nodes))
        pytester.makeini("[pytest]\ntelescope_prometheus = off\naddopts = -p no:terraform -p no:cacheprovider\n")
        yield pytester


def read_rows(pytester) -> list[dict]:
    (results,) = (pytester.path / "results").glob("*/results.jsonl")
    return [json.loads(line) for line in results.read_text().splitlines()]


SLOW_CLUSTER = """
# The cluster, changed slowly by every apply before its pools are (as a cloud's cluster is refreshed).
resource "terraform_data" "cluster" {
  triggers_replace = var.node_pools
  provisioner "local-exec" {
    command = "sleep 1"
  }
}
"""


def test_a_pool_is_created_scaled_up_and_down_and_deleted_each_operation_timed(crud_suite):
    module = crud_suite.path / "terraform" / "azure" / "main.tf"
    module.write_text(module.read_text().replace(
        'resource "terraform_data" "pool" {\n  for_each = local.pools\n',
        'resource "terraform_data" "pool" {\n  for_each   = local.pools\n  depends_on = [terraform_data.cluster]\n',
    ) + SLOW_CLUSTER)

    result = crud_suite.runpytest("-m", "aks", "-k", "one-to-three-nodes")

    result.assert_outcomes(passed=1)
    rows = [row for row in read_rows(crud_suite) if row["benchmark"] == "cluster_crud"]
    by_metric = {}
    for row in rows:
        by_metric.setdefault(row["metric"], []).append(row)
    operations = ("create", "scale_up", "scale_down", "delete")
    totals = [by_metric[f"node_pool_{operation}_duration"] for operation in operations]
    assert [[row["labels"] for row in total] for total in totals] == [
        [{"pool": "crud", "nodes": nodes}] for nodes in ("1", "3", "1", "0")
    ]
    assert all(row["unit"] == "s" and row["better"] == "lower" and row["slo"]["verdict"] == "pass" for (row,) in totals)

    resources = [r for r in by_metric["node_pool_resource_duration"] if r["labels"]["address"] != "terraform_data.cluster"]
    assert sorted((r["labels"]["operation"], r["labels"]["address"], r["labels"]["action"]) for r in resources) == sorted([
        ("create", 'terraform_data.pool["crud"]', "create"),
        ("create", 'terraform_data.node["crud-0"]', "create"),
        ("scale_up", 'terraform_data.pool["crud"]', "update"),
        ("scale_up", 'terraform_data.node["crud-1"]', "create"),
        ("scale_up", 'terraform_data.node["crud-2"]', "create"),
        ("scale_down", 'terraform_data.pool["crud"]', "update"),
        ("scale_down", 'terraform_data.node["crud-1"]', "delete"),
        ("scale_down", 'terraform_data.node["crud-2"]', "delete"),
        ("delete", 'terraform_data.node["crud-0"]', "delete"),
        ("delete", 'terraform_data.pool["crud"]', "delete"),
    ])
    # A node takes the module's sleep to create; an operation, from its pool's change until its nodes
    # are there: not the apply's plan, nor the cluster's second before the pool's change.
    assert min(r["value"] for r in resources if r["labels"]["action"] == "create" and ".node[" in r["labels"]["address"]) >= 0.3
    applies = {row["labels"]["operation"]: row["value"] for row in by_metric["node_pool_apply_duration"]}
    assert list(applies) == list(operations)
    assert all(applies[operation] > 1 for operation in operations)
    (create,), (scale_up,) = totals[:2]
    assert 0.3 <= create["value"] < applies["create"] - 0.8 and 0.3 <= scale_up["value"] < applies["scale_up"] - 0.8
    # The run's destroy removed the target, as it was provisioned: no node, no state.
    assert not list((crud_suite.path / "nodes").iterdir())
    assert not any((crud_suite.path / ".telescope").iterdir())


def test_after_a_failed_scale_up_the_pool_is_scaled_down_and_deleted_all_timed(crud_suite):
    """The cloud refuses the scale up's second node: as Telescope does, the pool is then scaled down
    and deleted, each timed; the test fails with Terraform's error of the scale up and keeps what it
    timed of it too."""
    module = crud_suite.path / "terraform" / "azure" / "main.tf"
    module.write_text(module.read_text().replace(
        'command     = "sleep 0.3',
        'command     = "test $(basename $FILE) != crud-1 || { echo no room for a second node >&2; exit 1; }; sleep 0.3',
    ))

    result = crud_suite.runpytest("-m", "aks", "-k", "one-to-three-nodes")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*scale_up: terraform apply failed (status 1)*", "*no room for a second node*"])
    rows = [row for row in read_rows(crud_suite) if row["benchmark"] == "cluster_crud"]
    timed = {(row["metric"], row["labels"].get("operation"), row["labels"].get("address")) for row in rows}
    assert {(f"node_pool_{operation}_duration", None, None) for operation in ("create", "scale_down", "delete")} <= timed
    assert {("node_pool_apply_duration", "scale_up", None), ("node_pool_resource_duration", "scale_up", 'terraform_data.node["crud-2"]')} <= timed
    assert not any(metric == "node_pool_scale_up_duration" for metric, _, _ in timed)
    # The delete left the cluster as it was provisioned: nothing to set back when the test ends.
    assert "as it was provisioned" not in result.stdout.str()
    assert not list((crud_suite.path / "nodes").iterdir())


SECOND_CASE_WAITS = """

@pytest.fixture(autouse=True)
def the_second_case_asks_for_the_cluster_while_the_first_fails(request):
    import pathlib, time
    if "zero-to-two-nodes" in request.node.name:
        while not pathlib.Path({refused!r}).exists():
            time.sleep(0.05)
"""


def test_under_xdist_a_failed_case_leaves_the_other_the_cluster_as_it_was_provisioned(crud_suite):
    """The two cases share the cluster on two workers. The cloud refuses the first node asked of it,
    the first case's: that case fails with its pool in the module's variables, and is set back before
    the other case, waiting for the cluster meanwhile, has it; which then starts from the
    provisioned pools, not from a pool of the first case's."""
    refused = crud_suite.path / "refused"
    module = crud_suite.path / "terraform" / "azure" / "main.tf"
    module.write_text(module.read_text().replace(
        'command     = "sleep 0.3',
        f'command     = "test -e {refused} || {{ touch {refused}; echo no room for a node >&2; exit 1; }}; sleep 0.3',
    ))
    conftest = crud_suite.path / "conftest.py"
    conftest.write_text(conftest.read_text() + SECOND_CASE_WAITS.format(refused=str(refused)))

    result = crud_suite.runpytest_subprocess("-m", "aks", "-n", "2", "-p", "xdist")

    result.assert_outcomes(passed=1, failed=1)
    # The first case is set back before the other applies anything.
    result.stdout.fnmatch_lines([
        "*with node_pools changed: failed after*", "*as it was provisioned: done in*", "*with node_pools changed: done in*",
        "*no room for a node*", "FAILED *one-to-three-nodes*",
    ])
    rows = [row for row in read_rows(crud_suite) if row["case"] == "zero-to-two-nodes"]
    assert {row["metric"] for row in rows} >= {f"node_pool_{operation}_duration" for operation in ("create", "scale_up", "scale_down", "delete")}
    assert not list((crud_suite.path / "nodes").iterdir())
    assert not any((crud_suite.path / ".telescope").iterdir())
