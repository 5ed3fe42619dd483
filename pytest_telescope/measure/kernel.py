"""Kernel histograms over a test's window: bpftrace programs on tracepoints, one process per session.

bpftrace takes about a second to compile and attach its programs (more on a loaded machine), so
it starts once and keeps running; a window is the difference between two printouts of its
cumulative maps, asked for with SIGUSR1 when the test starts and when it ends. Maps print in
name order, one JSON line each (empty ones not at all), so the map ``@zz_end`` closes a printout.
Tracepoints only: kprobes are not available on every kernel. Buckets are bpftrace's powers of two.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from pytest_telescope.errors import TelescopeError, ToolError
from pytest_telescope.process import die_with_parent, stop
from pytest_telescope.samples import LOWER, NEITHER, Metric, Sample

TRACEFS = Path("/sys/kernel/tracing")
_END = "@zz_end"


@dataclass(frozen=True)
class Program:
    """A bpftrace program whose map ``@<name>`` is a histogram (in ``unit``) or a count."""

    name: str
    source: str
    unit: str
    description: str
    histogram: bool = True


PROGRAMS = {
    program.name: program
    for program in (
        Program(
            "runqueue_latency",
            # Time from a task becoming runnable (woken, or preempted while running) to running again.
            # After bcc's runqlat; tracepoint arguments: /sys/kernel/tracing/events/sched/*/format.
            """
tracepoint:sched:sched_wakeup, tracepoint:sched:sched_wakeup_new { @runqueue_queued[args->pid] = nsecs; }
tracepoint:sched:sched_switch {
  if (args->prev_state == 0) { @runqueue_queued[args->prev_pid] = nsecs; } else { delete(@runqueue_queued[args->prev_pid]); }
  $queued = @runqueue_queued[args->next_pid];
  if ($queued) {
    @runqueue_latency = hist((nsecs - $queued) / 1000);
    delete(@runqueue_queued[args->next_pid]);
  }
}
""",
            "us",
            "time a runnable task waited for a CPU",
        ),
        Program(
            "block_io_latency",
            # A request is known by its device and first sector from issue to completion (biolatency's way).
            """
tracepoint:block:block_rq_issue { @block_io_issued[args->dev, args->sector] = nsecs; }
tracepoint:block:block_rq_complete {
  $issued = @block_io_issued[args->dev, args->sector];
  if ($issued) {
    @block_io_latency = hist((nsecs - $issued) / 1000);
    delete(@block_io_issued[args->dev, args->sector]);
  }
}
""",
            "us",
            "time from a block I/O request's issue to the device to its completion",
        ),
        Program(
            "tcp_retransmits",
            "tracepoint:tcp:tcp_retransmit_skb { @tcp_retransmits = count(); }\n",
            "count",
            "TCP segments retransmitted",
            histogram=False,
        ),
    )
}
STATS = ("p50", "p90", "p99", "max")



def metrics(names: tuple[str, ...]) -> dict[str, Metric]:
    """The metrics the programs ``names`` give: a scenario's SLOs may name them. Latencies and
    retransmits are better lower; how many events a window saw measures the workload."""
    found = {}
    for program in (PROGRAMS[name] for name in names):
        if program.histogram:
            found.update({f"{program.name}_{stat}": Metric(program.unit, LOWER) for stat in STATS})
            found[f"{program.name}_count"] = Metric("count", NEITHER)
        else:
            found[program.name] = Metric(program.unit, LOWER)
    return found


METRICS = metrics(tuple(PROGRAMS))


def unavailable() -> str | None:
    """Why the programs cannot run here, or None when they can."""
    if shutil.which("bpftrace") is None:
        return "bpftrace is not on PATH (Debian package bpftrace)"
    if os.geteuid() != 0:
        return "bpftrace needs root"
    if not (TRACEFS / "events").is_dir():
        return f"tracefs is not mounted at {TRACEFS} (mount -t tracefs tracefs {TRACEFS})"
    return None


def source(names: tuple[str, ...]) -> str:
    return "".join(PROGRAMS[name].source for name in names) + f"BEGIN {{ {_END} = 1; }}\n"


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
        for line in self._next_lines():
            if json.loads(line).get("type") == "attached_probes":
                return self
        raise self._failure("exited before attaching its probes")

    def snapshot(self) -> dict[str, object]:
        """The maps as they are now: name (without ``@``) to histogram buckets or a count."""
        self._popen.send_signal(signal.SIGUSR1)
        maps: dict[str, object] = {}
        for line in self._next_lines():
            message = json.loads(line)
            if message.get("type") not in ("map", "hist"):
                continue
            for name, value in message["data"].items():
                if name == _END:
                    return maps
                maps[name.removeprefix("@")] = value
        raise self._failure("stopped printing its maps")

    def stop(self) -> None:
        if self._popen is not None:
            stop(self._popen)
            self._popen = None

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
        errors = [line for line in self._errors if "RLIMIT_MEMLOCK" not in line]  # a warning: it runs anyway
        self.stop()
        return ToolError("bpftrace", f"{what}: {errors[0] if errors else 'no error printed'}")

    @staticmethod
    def _read(stream, lines: queue.Queue) -> None:
        for line in stream:
            lines.put(line.strip())
        lines.put(None)

    def _read_errors(self, stream) -> None:
        for line in stream:
            if line.strip():
                self._errors.append(line.strip())


def window(names: tuple[str, ...], before: dict, after: dict, labels: dict[str, str]) -> list[Sample]:
    """The samples of what happened between two snapshots: per histogram its percentiles, max and
    count (its buckets ride on the count sample), per count the count."""
    samples = []
    for name in names:
        program = PROGRAMS[name]
        if not program.histogram:
            samples.append(Sample(name, float(after.get(name, 0) - before.get(name, 0)), program.unit, dict(labels)))
            continue
        buckets = difference(before.get(name, []), after.get(name, []))
        total = sum(count for _, _, count in buckets)
        if total:
            for stat in STATS:
                samples.append(Sample(f"{name}_{stat}", statistic(buckets, stat), program.unit, dict(labels)))
        histogram = {"unit": program.unit, "buckets": [list(bucket) for bucket in buckets]}
        samples.append(Sample(f"{name}_count", float(total), "count", dict(labels), histogram=histogram))
    return samples


def difference(before: list[dict], after: list[dict]) -> list[tuple[int, int, int]]:
    """Buckets (low, high, count) of ``after`` minus ``before``, ends without counts trimmed."""
    earlier = {(b["min"], b.get("max", b["min"])): b["count"] for b in before}
    buckets = [
        (b["min"], b.get("max", b["min"]), b["count"] - earlier.get((b["min"], b.get("max", b["min"])), 0))
        for b in after
    ]
    counted = [i for i, (_, _, count) in enumerate(buckets) if count]
    return buckets[counted[0] : counted[-1] + 1] if counted else []


def statistic(buckets: list[tuple[int, int, int]], stat: str) -> float:
    """A percentile, interpolated linearly inside its bucket, or the max: the top of the highest
    bucket with a count. Either is exact to the bucket: powers of two wide."""
    if stat == "max":
        return float(buckets[-1][1] + 1)
    wanted = float(stat.removeprefix("p")) / 100 * sum(count for _, _, count in buckets)
    seen = 0
    for low, high, count in buckets:
        if count and seen + count >= wanted:
            return low + (high + 1 - low) * (wanted - seen) / count
        seen += count
    return float(buckets[-1][1] + 1)


class KernelWindows:
    """The session's kernel histograms: a ``Tracer`` started on first use on the local target, and
    restarted when a test asks for other programs. ``setting`` is ``on`` or ``off``; when the
    programs cannot run, ``say`` is told why once and benchmarks run on without them."""

    def __init__(self, setting: str, say):
        if setting not in ("on", "off"):
            raise TelescopeError(f"--telescope-kernel must be on or off, got {setting!r}")
        self.on = setting == "on"
        self._say = say
        self._said: set[str] = set()
        self._tracer: Tracer | None = None

    def begin(self, cloud: str, names: tuple[str, ...] = tuple(PROGRAMS)) -> tuple | None:
        """A window's start on a target of ``cloud``, or None when there is none to take."""
        if not self.on or not names:
            return None
        if cloud != "local":
            self._say_once(f"kernel histograms off for {cloud}: they are taken on the local target only")
            return None
        why = unavailable()
        if why is None and (self._tracer is None or self._tracer.names != names):
            self.stop()
            try:
                self._tracer = Tracer(names).start()
            except ToolError as error:
                why = str(error)
        if why is not None:
            self.on = False
            self._say(f"kernel histograms off: {why}")
            return None
        return names, self._tracer.snapshot()

    def end(self, begun: tuple | None) -> tuple[list[Sample], list[str]]:
        """The window's samples and, when they could not be read, why."""
        if begun is None:
            return [], []
        names, before = begun
        try:
            return window(names, before, self._tracer.snapshot(), {}), []
        except ToolError as error:
            return [], [f"kernel histograms: {error}"]

    def stop(self) -> None:
        if self._tracer is not None:
            self._tracer.stop()
            self._tracer = None

    def _say_once(self, text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            self._say(text)
