"""Measurements over each test's window: Prometheus, golden signals, the target's fingerprint."""

from pytest_telescope.measure.measurements import Measurements

__all__ = ["Measurements"]
