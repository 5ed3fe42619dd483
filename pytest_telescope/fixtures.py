"""The fixtures a benchmark asks for: its target and case, its target's Terraform module,
``record_samples``, the tools' binaries and image, kwok virtual nodes. Registered by the
plugin's ``pytest_configure``."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from pytest_telescope import process
from pytest_telescope import scenario as scenarios
from pytest_telescope.options import path_setting, setting
from pytest_telescope.provision.applied import AppliedModule
from pytest_telescope.session import KERNEL, MEASUREMENTS, RECORDER, TELESCOPE
from pytest_telescope.shard import parameter
from pytest_telescope.targets import Target, TargetSpec
from pytest_telescope.targets.kubernetes import KubernetesTarget, kwok
from pytest_telescope.tools import clusterloader2
from pytest_telescope.verdict.recorder import Recorder


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    """The target this test runs on: the test runs once per cloud of its scenario."""
    telescope, cloud = request.config.stash[TELESCOPE], request.param.cloud
    if not telescope.uses(cloud):
        how = f"-m {cloud}" + (" or --telescope-kubeconfig" if cloud == "existing" else "")
        pytest.skip(f"the {cloud} target is used only when asked for: {how}")
    target = telescope.pool.get(request.param)
    telescope.provisioning.record_thresholds(telescope.pool, request.param)
    return target


@pytest.fixture
def target_terraform(request: pytest.FixtureRequest, target: Target) -> Iterator[AppliedModule]:
    """The Terraform module and state the test's target was applied with: ``apply(**changes)``
    applies it again with some of the scenario's inputs changed and returns what Terraform timed.
    When the test ends the target is applied as it was provisioned, if a change is left: still
    within the test's hold on the target (session.py), so no other test finds the change."""
    telescope, spec = request.config.stash[TELESCOPE], parameter(request.node, "target")
    module = telescope.pool.applied_module(spec)
    yield module
    module.restore()


@pytest.fixture
def case(request: pytest.FixtureRequest) -> scenarios.Case:
    """This test's case from its scenario YAML (parametrized by the scenario marker)."""
    raise pytest.UsageError(f"{request.node.nodeid} uses 'case' but has no @pytest.mark.scenario('<file>.yaml')")


@pytest.fixture
def record_samples(request: pytest.FixtureRequest) -> Recorder:
    """Record samples of this test; its SLOs are checked when the test returns."""
    item = request.node
    telescope = request.config.stash[TELESCOPE]
    spec, test_case = parameter(item, "target"), parameter(item, "case")
    marker = item.get_closest_marker("scenario")
    suite = scenarios.load(Path(item.path).parent / marker.args[0]) if marker else None
    cloud = spec.cloud if isinstance(spec, TargetSpec) else "none"
    params = test_case.params if test_case else {}
    recorder = Recorder(
        cloud=cloud,
        benchmark=suite.benchmark if suite else item.originalname,
        case=test_case.id if test_case else "",
        params=params,
        thresholds=suite.thresholds_for(cloud, params) if suite else [],
        nodeid=item.nodeid,
        baseline_rows=telescope.baseline_by_test.get(item.nodeid, []),
        tolerance=telescope.tolerance,
        metrics=suite.metrics if suite else {},
        judged=suite.judged if suite else (),
    )
    item.stash[RECORDER] = recorder
    item.stash[MEASUREMENTS] = suite.measurements if suite else ()
    if suite is not None:
        item.stash[KERNEL] = (suite.kernel,)
    return recorder


def _binary(request: pytest.FixtureRequest, option: str) -> str:
    return process.require(setting(request.config, option), f"install it or pass --telescope-{option} PATH")


@pytest.fixture(scope="session")
def cl2_binary(request: pytest.FixtureRequest) -> str:
    """Path of the clusterloader2 binary (``--telescope-cl2-binary``)."""
    return _binary(request, "cl2-binary")


@pytest.fixture(scope="session")
def cl2_image(request: pytest.FixtureRequest) -> clusterloader2.Image | None:
    """The clusterloader2 image and the docker or podman to run it (``--telescope-cl2-image``); None without one."""
    name = setting(request.config, "cl2-image")
    if not name:
        return None
    return clusterloader2.image(name, "or leave out --telescope-cl2-image to run the clusterloader2 binary")


@pytest.fixture(scope="session")
def kperf_binary(request: pytest.FixtureRequest) -> str:
    """Path of the kperf binary (``--telescope-kperf-binary``)."""
    return _binary(request, "kperf-binary")


@pytest.fixture(scope="session")
def runkperf_binary(request: pytest.FixtureRequest) -> str:
    """Path of the runkperf binary (``--telescope-runkperf-binary``)."""
    return _binary(request, "runkperf-binary")


@pytest.fixture(scope="session")
def kwok_controller(request: pytest.FixtureRequest, target: Target) -> kwok.Controller:
    """kwok's controller (pinned) on the test's cluster: installed by the first ``kwok_nodes`` call."""
    if not isinstance(target, KubernetesTarget):
        pytest.skip("kwok virtual nodes need a Kubernetes target (aks, eks, gke, existing)")
    source = path_setting(request.config, "kwok-manifests") if setting(request.config, "kwok-manifests") else None
    controller = kwok.Controller(target.api_client, source)
    # An xdist worker cannot know whether the others still use it: there the controller stays.
    if not hasattr(request.config, "workerinput"):
        request.addfinalizer(controller.remove)
    return controller


@pytest.fixture
def kwok_nodes(request: pytest.FixtureRequest, target: Target, kwok_controller: kwok.Controller):
    """``add(count, *, cpu, memory, pods, labels=None)``: Ready kwok virtual nodes, deleted when the test ends."""
    nodes = kwok.VirtualNodes(target.api_client, kwok_controller, run_id=target.run_id)
    request.addfinalizer(nodes.remove)
    return nodes.add
