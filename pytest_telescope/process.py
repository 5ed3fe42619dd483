"""Run a command, keep its output, and show it live when the user asks to."""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
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


# Popen arguments of a tool: a process group of its own, so that a timeout or Ctrl-C ends the
# processes it forks too (a killed ``fio --numjobs=2`` left its two job processes running).
OWN_GROUP = {"process_group": 0}
KILL_WAIT = 5.0  # seconds for a tool's processes to die of SIGKILL


def stop(popen: subprocess.Popen, grace: float = 5.0) -> None:
    """End a process we started: SIGTERM, then ``kill`` if it is still there after ``grace`` seconds.

    Started with ``OWN_GROUP``, its whole group is signalled: its children end with it.
    """
    if popen.returncode is not None:
        return
    _signal(popen, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while not _exited(popen) and time.monotonic() < deadline:
        time.sleep(0.05)
    kill(popen)


def kill(popen: subprocess.Popen) -> None:
    """SIGKILL to ``popen``, its group and every process it started, then reap it.

    fio's job processes are in sessions of their own, out of reach of the group: they
    are found as the descendants of the tool, stopped first so that none is orphaned
    (and lost to us) while they are looked for. After the tool exited on its own, what
    it left in its group is killed.
    """
    if popen.returncode is not None:
        return
    if not _exited(popen):
        _signal(popen, signal.SIGSTOP)
        deadline = time.monotonic() + KILL_WAIT
        # Until every descendant is dead (a zombie): signals arrive late, a job may fork until it stops.
        while (living := _descendants(popen.pid)) and time.monotonic() < deadline:
            for pid in living:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
    _signal(popen, signal.SIGKILL)
    popen.wait()


def _signal(popen: subprocess.Popen, signum: int) -> None:
    """``signum`` to the group ``popen`` leads, else to ``popen`` alone. Only before ``popen`` is reaped:
    until then its pid, and the group of that number, cannot be another process's."""
    try:
        if os.getpgid(popen.pid) == popen.pid:
            os.killpg(popen.pid, signum)
        else:
            os.kill(popen.pid, signum)
    except ProcessLookupError:
        pass


def _exited(popen: subprocess.Popen) -> bool:
    """Whether ``popen`` has exited, leaving it unreaped (a zombie) for ``kill``."""
    return os.waitid(os.P_PID, popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _descendants(pid: int) -> list[int]:
    """The living processes below ``pid``, from each process's parent in /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]  # the name before ")" may hold spaces
        except (OSError, ValueError):
            continue  # ended while we read
        if state != "Z":
            children.setdefault(int(parent), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        below = children.get(queue.pop(), [])
        found += below
        queue += below
    return found


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
    started is killed, with the processes it started (its process group),
    before the error propagates; with ``die_with_us`` it is killed even if
    we are. Terraform is not: a half-done apply must finish and save its
    state, and it stays in our group, where a terminal's Ctrl-C stops it in
    good order.
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
        **(OWN_GROUP if die_with_us else {}),
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
            os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
    finally:
        if die_with_us:
            kill(process)  # on a timeout or Ctrl-C; after an exit, what the tool left running in its group
        returncode = process.wait()
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


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (and in a network namespace just made)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
