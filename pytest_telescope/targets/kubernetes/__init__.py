"""Kubernetes targets: pods on a cluster reached through the kubernetes client."""

from pytest_telescope.targets.kubernetes.providers import PROVIDERS, RECORD_FILE, teardown
from pytest_telescope.targets.kubernetes.target import KubernetesTarget

__all__ = ["PROVIDERS", "RECORD_FILE", "KubernetesTarget", "teardown"]
