"""The terminal is a log that CI keeps: what pytest prints of a test is scrubbed of secrets.

A test's failure, what it printed and logged (shown for a failure, and for every test
with ``-rA``) and the warnings summary pass through the run's ``Redactor``, which also
knows the credentials of a kubeconfig given with ``--telescope-kubeconfig``, even in a
run that uses no cluster.
"""

from __future__ import annotations

import pytest

from pytest_telescope.errors import TelescopeError
from pytest_telescope.options import kubeconfig
from pytest_telescope.redact import Redactor
from pytest_telescope.targets.kubernetes.providers import resolve_kubeconfig


class Scrubbing:
    """A plugin beside the run's ``Telescope``, sharing its redactor."""

    def __init__(self, config: pytest.Config, redactor: Redactor):
        self.config, self.redactor = config, redactor
        given = kubeconfig(config)
        if given is not None:
            try:
                redactor.add_kubeconfig(resolve_kubeconfig(given).read_text())
            except (TelescopeError, OSError, UnicodeDecodeError):
                pass  # the existing target says what is wrong with it, when it is used

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        """Scrubbed here, in the process that ran the test: under xdist the controller, which
        writes JUnit, has not seen a secret of the worker's (a kubeconfig's token)."""
        report = yield
        if report.failed:
            text = report.longreprtext
            scrubbed = self.redactor.scrub(text)
            if scrubbed != text:
                report.longrepr = scrubbed
        report.sections = [(title, self.redactor.scrub(content)) for title, content in report.sections]
        return report

    @pytest.hookimpl(trylast=True)
    def pytest_warning_recorded(self) -> None:
        """The warnings summary shows a warning's message: the terminal reporter has just kept it."""
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        warnings = terminal.stats.get("warnings") if terminal is not None else None
        if warnings:
            warnings[-1].message = self.redactor.scrub(warnings[-1].message)
