"""clusterloader2 (CL2): build its command line and test overrides, run it (the binary, or
from a container image), and read its report directory into samples.

``running`` builds and runs the command; ``parsing`` reads what CL2 wrote. The tool's
interface (``command``, ``parse``, ``METRICS``, ``PARAMETERS``, ``DEFAULT_SLO``) is the one every tool module has.
"""

from pytest_telescope.tools.clusterloader2.parsing import DEFAULT_SLO, METRICS, ClusterLoaderFailed, parse
from pytest_telescope.tools.clusterloader2.running import (
    CL2_OPTIONS,
    DEFAULT_IMAGE,
    OVERRIDES,
    PARAMETERS,
    PINNED,
    Image,
    command,
    container_command,
    image,
    render_overrides,
    run,
)

__all__ = [
    "CL2_OPTIONS",
    "DEFAULT_IMAGE",
    "DEFAULT_SLO",
    "METRICS",
    "OVERRIDES",
    "PARAMETERS",
    "PINNED",
    "ClusterLoaderFailed",
    "Image",
    "command",
    "container_command",
    "image",
    "parse",
    "render_overrides",
    "run",
]
