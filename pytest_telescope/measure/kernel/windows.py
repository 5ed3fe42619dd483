"""The session's kernel histograms: a tracer per target, started on first use, and a window per test."""

from __future__ import annotations

from pytest_telescope.errors import TelescopeError, ToolError
from pytest_telescope.measure.kernel.pods import ClusterTracer
from pytest_telescope.measure.kernel.programs import PROGRAMS
from pytest_telescope.measure.kernel.tracer import Tracer, unavailable
from pytest_telescope.samples import Sample
from pytest_telescope.targets.kubernetes import KubernetesTarget


SETTINGS = ("auto", "on", "off")
# A cluster of the user's own (perhaps in production) gets privileged pods only when asked.
OWN_CLUSTER = "existing"
# A cluster's pods are started anew after a node's bpftrace failed, this many times in a session.
MAX_RESTARTS = 3


class KernelWindows:
    """A ``Tracer`` for the local target, a ``ClusterTracer`` per Kubernetes target, each started on
    first use and restarted when a test asks for other programs. ``setting`` is ``auto`` (the local
    target and the clusters the run provisions), ``on`` (a cluster of the user's own too) or ``off``;
    where the programs cannot run, ``say`` is told why once and benchmarks run on without them."""

    def __init__(self, setting: str, say, cluster_tracer=ClusterTracer):
        if setting not in SETTINGS:
            raise TelescopeError(f"--telescope-kernel (ini telescope_kernel) must be auto, on or off, got {setting!r}")
        self.on = setting != "off"
        self.everywhere = setting == "on"
        self._say = say
        self._said: set[str] = set()
        self._tracer: Tracer | None = None
        self._cluster_tracer = cluster_tracer  # the class, or a partial of it with other paths (tests)
        self._clusters: dict[int, ClusterTracer] = {}  # by id(target): a session's targets live as long as it
        self._off: set[str | int] = set()  # "local", or the id of a cluster target, where they cannot run
        self._restarts: dict[int, int] = {}  # by id(target): its pods started anew after a failure

    def begin(self, target, names: tuple[str, ...] = tuple(PROGRAMS)) -> tuple | None:
        """A window's start on ``target``, or None when there is none to take; a snapshot that could not
        be taken is the window's problem."""
        if not self.on or not names:
            return None
        if target.cloud == OWN_CLUSTER and not self.everywhere:
            self._say_once(
                f"kernel histograms off for {OWN_CLUSTER}: a cluster of your own gets their privileged pods "
                "only with --telescope-kernel on (ini telescope_kernel = on)"
            )
            return None
        if isinstance(target, KubernetesTarget):
            tracer = self._cluster(target, names)
        elif target.cloud == "local":
            tracer = self._local(names)
        else:
            self._say_once(f"kernel histograms off for {target.cloud}: they are taken on the local target and on Kubernetes targets only")
            return None
        if tracer is None:
            return None
        try:
            return tracer, tracer.snapshot()
        except ToolError as error:
            return tracer, error

    def end(self, begun: tuple | None) -> tuple[list[Sample], list[str]]:
        """The window's samples and, when they could not be read, why."""
        if begun is None:
            return [], []
        tracer, before = begun
        if isinstance(before, ToolError):
            return [], [f"kernel histograms: {before}"]
        try:
            return tracer.window(before)
        except ToolError as error:
            return [], [f"kernel histograms: {error}"]

    def stop(self) -> None:
        """Stop every tracer; a cluster's pods are deleted (also when the target is kept)."""
        if self._tracer is not None:
            self._tracer.stop()
            self._tracer = None
        for key in list(self._clusters):
            self._drop(key)

    def _local(self, names: tuple[str, ...]) -> Tracer | None:
        if "local" in self._off:
            return None
        why = unavailable()
        if why is None and (self._tracer is None or self._tracer.names != names or not self._tracer.running):
            if self._tracer is not None:
                self._tracer.stop()
            try:
                self._tracer = Tracer(names).start()
            except ToolError as error:
                why = str(error)
        if why is not None:
            self._off.add("local")
            self._say(f"kernel histograms off: {why}")
            return None
        return self._tracer

    def _cluster(self, target: KubernetesTarget, names: tuple[str, ...]) -> ClusterTracer | None:
        if id(target) in self._off:
            return None
        tracer = self._clusters.get(id(target))
        if tracer is not None and not tracer.attached:  # a node's bpftrace failed, or its start was cut short
            restarts = self._restarts[id(target)] = self._restarts.get(id(target), 0) + 1
            if restarts > MAX_RESTARTS:
                self._drop(id(target))
                self._off.add(id(target))
                self._say(f"kernel histograms off for {target.cloud}: bpftrace failed on a node after {MAX_RESTARTS} restarts of its pods")
                return None
        if tracer is not None and (tracer.names != names or not tracer.attached):
            self._drop(id(target))
            tracer = None
        if tracer is None:
            # Kept before it starts: whatever interrupts its start, ``stop`` deletes the pods it left.
            tracer = self._clusters[id(target)] = self._cluster_tracer(target, names)
            try:
                tracer.start(self._say)
            except TelescopeError as error:
                self._off.add(id(target))
                self._say(f"kernel histograms off for {target.cloud}: {error}")
                return None
        return tracer

    def _drop(self, key: int) -> None:
        """Stop a cluster's tracer (its pods deleted) and forget it."""
        for problem in self._clusters.pop(key).stop():
            self._say(f"kernel histograms: {problem}")

    def _say_once(self, text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            self._say(text)
