"""pytest-telescope: Kubernetes and infrastructure benchmarks as pytest tests."""

from pytest_telescope.errors import ProvisionError, ScenarioError, TelescopeError, ToolError
from pytest_telescope.samples import Sample
from pytest_telescope.verdict.slo import SLOViolation

__all__ = ["ProvisionError", "Sample", "ScenarioError", "SLOViolation", "TelescopeError", "ToolError"]
