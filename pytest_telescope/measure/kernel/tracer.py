"""The programs on this machine: one bpftrace process per session, for the local target.

bpftrace takes about a second to compile and attach its programs (more on a loaded machine), so
it starts once and keeps running; a window is the difference between two printouts of its
cumulative maps, asked for with SIGUSR1 when the test starts and when it ends.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading

from pytest_telescope.errors import ToolError
from pytest_telescope.measure.kernel.histograms import window
from pytest_telescope.measure.kernel.programs import TRACEFS, attached, first_error, printout, source
from pytest_telescope.process import die_with_parent, stop
from pytest_telescope.samples import Sample


def unavailable() -> str | None:
    """Why the programs cannot run here, or None when they can."""
    if shutil.which("bpftrace") is None:
        return "bpftrace is not on PATH (Debian package bpftrace)"
    if os.geteuid() != 0:
        return "bpftrace needs root"
    if not (TRACEFS / "events").is_dir():
        return f"tracefs is not mounted at {TRACEFS} (mount -t tracefs tracefs {TRACEFS})"
    return None


class Tracer:
    """One bpftrace process running ``names``; ``snapshot`` reads its cumulative maps."""

    def __init__(self, names: tuple[str, ...], *, timeout: float = 60.0):
        self.names = names
        self.timeout = timeout
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._errors: list[str] = []
        self._popen: subprocess.Popen | None = None

    def start(self) -> "Tracer":
        """Returns once every probe is attached; raises ``ToolError`` with bpftrace's error."""
        self._popen = subprocess.Popen(
            ["bpftrace", "-f", "json", "-e", source(self.names)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            preexec_fn=die_with_parent,
            start_new_session=True,  # a terminal's Ctrl-C is for pytest: bpftrace is stopped by us, by PID
        )
        threading.Thread(target=self._read, args=(self._popen.stdout, self._lines), daemon=True).start()
        threading.Thread(target=self._read_errors, args=(self._popen.stderr,), daemon=True).start()
        if self._parse(attached):
            return self
        raise self._failure("exited before attaching its probes")

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def snapshot(self) -> dict[str, object]:
        """The maps as they are now: name (without ``@``) to histogram buckets or a count."""
        self._popen.send_signal(signal.SIGUSR1)
        maps = self._parse(printout)
        if maps is None:
            raise self._failure("stopped printing its maps")
        return maps

    def window(self, before: dict) -> tuple[list[Sample], list[str]]:
        """The samples since the snapshot ``before``: the machine's, with no role (see docs/kernel.md)."""
        return window(self.names, before, self.snapshot(), {}), []

    def stop(self) -> None:
        if self._popen is not None:
            stop(self._popen)
            self._popen = None

    def _parse(self, parse):
        try:
            return parse(self._next_lines())
        except ValueError as error:
            self.stop()  # the lines after it could be the rest of its printout
            raise ToolError("bpftrace", str(error)) from None

    def _next_lines(self):
        while True:
            try:
                line = self._lines.get(timeout=self.timeout)
            except queue.Empty:
                raise self._failure(f"printed nothing for {self.timeout:.0f} s") from None
            if line is None:
                return
            if line.startswith("{"):
                yield line

    def _failure(self, what: str) -> ToolError:
        self.stop()
        return ToolError("bpftrace", f"{what}: {first_error(self._errors)}")

    @staticmethod
    def _read(stream, lines: queue.Queue) -> None:
        for line in stream:
            lines.put(line.strip())
        lines.put(None)

    def _read_errors(self, stream) -> None:
        for line in stream:
            if line.strip():
                self._errors.append(line.strip())
