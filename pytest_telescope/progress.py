"""Say what each phase is doing and how long it took, in pytest's terminal style."""

from __future__ import annotations

import contextlib
import time
from typing import Callable

import pytest

from pytest_telescope.redact import Redactor


class Progress:
    """Phase lines: ``[telescope] provision local: done in 0.8s``.

    With ``verbose`` (pytest's ``-v`` or ``-s``) the live output of Terraform
    and the tools streams through ``echo``. Every line is scrubbed of secrets.
    """

    def __init__(self, write_line: Callable[[str], None], redactor: Redactor, verbose: bool = False):
        self._write_line = write_line
        self._redactor = redactor
        self.verbose = verbose
        self.held: list[str] = []  # an xdist worker's lines, which its next test report takes to the controller

    def hide(self, terraform_outputs: dict) -> None:
        """Scrub the sensitive ones of these Terraform outputs from every line from now on."""
        self._redactor.add_sensitive_outputs(terraform_outputs)

    @classmethod
    def for_pytest(cls, config: pytest.Config, redactor: Redactor) -> "Progress":
        """Lines in pytest's terminal, around its capturing. An xdist worker has no terminal: it holds them."""
        plugins = config.pluginmanager
        held: list[str] = []

        worker = hasattr(config, "workerinput")

        def write_line(text: str) -> None:
            terminal = plugins.get_plugin("terminalreporter")
            if worker:
                held.append(text)
                return
            if terminal is None:
                return
            capture = plugins.get_plugin("capturemanager")
            with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
                header = terminal.currentfspath
                terminal.currentfspath = None  # else write_line adds an empty line, and pytest the file's name again
                if terminal._tw.width_of_current_line:
                    terminal.write("\n")
                terminal.write_line(text)
                terminal.currentfspath = header

        verbose = config.get_verbosity() > 0 or config.getoption("capture") == "no"
        progress = cls(write_line, redactor, verbose)
        progress.held = held
        return progress

    def say(self, text: str) -> None:
        self._write_line(self._redactor.scrub(f"[telescope] {text}"))

    def command(self, line: str) -> None:
        """A line the CI reads (an Azure DevOps logging command): at the start of a line, unprefixed."""
        self._write_line(self._redactor.scrub(line))

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

    def heartbeat(self, name: str, what: str) -> Callable[[float], None]:
        return lambda elapsed: self.say(f"{name} {what}: still running ({elapsed:.0f}s)")
