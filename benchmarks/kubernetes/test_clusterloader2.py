"""Kubernetes control plane and node benchmarks run with clusterloader2."""

import pytest

HOUR = 3600.0


@pytest.mark.scenario("cl2-pod-startup.yaml")
def test_cl2_pod_startup(clusterloader2_run):
    clusterloader2_run(timeout=1 * HOUR)


@pytest.mark.scenario("cl2-load.yaml")
def test_cl2_load(clusterloader2_run):
    clusterloader2_run(timeout=3 * HOUR)


@pytest.mark.scenario("cl2-autoscale.yaml")
def test_cl2_autoscale(clusterloader2_run):
    clusterloader2_run(timeout=2 * HOUR)


@pytest.mark.scenario("cl2-job-scheduling.yaml")
def test_cl2_job_scheduling(case, kwok_nodes, clusterloader2_run):
    # CL2's --nodes is the number of virtual nodes the jobs are scheduled to.
    kwok_nodes(case.params["nodes"], cpu=32, memory="256Gi", pods=110)
    clusterloader2_run(timeout=4 * HOUR)
