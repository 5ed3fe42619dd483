"""kube-apiserver under client load from kperf runners, on kwok virtual nodes."""

import pytest

from pytest_telescope.tools import kperf

HOUR = 3600.0


@pytest.mark.scenario("kperf-apiserver.yaml")
def test_kperf_apiserver_load(target, case, record_samples, runkperf_binary, kperf_binary, tmp_path):
    eks = target.cloud == "eks"
    record_samples(kperf.run(runkperf_binary, kperf_binary, target.kubeconfig, tmp_path, case.params, eks=eks, timeout=4 * HOUR))
