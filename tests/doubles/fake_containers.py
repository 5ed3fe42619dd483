"""Test double of a kubelet's containers, for ``FakeApiServerDouble``.

When a double has one (``double.containers = ContainersDouble()``), each
container of a pod it is given runs its ``command`` on this machine, with this
machine's files (the paths a test gives are its own). What it prints, stdout and
stderr together, is its log, each line with the time it came as the kubelet
stamps it (RFC 3339, nanoseconds, trailing zeros dropped). The lines of one read
from the container's output share one time, as CRI-O's conmon stamps them
(containers/conmon src/ctr_logging.c, write_k8s_log: "Use the same timestamp for
every line of the log in this buffer"); the log subresource
serves it as the API server does, with ``follow``, ``timestamps`` and
``sinceSeconds``. The pod's status is Running until the processes end, then
Succeeded or Failed, with the containers' exit codes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time


def kubelet_stamp(nanoseconds: int) -> str:
    """As Go's time.RFC3339Nano formats a UTC time, as the kubelet prefixes each line with ``timestamps=true``."""
    seconds, fraction = divmod(nanoseconds, 10**9)
    decimals = f"{fraction:09d}".rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (f".{decimals}" if decimals else "") + "Z"


class ContainersDouble:
    """The containers of the pods a ``FakeApiServerDouble`` is given, run as processes here."""

    def __init__(self):
        self._processes: dict[tuple[str, str, str], subprocess.Popen] = {}
        self._logs: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
        self._ended: set[tuple[str, str, str]] = set()
        self._changed = threading.Condition()
        self._closed = False

    def start(self, namespace: str, pod: dict) -> None:
        for container in pod["spec"]["containers"]:
            key = (namespace, pod["metadata"]["name"], container["name"])
            process = subprocess.Popen(
                [*container["command"], *container.get("args", [])],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
            self._processes[key], self._logs[key] = process, []
            threading.Thread(target=self._collect, args=(key, process), daemon=True).start()

    def runs(self, namespace: str, pod: str) -> bool:
        return any(key[:2] == (namespace, pod) for key in self._processes)

    def running(self) -> list[subprocess.Popen]:
        return [process for process in self._processes.values() if process.poll() is None]

    def status(self, namespace: str, pod: str) -> dict:
        """The pod's status as a kubelet reports it: Running while every container runs."""
        containers = {key[2]: process for key, process in self._processes.items() if key[:2] == (namespace, pod)}
        codes = {name: process.poll() for name, process in containers.items()}
        statuses = [
            {"name": name, "image": "x", "imageID": "", "ready": code is None, "restartCount": 0,
             "state": {"running": {}} if code is None else {"terminated": {"exitCode": code, "reason": "Error" if code else "Completed"}}}
            for name, code in codes.items()
        ]
        if all(code is None for code in codes.values()):
            phase, ready = "Running", "True"
        else:
            phase, ready = ("Failed" if any(codes.values()) else "Succeeded"), "False"
        return {"phase": phase, "podIP": "127.0.0.1", "hostIP": "127.0.0.1",
                "conditions": [{"type": "Ready", "status": ready}], "containerStatuses": statuses}

    def log(self, namespace: str, pod: str, container: str, query: dict):
        """The log's lines as the API server sends them; None when there is no such container."""
        key = (namespace, pod, container)
        if key not in self._logs:
            return None
        since = query.get("sinceSeconds", [None])[0]
        earliest = time.time_ns() - int(since) * 10**9 if since else 0
        return self._lines(key, follow=query.get("follow") == ["true"], timestamps=query.get("timestamps") == ["true"], earliest=earliest)

    def _lines(self, key, *, follow: bool, timestamps: bool, earliest: int):
        sent, lines = 0, self._logs[key]
        while True:
            with self._changed:
                if follow and len(lines) == sent and key not in self._ended and not self._closed:
                    self._changed.wait(timeout=1)
                ended = not follow or key in self._ended or self._closed
                new = lines[sent:]
            sent += len(new)
            for instant, text in new:
                if instant >= earliest:
                    yield ((kubelet_stamp(instant) + " ") if timestamps else "") + text + "\n"
            if ended:
                return

    def stop(self, namespace: str, pod: str | None = None) -> None:
        """Kill the containers of ``pod`` (every pod of the namespace when None), as their deletion does."""
        for key, process in list(self._processes.items()):
            if key[0] == namespace and pod in (None, key[1]):
                self._kill(process)

    def close(self) -> None:
        for process in self._processes.values():
            self._kill(process)
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _collect(self, key, process: subprocess.Popen) -> None:
        partial = b""
        for chunk in iter(lambda: process.stdout.read1(65536), b""):
            instant = time.time_ns()
            *lines, partial = (partial + chunk).split(b"\n")
            with self._changed:
                self._logs[key].extend((instant, line.decode(errors="replace")) for line in lines)
                self._changed.notify_all()
        process.wait()
        with self._changed:
            self._ended.add(key)
            self._changed.notify_all()

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # ended meanwhile
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()
