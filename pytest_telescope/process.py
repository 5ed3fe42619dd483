"""Run a command, keep its output, and show it live when the user asks to."""

from __future__ import annotations

import ctypes
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from pytest_telescope.errors import ToolError


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Everything the command printed, errors first: what a user reads when it fails."""
        return "\n".join(part for part in (self.stderr.strip(), self.stdout.strip()) if part)


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """In a child before exec: the kernel kills it if we die, even by SIGKILL.

    So a crashed xdist worker leaves no tool process behind.
    """
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def stop(popen: subprocess.Popen, grace: float = 5.0) -> None:
    """End a process we started: SIGTERM, then SIGKILL if it is still there after ``grace`` seconds."""
    if popen.poll() is None:
        popen.terminate()
        try:
            popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


def require(binary: str, hint: str = "") -> str:
    """The path of ``binary`` on PATH, or a ``ToolError`` saying how to get it."""
    path = shutil.which(binary)
    if path is None:
        raise ToolError(binary, f"not found on PATH{'; ' + hint if hint else ''}")
    return path


def run(
    argv: Sequence[str],
    *,
    timeout: float | None = None,
    check: bool = True,
    echo: Callable[[str], None] | None = None,
    heartbeat: Callable[[float], None] | None = None,
    heartbeat_every: float = 30.0,
    die_with_us: bool = True,
    **popen_kwargs,
) -> Completed:
    """Run ``argv`` to completion, capturing stdout and stderr.

    ``echo`` receives each output line as it comes (live output with -s/-v);
    ``heartbeat`` is called with the elapsed seconds whenever the command
    has run ``heartbeat_every`` seconds without a word from us, so a long
    silent step never looks hung. On timeout or Ctrl-C the process we
    started is killed before the error propagates; with ``die_with_us`` it
    is killed even if we are (Terraform is not: a half-done apply must
    finish and save its state).
    """
    argv = list(argv)
    require(argv[0], "install it first (the README's setup command does)")
    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent if die_with_us else None,
        **popen_kwargs,
    )
    chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
    pending = {"stdout": b"", "stderr": b""}
    last_word = started
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ, "stdout")
            selector.register(process.stderr, selectors.EVENT_READ, "stderr")
            while selector.get_map():
                now = time.monotonic()
                if timeout is not None and now - started > timeout:
                    raise ToolError(argv, f"did not finish within {timeout:g} s", _decode(chunks["stderr"] + chunks["stdout"]))
                if heartbeat and now - last_word >= heartbeat_every:
                    heartbeat(now - started)
                    last_word = now
                for key, _ in selector.select(timeout=1.0):
                    data = key.fileobj.read1(65536)
                    if not data:
                        selector.unregister(key.fileobj)
                        continue
                    chunks[key.data].append(data)
                    if echo:
                        lines = (pending[key.data] + data).split(b"\n")
                        pending[key.data] = lines.pop()
                        for line in lines:
                            echo(line.decode(errors="replace"))
                        last_word = time.monotonic()
            returncode = process.wait()
    finally:
        if process.poll() is None:
            if die_with_us:
                process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    if echo:
        for rest in pending.values():
            if rest:
                echo(rest.decode(errors="replace"))
    completed = Completed(argv, returncode, _decode(chunks["stdout"]), _decode(chunks["stderr"]))
    if check and returncode != 0:
        raise ToolError(argv, f"exited with status {returncode}", completed.output)
    return completed


def _decode(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode(errors="replace")
