"""Kernel histograms over a test's window: bpftrace programs on tracepoints, one tracer per target.

``programs`` holds the programs and how their printouts read, ``histograms`` turns two
printouts into a window's samples, ``tracer`` runs them on this machine (the local target),
``pods`` on the nodes of a Kubernetes target, and ``windows`` is what the session uses.
"""

from pytest_telescope.measure.kernel.histograms import difference, statistic, window
from pytest_telescope.measure.kernel.programs import METRICS, PROGRAMS, Program, metrics, source
from pytest_telescope.measure.kernel.tracer import Tracer, unavailable
from pytest_telescope.measure.kernel.windows import KernelWindows

__all__ = [
    "METRICS", "PROGRAMS", "KernelWindows", "Program", "Tracer",
    "difference", "metrics", "source", "statistic", "unavailable", "window",
]
