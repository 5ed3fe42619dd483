"""Commands in a pod's container, through the exec API, and how to stop them.

``PodExec`` is the one place that streams commands into pods; ``ExecStream``
reads their output as it comes and their exit status from the error channel.
Closing an exec stream does not stop the command in the container, so every
command runs under ``PIDFILE_WRAPPER``, and ``KILL_SCRIPT`` stops it by the pid
that file holds.
"""

from __future__ import annotations

import json
import time
from typing import Callable, Sequence

from kubernetes import client
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL, STDERR_CHANNEL, STDOUT_CHANNEL
from websocket import WebSocketException

from pytest_telescope.targets import Background
from pytest_telescope.targets.kubernetes.api import api_error_text, first_line

Echo = Callable[[str], None]

STOP_SECONDS = 20  # the kill script waits up to 5 s for the pid file and 5 s after SIGTERM; plus a margin
# Runs argv (the arguments after the pid file) with its pid in the pid file, and removes the file when it
# ends: in a pod's /tmp it would stay until the pod goes. A pid file that cannot be written stops the command.
PIDFILE_WRAPPER = """
pidfile=$1; shift
"$@" &
pid=$!
echo "$pid" > "$pidfile" || kill "$pid"
wait "$pid"
status=$?
rm -f "$pidfile"
exit "$status"
"""
# Stops the process named by the pid file $1: SIGTERM, then SIGKILL after 5 s, to it and to every
# process below it, found from each process's parent in /proc/<pid>/stat before it is signalled (a
# tool's jobs may be in sessions of their own, as fio's are). Waits for the file first: a block that
# ends at once may get here before the wrapper wrote it.
KILL_SCRIPT = """
i=0; while [ ! -s "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
pid=$(cat "$1" 2>/dev/null) || exit 0
kill -0 "$pid" 2>/dev/null || exit 0
family=" $pid "
grown=1
while [ $grown = 1 ]; do
    grown=0
    for stat in /proc/[0-9]*/stat; do
        fields=$(cat "$stat" 2>/dev/null) || continue
        set -- ${fields##*) }
        child=${stat#/proc/}; child=${child%/stat}
        case "$family" in *" $2 "*) case "$family" in *" $child "*) ;; *) family="$family$child "; grown=1 ;; esac ;; esac
    done
done
kill "$pid" 2>/dev/null
i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
kill -9 $family 2>/dev/null
exit 0
"""


class ExecStream:
    """Output and exit status of one exec connection, read as it comes."""

    def __init__(self, connection, echo: Echo | None = None):
        self.connection = connection
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.merged: list[str] = []
        self._echo = echo
        self._partial = ""

    def pump(self, wait: float) -> bool:
        """Read what arrives within ``wait`` seconds; False once the command has ended."""
        if self.connection.is_open():
            try:
                self.connection.update(timeout=wait)
            except (WebSocketException, OSError):
                self.connection.close()  # the connection dropped: returncode() then says so
        for channel, sink in ((STDOUT_CHANNEL, self.stdout), (STDERR_CHANNEL, self.stderr)):
            data = self.connection.read_channel(channel)
            if data:
                sink.append(data)
                self.merged.append(data)
                self._show(data)
        return self.connection.is_open()

    def _show(self, data: str) -> None:
        if self._echo:
            *lines, self._partial = (self._partial + data).split("\n")
            for line in lines:
                self._echo(line)

    def finish(self, timeout: float | None) -> bool:
        """Read until the command ends; False if ``timeout`` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pump(wait=1.0):
            if deadline is not None and time.monotonic() > deadline:
                return False
        if self._echo and self._partial:
            self._echo(self._partial)
        return True

    def returncode(self) -> int:
        """The exit status, from the error channel: a ``metav1.Status`` the API server sends last."""
        text = self.connection.read_channel(ERROR_CHANNEL)
        if not text.strip():
            raise ExecFailed("the exec stream closed without an exit status")
        try:
            status = json.loads(text)
        except ValueError:
            raise ExecFailed(first_line(text)) from None
        if status.get("status") == "Success":
            return 0
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                return int(cause["message"])
        raise ExecFailed(status.get("message") or text)


class ExecFailed(Exception):
    """The command could not run at all (no exit status of its own)."""


class PodExec:
    """The exec subresource of pods: the one place that streams commands into them."""

    def __init__(self, core: client.CoreV1Api):
        self.core = core

    def open(self, namespace: str, pod: str, container: str, argv: Sequence[str]):
        try:
            return stream(
                self.core.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                command=list(argv),
                container=container,
                stdin=False,
                stdout=True,
                stderr=True,
                tty=False,
                _preload_content=False,
            )
        except client.ApiException as error:
            raise ExecFailed(api_error_text(error)) from None

    def run(
        self,
        namespace: str,
        pod: str,
        container: str,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        echo: Echo | None = None,
        on_timeout: Callable[[], None] | None = None,
    ) -> tuple[int | None, str, str]:
        """(returncode, stdout, stderr); returncode is None if ``timeout`` passed first.

        Then ``on_timeout`` stops the command, and its last output is read before the stream closes.
        """
        connection = self.open(namespace, pod, container, argv)
        try:
            output = ExecStream(connection, echo)
            finished = output.finish(timeout)
            if not finished and on_timeout:
                on_timeout()
                output.finish(STOP_SECONDS)
            returncode = output.returncode() if finished else None
            return returncode, "".join(output.stdout), "".join(output.stderr)
        finally:
            connection.close()


class PodProcess(Background):
    def __init__(self, argv: list[str], output: ExecStream):
        self.argv = argv
        self.output_stream = output

    def running(self) -> bool:
        return self.output_stream.pump(wait=0)

    def output(self) -> str:
        self.output_stream.pump(wait=0)
        return "".join(self.output_stream.merged)
