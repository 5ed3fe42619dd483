"""Running clusterloader2 against the Kubernetes target.

The target provides ``target.kubeconfig``; the plugin provides the binaries as the
``cl2_binary``, ``kperf_binary`` and ``runkperf_binary`` fixtures (paths), CL2's container
image as ``cl2_image`` (with ``--telescope-cl2-image``), and kwok virtual nodes as ``kwok_nodes``.
"""

from pathlib import Path
from typing import Callable

import pytest

from pytest_telescope.tools import clusterloader2

CL2_CONFIGS = Path(__file__).parent / "clusterloader2"
CL2_PROVIDERS = {"aks": "aks", "eks": "eks", "gke": "gke"}


@pytest.fixture
def clusterloader2_run(target, case, record_samples, cl2_image, request, tmp_path) -> Callable[[float], None]:
    """Runs CL2 for this test's case on the target, and records its samples, also those of a
    run CL2 failed. CL2's provider is the target's cloud; on a cluster of one's own it is CL2's
    generic ``skeleton``, unless the suite names one. CL2 runs from its image when one is given,
    else the binary, which only then must be installed."""
    cl2 = cl2_image or request.getfixturevalue("cl2_binary")

    def run(timeout: float) -> None:
        params = {"provider": CL2_PROVIDERS.get(target.cloud, "skeleton"), **case.params}
        try:
            samples = clusterloader2.run(
                cl2, target.kubeconfig, tmp_path, params, config_dir=CL2_CONFIGS, timeout=timeout
            )
        except clusterloader2.ClusterLoaderFailed as failed:
            record_samples(failed.samples)
            raise
        record_samples(samples)

    return run
