"""A node pool's lifecycle through the cluster's Terraform module (Telescope's k8s-cluster-crud)."""

import time

import pytest

from pytest_telescope.errors import ProvisionError
from pytest_telescope.provision.applied import ApplyFailed
from pytest_telescope.tools import cluster_crud


@pytest.mark.scenario("cluster-crud.yaml")
def test_node_pool_crud(target, case, record_samples, target_terraform):
    node_pools = target_terraform.provisioned.get("node_pools", [])
    failures = []
    for operation in cluster_crud.command(node_pools, target.cloud, **case.params):
        time.sleep(operation.pause)
        try:
            perform(operation, target, record_samples, target_terraform)
        except ProvisionError as error:
            # As Telescope's NodePoolCRUD.all: a pool that was created is scaled down and deleted, and
            # timed, whatever failed before; the test fails with what failed.
            if operation.name == "create":
                raise
            failures.append(f"{operation.name}: {error}")
    if failures:
        raise ProvisionError("\n".join(failures))


def perform(operation, target, record_samples, target_terraform) -> None:
    """Apply ``operation`` and wait for the pool's nodes, recording what was timed, a failure's too."""
    try:
        applied = target_terraform.apply(node_pools=operation.node_pools)
    except ApplyFailed as failed:
        record_samples(cluster_crud.parse(operation, failed.applied.seconds, failed.applied.resources))
        raise
    record_samples(cluster_crud.parse(operation, applied.seconds, applied.resources))
    target.wait_for_pool(operation.pool, operation.count)
    record_samples([cluster_crud.duration(operation, applied.resources, time.time())])
