"""A provisioned target's module applied again with changed variables (``provision/applied.py``, the
``target_terraform`` fixture): on the real local target through the plugin, and on
``doubles/fake_cluster_module`` by hand."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_telescope.errors import ProvisionError
from pytest_telescope.progress import Progress
from pytest_telescope.provision.applied import AppliedModule
from pytest_telescope.provision.pool import destroy
from pytest_telescope.provision.terraform import TerraformRunner, copy_module
from pytest_telescope.redact import Redactor

FAKE_CLUSTER_MODULE = Path(__file__).resolve().parents[1] / "doubles" / "fake_cluster_module"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the local target shapes its link in namespaces only as root")

SHAPED_AGAIN_SUITE = """
import json
from pathlib import Path


def qdiscs(endpoint) -> str:
    return endpoint.run(["tc", "qdisc", "show"]).stdout


def test_shaped_again(target, target_terraform):
    applied = target_terraform.apply(rate_mbit=50)
    # Any change of the local module's settings replaces its two resources.
    assert sorted({(change.address, change.action) for change in applied.resources}) == [
        ("terraform_data.target", "create"), ("terraform_data.target", "delete"),
        ("terraform_data.teardown", "create"), ("terraform_data.teardown", "delete"),
    ]
    assert applied.seconds >= max(change.seconds for change in applied.resources) > 0
    assert "rate 50Mbit" in qdiscs(target.endpoint("server")) + qdiscs(target.endpoint("client"))
    assert target_terraform.variables["rate_mbit"] == 50 and "rate_mbit" not in target_terraform.provisioned
    Path("namespaces.json").write_text(json.dumps([target.endpoint(role).namespace for role in ("server", "client")]))


def test_then_as_it_was_provisioned(target, target_terraform):
    assert "rate" not in qdiscs(target.endpoint("server")) + qdiscs(target.endpoint("client"))
    assert target_terraform.variables == target_terraform.provisioned
"""


@needs_root
def test_the_local_target_applied_again_is_shaped_then_set_back_and_destroyed(local_suite):
    local_suite.makepyfile(test_shaped_again=SHAPED_AGAIN_SUITE)

    result = local_suite.runpytest("-m", "local")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*apply local with rate_mbit changed: done in*",
        "*apply local as it was provisioned: done in*",
        "*destroy local: done in*",
    ])
    namespaces = json.loads((local_suite.path / "namespaces.json").read_text())
    assert len(namespaces) == 2 and not any(Path("/var/run/netns", name).exists() for name in namespaces)
    assert not any((local_suite.path / ".telescope").iterdir())


@pytest.fixture
def fake_cluster(tmp_path, monkeypatch):
    """The fake cluster module applied as the pool applies a target's module, with one pool of one node."""
    monkeypatch.setenv("TF_VAR_fake_kubeconfig", "{}")
    monkeypatch.setenv("TF_VAR_fake_nodes_dir", str(tmp_path / "nodes"))
    (tmp_path / "nodes").mkdir()
    directory = tmp_path / "state" / "aks-1234abcd"
    directory.mkdir(parents=True)
    module_dir = copy_module(FAKE_CLUSTER_MODULE, directory / "terraform")
    variables = {
        "node_pools": [{"name": "keep", "count": 1, "machine_size": "Standard_D2s_v5"}],
        "owner": "me", "cluster_name": "ts-1234abcd", "run_id": "r1", "scenario": "aks-1234abcd", "deletion_delay": "7200s",
    }
    (directory / "module").write_text(str(module_dir))
    (directory / "spec").write_text("aks (node_pools=...)")
    (directory / "variables.json").write_text(json.dumps(variables))
    progress = Progress(lambda text: None, Redactor())
    runner = TerraformRunner(module_dir, directory / "work", variables, progress, "aks")
    runner.init()
    runner.apply()
    yield AppliedModule(directory, progress, frozenset({"node_pools"}))
    destroy(directory, progress)
    assert not list((tmp_path / "nodes").iterdir())


def test_a_change_is_applied_to_the_same_state_and_recorded_for_the_destroy(fake_cluster, tmp_path):
    more = [{"name": "keep", "count": 2, "machine_size": "Standard_D2s_v5"}]
    applied = fake_cluster.apply(node_pools=more)

    assert sorted((change.address, change.action) for change in applied.resources) == [
        ('terraform_data.node["keep-1"]', "create"), ('terraform_data.pool["keep"]', "update"),
    ]
    assert sorted(path.name for path in (tmp_path / "nodes").iterdir()) == ["keep-0", "keep-1"]
    assert fake_cluster.variables["node_pools"] == more and fake_cluster.provisioned["node_pools"][0]["count"] == 1
    restored = fake_cluster.restore()
    assert [(change.address, change.action) for change in restored.resources if "node" in change.address] == [('terraform_data.node["keep-1"]', "delete")]
    assert fake_cluster.restore() is None  # nothing left to set back


def test_a_variable_the_module_lacks_or_the_plugin_sets_is_refused_before_terraform_runs(fake_cluster):
    with pytest.raises(ProvisionError, match=r"^node_pool: not a variable of .*fake_cluster_module \(it has: cluster_name, "):
        fake_cluster.apply(node_pool=[])
    with pytest.raises(ProvisionError, match="^cluster_name: set by the plugin for every run, not by a suite$"):
        fake_cluster.apply(cluster_name="ts-other")
    assert fake_cluster.restore() is None
