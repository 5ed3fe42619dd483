"""The programs on a cluster: bpftrace in a privileged pod on each node the benchmark's pods may go to.

Each pod runs bpftrace as its container's process, from a pinned image, so the pod's life
is the tracer's: deleting the pod (or the run's namespace) stops it, and a bpftrace that
exits leaves its error in the pod's log. A snapshot is the local one at a distance: an
exec sends SIGUSR1 to bpftrace by the pid it wrote, then the printout is read from the
container's log, from just before the signal, skipping lines already read (the kubelet's
timestamps tell them). No connection stays open between snapshots: a test may last hours,
longer than a load balancer keeps an idle stream, and a log can always be opened again.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import time

from pytest_telescope.errors import ProvisionError, TelescopeError, ToolError
from pytest_telescope.measure.kernel.histograms import window
from pytest_telescope.measure.kernel.programs import TRACEFS, attached, first_error, printout, source
from pytest_telescope.samples import Sample

# bpftrace 0.17.0, the version whose output the local target's Debian package gives and the tests
# hold. Upstream's image (bpftrace INSTALL.md, "Docker images", at v0.17.0; docker/scripts/push.sh
# tags each release as quay.io/iovisor/bpftrace:<git tag>): Ubuntu with the release's bpftrace.
# Upstream stopped building images after v0.19 (commit 4c24ee9f, "Replace embedded quay.io image
# with appimage"), so no newer one of theirs exists. The scenario's image_registry may mirror it.
IMAGE = "quay.io/iovisor/bpftrace:v0.17.0"
CONTAINER = "bpftrace"
PID_DIR = "/tmp"  # in the container
MAX_NODES = 10
# The container's process: $1 the pid file, $2 tracefs, $3 the programs. With hostPID, $$ is the pid
# bpftrace keeps through exec, as the host sees it (and the exec that signals it, in the same pod).
START = """
[ -d "$2/events" ] || { echo "tracefs is not mounted at $2 on this node" >&2; exit 1; }
echo $$ > "$1" || exit 1
exec bpftrace -f json -e "$3"
"""
SIGNAL = 'kill -USR1 "$(cat "$1")"'


class NodeTracer:
    """bpftrace in the pod ``pod`` on ``node``; ``signal`` then ``printout`` is one snapshot."""

    def __init__(self, target, pod: str, node: str, pid_file: str, timeout: float):
        self.target, self.pod, self.node = target, pod, node
        self.pid_file = pid_file
        self.timeout = timeout
        self._read_until = -1  # the kubelet's instant of the last line read: a printout comes after it
        self._signalled = 0.0
        self._errors: list[str] = []
        self._garbled: str | None = None  # why a line was not JSON: no printout is read after it

    def start(self) -> None:
        """Returns once its probes are attached; a pod that cannot run, or a bpftrace that exits, raise."""
        self.target.wait_started(self.pod)
        if not self._read(attached, since_seconds=None):
            raise self._failure("exited before attaching its probes")

    def signal(self) -> None:
        self._signalled = time.monotonic()
        try:
            returncode, stdout, stderr = self.target.pod_run(self.pod, CONTAINER, ["sh", "-c", SIGNAL, "sh", self.pid_file], timeout=self.timeout)
        except ProvisionError as error:  # the exec could not run: the pod or its container is gone
            raise ToolError("bpftrace", f"on node {self.node}: could not signal it: {error}") from None
        if returncode is None:
            raise ToolError("bpftrace", f"on node {self.node}: could not signal it within {self.timeout:g} s")
        if returncode != 0:
            raise ToolError("bpftrace", f"on node {self.node}: could not signal it: {(stderr or stdout).strip() or f'status {returncode}'}")

    def printout(self) -> dict[str, object]:
        since = math.ceil(time.monotonic() - self._signalled) + 2  # seconds: the printout came after the signal
        maps = self._read(printout, since_seconds=since)
        if maps is None:
            raise self._failure("stopped printing its maps")
        return maps

    def _read(self, parse, since_seconds: int | None):
        """``parse`` of the lines of the log; what keeps them from being read is a ``ToolError`` naming the node.
        After a line that is not JSON, or a read cut off inside a printout, every printout is refused: the
        next one read could be the rest of this one."""
        if self._garbled is not None:
            raise ToolError("bpftrace", f"on node {self.node}: {self._garbled}")
        read_until = self._read_until
        try:
            with contextlib.closing(self._lines(since_seconds)) as lines:
                return parse(lines)
        except ProvisionError as error:  # the log could not be read
            if self._read_until != read_until:  # in the middle of a printout: its rest would pass for the next
                self._garbled = f"a printout was cut off: {error}"
            raise ToolError("bpftrace", f"on node {self.node}: {error}") from None
        except ValueError as error:
            self._garbled = str(error)
            raise ToolError("bpftrace", f"on node {self.node}: {error}") from None

    def _lines(self, since_seconds: int | None):
        """bpftrace's JSON lines in the log after the last one read; its other lines are its errors.
        Lines of one printout may share their instant (CRI-O's conmon stamps every line of one read
        from the container alike): only those up to the instant of the last read are skipped."""
        read_until = self._read_until
        for instant, text in self.target.pod_log(self.pod, CONTAINER, since_seconds=since_seconds, read_timeout=self.timeout):
            if instant <= read_until:
                continue
            self._read_until = instant
            if text.startswith("{"):
                yield text
            elif text.strip():
                self._errors.append(text.strip())

    def _failure(self, what: str) -> ToolError:
        return ToolError("bpftrace", f"on node {self.node}: {what}: {first_error(self._errors)}")


class ClusterTracer:
    """The programs ``names`` on every node a role's pod of ``target`` may go to, one pod each;
    ``snapshot`` and ``window`` as the local ``Tracer``'s, per node."""

    def __init__(self, target, names: tuple[str, ...], *, pid_dir: str = PID_DIR, tracefs: str = str(TRACEFS), timeout: float = 60.0):
        self.target = target
        self.names = names
        self.pid_dir, self.tracefs, self.timeout = pid_dir, tracefs, timeout
        self.tracers: list[NodeTracer] = []  # a pod's, from just before its creation until its deletion
        self.attached = False

    def start(self, say) -> "ClusterTracer":
        """Create the pods and wait for bpftrace to attach in each; ``TelescopeError`` says why it cannot.
        Whatever ends it early (Ctrl-C too), the pods made so far are deleted."""
        nodes = sorted({node for nodes in self.target.role_nodes().values() for node in nodes})
        if not nodes:
            raise ToolError("bpftrace", "no node can take the benchmark's pods")
        if len(nodes) > MAX_NODES:
            raise ToolError("bpftrace", f"{len(nodes)} nodes may take the benchmark's pods, more than the {MAX_NODES} traced: give the roles node_selectors")
        token = secrets.token_hex(3)
        say(f"kernel histograms: starting bpftrace ({IMAGE}) on {len(nodes)} nodes of {self.target.cloud}: {', '.join(nodes)} ...")
        started = time.monotonic()
        try:
            for index, node in enumerate(nodes):
                pod = f"bpftrace-{token}-{index}"
                tracer = NodeTracer(self.target, pod, node, f"{self.pid_dir}/{pod}.pid", self.timeout)
                self.tracers.append(tracer)  # first: a creation that timed out may have made the pod all the same
                command = ["sh", "-c", START, "sh", tracer.pid_file, self.tracefs, source(self.names)]
                self.target.start_node_pod(pod, node, IMAGE, command, [self.tracefs], CONTAINER)
            for tracer in self.tracers:
                tracer.start()
        except BaseException:
            for problem in self.stop():
                say(f"kernel histograms: {problem}")
            raise
        self.attached = True
        say(f"kernel histograms: bpftrace attached on {len(nodes)} nodes in {time.monotonic() - started:.1f}s")
        return self

    def snapshot(self) -> dict[str, dict | TelescopeError]:
        """Each node's maps, or why they could not be read. Every bpftrace is signalled before any
        printout is read, so that the nodes' windows start and end together. A node that could not
        be read leaves the tracer not ``attached``: the session starts its pods anew for the next test."""
        found: dict[str, dict | TelescopeError] = {}
        for tracer in self.tracers:
            try:
                tracer.signal()
            except TelescopeError as error:
                found[tracer.node] = error
        for tracer in self.tracers:
            if tracer.node not in found:
                try:
                    found[tracer.node] = tracer.printout()
                except TelescopeError as error:
                    found[tracer.node] = error
        if any(isinstance(maps, TelescopeError) for maps in found.values()):
            self.attached = False
        return found

    def window(self, before: dict) -> tuple[list[Sample], list[str]]:
        """The samples since the snapshot ``before``, per node, labelled with the node and the role of
        each pod of the test on it (a node with none of them: the node only); the problems per node."""
        after = self.snapshot()
        placed = self.target.endpoint_nodes()
        samples, problems = [], []
        for node, maps in after.items():
            error = next((found for found in (before.get(node), maps) if isinstance(found, TelescopeError)), None)
            if error is not None:
                problems.append(f"kernel histograms: {error}")
                continue
            roles = sorted(role for role, on in placed.items() if on == node)
            for labels in [{"role": role, "node": node} for role in roles] or [{"node": node}]:
                samples += window(self.names, before[node], maps, labels)
        return samples, problems

    def stop(self) -> list[str]:
        """Delete the pods (bpftrace ends with them), each tried twice: a kept namespace would keep one
        tracing. Returns those that could not be, each with the command that deletes it. A pod is
        forgotten once its deletion was asked for: those an interrupt leaves, the next ``stop`` deletes."""
        self.attached = False
        problems = []
        while self.tracers:
            pod = self.tracers[0].pod
            for attempt in (1, 2):
                try:
                    self.target.delete_pod(pod)
                    break
                except TelescopeError as error:
                    if attempt == 2:
                        problems.append(f"{error}; delete it with: kubectl delete pod --namespace {self.target.namespace} {pod}")
            del self.tracers[0]
        return problems
