"""Hooks that a user's conftest.py or plugin may implement."""

from __future__ import annotations

import pytest


@pytest.hookspec(historic=True)
def pytest_telescope_register_tools(register) -> None:
    """Add benchmark tools of your own: call ``register(name, module)`` for each.

    The module is a tool like those of ``pytest_telescope.tools``: ``command``,
    ``parse``, ``METRICS`` (and optionally ``DEFAULT_SLO``); a scenario
    names it with ``benchmark: <name>``. Called once per session, also for a
    conftest.py found later during collection.
    """
