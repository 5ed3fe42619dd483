"""pytest-telescope: infrastructure benchmarks as pytest tests.

The plugin's options (``options.py``) and markers. A run's state and its hooks are the ``Telescope``
of ``session.py``; the fixtures benchmarks use are in ``fixtures.py``; what pytest
prints of a test is scrubbed of secrets by ``scrubbing.py``.
"""

from __future__ import annotations

import pytest

from pytest_telescope import fixtures, hookspecs, tools
from pytest_telescope import scenario as scenarios
from pytest_telescope.errors import TelescopeError
from pytest_telescope.options import add_options
from pytest_telescope.scrubbing import Scrubbing
from pytest_telescope.session import TELESCOPE, Telescope


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.hook.pytest_telescope_register_tools.call_historic(kwargs={"register": tools.register})
    except TelescopeError as error:
        raise pytest.UsageError(str(error)) from None
    for cloud in scenarios.CLOUDS:
        config.addinivalue_line("markers", f"{cloud}: runs on the {cloud} target (select with -m {cloud})")
    config.addinivalue_line("markers", "scenario(path): the YAML file, beside the test, holding its cases and SLOs")
    config.addinivalue_line("markers", "cluster: needs a real Kubernetes cluster (--telescope-kubeconfig)")
    try:
        telescope = Telescope(config)
    except TelescopeError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[TELESCOPE] = telescope
    config.pluginmanager.register(telescope, "telescope-run")
    config.pluginmanager.register(Scrubbing(config, telescope.redactor), "telescope-scrubbing")
    config.pluginmanager.register(fixtures, "telescope-fixtures")


def pytest_unconfigure(config: pytest.Config) -> None:
    tools.forget_registered()
