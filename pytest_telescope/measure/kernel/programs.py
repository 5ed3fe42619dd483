"""The bpftrace programs, the metrics they give, and how their JSON printouts read.

A program's map ``@<name>`` is a histogram or a count. bpftrace (``-f json``) prints
maps in name order, one JSON line each (empty ones not at all), so the map ``@zz_end``,
set once in ``BEGIN``, closes each printout. Tracepoints only: kprobes are not
available on every kernel. Buckets are bpftrace's powers of two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from pytest_telescope.samples import LOWER, NEITHER, Metric

TRACEFS = Path("/sys/kernel/tracing")
END = "@zz_end"


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


def source(names: tuple[str, ...]) -> str:
    return "".join(PROGRAMS[name].source for name in names) + f"BEGIN {{ {END} = 1; }}\n"


def attached(lines: Iterable[str]) -> bool:
    """Whether bpftrace's JSON ``lines`` say its probes are attached before they end."""
    return any(message.get("type") == "attached_probes" for message in _messages(lines))


def printout(lines: Iterable[str]) -> dict[str, object] | None:
    """The maps of the next printout in bpftrace's JSON ``lines``: name (without ``@``) to histogram
    buckets or a count; None when the lines end first. ``ValueError`` names a line that is not JSON."""
    maps: dict[str, object] = {}
    for message in _messages(lines):
        if message.get("type") not in ("map", "hist"):
            continue
        for name, value in message["data"].items():
            if name == END:
                return maps
            maps[name.removeprefix("@")] = value
    return None


def _messages(lines: Iterable[str]):
    for line in lines:
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            raise ValueError(f"printed a line that is not JSON: {line[:120]!r}") from None


def first_error(errors: list[str]) -> str:
    """What bpftrace's error lines say first: its RLIMIT_MEMLOCK warning is no error (it runs anyway)."""
    found = [line for line in errors if "RLIMIT_MEMLOCK" not in line]
    return found[0] if found else "no error printed"
