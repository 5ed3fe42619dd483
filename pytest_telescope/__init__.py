"""pytest-telescope: Kubernetes and infrastructure benchmarks as pytest tests."""

from .errors import ProvisionError, ScenarioError, TelescopeError, ToolError
from .samples import Sample
from .slo import SLOViolation

__all__ = ["ProvisionError", "Sample", "ScenarioError", "SLOViolation", "TelescopeError", "ToolError"]
