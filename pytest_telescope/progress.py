"""Say what each phase is doing and how long it took, in pytest's terminal."""

from __future__ import annotations

import contextlib
import time

import pytest


class Progress:
    """Phase lines for the terminal: ``[telescope] provision local: done in 0.8s``.

    With ``-v`` or ``-s`` the live output of Terraform and the tools
    streams through ``echo``. On an xdist worker there is no terminal;
    the controller reports what matters.
    """

    def __init__(self, config: pytest.Config):
        self._plugins = config.pluginmanager
        self.verbose = config.get_verbosity() > 0 or config.getoption("capture") == "no"

    def say(self, text: str) -> None:
        terminal = self._plugins.get_plugin("terminalreporter")
        if terminal is None:
            return
        capture = self._plugins.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            if terminal._tw.width_of_current_line:
                terminal.write("\n")
            terminal.write_line(f"[telescope] {text}")

    def echo(self, line: str) -> None:
        if self.verbose:
            self.say(f"  | {line}")

    @contextlib.contextmanager
    def phase(self, name: str, what: str):
        """Announce ``name`` (provision, validate, ...) for ``what``, then its duration."""
        started = time.monotonic()
        self.say(f"{name} {what} ...")
        try:
            yield self
        except BaseException as error:
            self.say(f"{name} {what}: failed after {time.monotonic() - started:.1f}s ({type(error).__name__})")
            raise
        self.say(f"{name} {what}: done in {time.monotonic() - started:.1f}s")

    def heartbeat(self, name: str, what: str):
        return lambda elapsed: self.say(f"{name} {what}: still running ({elapsed:.0f}s)")
