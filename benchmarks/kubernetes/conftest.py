"""Running clusterloader2 and kperf against the Kubernetes target.

The target provides ``target.kubeconfig``; the plugin provides the binaries as the
``cl2_binary``, ``kperf_binary`` and ``runkperf_binary`` fixtures (paths).
"""

from pathlib import Path
from typing import Callable

import pytest

from pytest_telescope import process
from pytest_telescope.tools import clusterloader2, kperf

CL2_CONFIGS = Path(__file__).parent / "clusterloader2"
CL2_PROVIDERS = {"aks": "aks", "eks": "eks", "gke": "gke"}


@pytest.fixture
def clusterloader2_run(target, case, record_samples, cl2_binary, tmp_path) -> Callable[[float], None]:
    """Runs CL2 for this test's case on the target, and records its samples, also those of a
    run CL2 failed. CL2's provider is the target's cloud; on a cluster of one's own it is CL2's
    generic ``skeleton``, unless the suite names one."""

    def run(timeout: float) -> None:
        params = {"provider": CL2_PROVIDERS.get(target.cloud, "skeleton"), **case.params}
        try:
            samples = clusterloader2.run(
                cl2_binary, target.kubeconfig, tmp_path, params, config_dir=CL2_CONFIGS, timeout=timeout
            )
        except clusterloader2.ClusterLoaderFailed as failed:
            record_samples(failed.samples)
            raise
        record_samples(samples)

    return run


@pytest.fixture
def virtual_nodepool(target, kperf_binary) -> Callable[..., None]:
    """Adds kwok virtual nodes (``kperf vc nodepool add``) for the test; removes them after it."""
    added = []

    def add(name: str, *, nodes: int, cpu: int = 32, memory: int = 256, max_pods: int = 110) -> None:
        argv = kperf.nodepool_add_command(
            kperf_binary, target.kubeconfig, name, nodes=nodes, cpu=cpu, memory=memory, max_pods=max_pods
        )
        added.append(name)
        process.run(argv, timeout=1800)

    yield add
    for name in added:
        process.run(kperf.nodepool_delete_command(kperf_binary, target.kubeconfig, name), timeout=1800)
