"""Kubernetes targets: pods on a cluster reached through the kubernetes client."""

from pytest_telescope.targets.kubernetes.cluster import PROVIDERS, RECORD_FILE, KubernetesTarget, teardown

__all__ = ["PROVIDERS", "RECORD_FILE", "KubernetesTarget", "teardown"]
