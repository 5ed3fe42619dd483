"""A pod of the run as an ``Endpoint``: its commands, background processes stopped by their pid, free ports."""

from __future__ import annotations

import contextlib
import secrets
from typing import Callable, Iterator, Sequence

from pytest_telescope.errors import ToolError
from pytest_telescope.process import Completed
from pytest_telescope.targets import Endpoint
from pytest_telescope.targets.kubernetes import manifests
from pytest_telescope.targets.kubernetes.pod_exec import (
    KILL_SCRIPT,
    PIDFILE_WRAPPER,
    STOP_SECONDS,
    Echo,
    ExecFailed,
    ExecStream,
    PodExec,
    PodProcess,
)

FIRST_PORT = 5201
POD_PID_DIR = "/tmp"  # inside the container


class PodEndpoint(Endpoint):
    """A pod of the run: commands run in the container named after their program."""

    def __init__(
        self,
        role: str,
        namespace: str,
        pod: str,
        address: str,
        node: str,
        containers: Sequence[str],
        pod_exec: PodExec,
        echo: Echo | None = None,
        pid_dir: str = POD_PID_DIR,
    ):
        self.role, self.namespace, self.pod, self.address, self.node = role, namespace, pod, address, node
        self.scratch_dir = manifests.SCRATCH_DIR
        self.containers = list(containers)
        self._exec = pod_exec
        self._echo = echo
        self._pid_dir = pid_dir
        self._ports_given: set[int] = set()

    def _pidfile(self) -> str:
        return f"{self._pid_dir}/telescope-{secrets.token_hex(6)}.pid"

    def _wrapped(self, pidfile: str, argv: Sequence[str]) -> list[str]:
        # argv stays a list of arguments: the shell receives it as "$@", never as text to parse.
        return ["sh", "-c", PIDFILE_WRAPPER, "sh", pidfile, *argv]

    def _exec_run(
        self, container: str, argv: list[str], shown: list[str], timeout: float | None, on_timeout: Callable[[], None] | None = None
    ) -> tuple[int | None, str, str]:
        try:
            return self._exec.run(
                self.namespace, self.pod, container, argv, timeout=timeout, echo=self._echo, on_timeout=on_timeout
            )
        except ExecFailed as error:
            raise ToolError(shown, f"could not run in pod {self.namespace}/{self.pod}, container {container}: {error}") from None

    def free_port(self) -> int:
        taken = self.listening_ports() | self._ports_given
        port = next(p for p in range(FIRST_PORT, 65536) if p not in taken)
        self._ports_given.add(port)
        return port

    def run(self, argv: Sequence[str], *, timeout: float | None = None, check: bool = True) -> Completed:
        argv = list(argv)
        container = manifests.container_for(argv, self.containers)
        pidfile = self._pidfile()
        wrapped = self._wrapped(pidfile, argv)
        returncode, stdout, stderr = self._exec_run(container, wrapped, argv, timeout, lambda: self._kill(container, pidfile))
        if returncode is None:
            raise ToolError(argv, f"did not finish within {timeout:g} s on {self.role}", stderr + stdout)
        completed = Completed(argv, returncode, stdout, stderr)
        if check and returncode != 0:
            raise ToolError(argv, f"exited with status {returncode} on {self.role}", completed.output)
        return completed

    @contextlib.contextmanager
    def start(self, argv: Sequence[str]) -> Iterator[PodProcess]:
        argv = list(argv)
        container = manifests.container_for(argv, self.containers)
        pidfile = self._pidfile()
        try:
            connection = self._exec.open(self.namespace, self.pod, container, self._wrapped(pidfile, argv))
        except ExecFailed as error:
            raise ToolError(argv, f"could not start in pod {self.namespace}/{self.pod}: {error}") from None
        process = PodProcess(argv, ExecStream(connection, self._echo))
        try:
            yield process
        finally:
            try:
                # Closing the stream does not stop the command in the pod: kill it by its pid.
                if process.running():
                    self._kill(container, pidfile)
                    process.output_stream.finish(STOP_SECONDS)
            finally:
                connection.close()

    def _kill(self, container: str, pidfile: str) -> None:
        kill = ["sh", "-c", KILL_SCRIPT, "sh", pidfile]
        self._exec_run(container, kill, ["kill", pidfile], timeout=STOP_SECONDS)
