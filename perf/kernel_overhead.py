"""Kernel histograms' cost: fio and iperf3 with the bpftrace programs attached versus without.

Target (issue 16): fio 4k randread IOPS and iperf3 throughput change by <= 2 % when the
kernel programs (run-queue latency, block I/O latency, TCP retransmits) are attached.

    python perf/kernel_overhead.py [--rounds 10] [--duration 5] [--programs runqueue_latency ...]

Both sides run the same bare commands as perf/fidelity.py's bare side: iperf3 between the two
namespaces of the local target (one TCP stream), fio 4k randread with iodepth 16 on a 64 MiB
file of this machine's disk. On the "attached" side the plugin's own ``Tracer`` runs the
programs, as it does for a session: attached before the tools start, and asked for a
snapshot before and after each tool, as around a test. Rounds alternate A B / B A.

Then one more attached round with the kernel's BPF statistics on (sysctl
kernel.bpf_stats_enabled, restored after): the CPU time the programs themselves ran and how
many times, read from bpftrace's program file descriptors (/proc/<pid>/fdinfo). That cost
does not drown in the tools' run-to-run noise, as their throughput does on a small VM.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bare_round, heading, local_target, paired, summary  # noqa: E402

from pytest_telescope.measure.kernel import PROGRAMS, Tracer, unavailable


def attached_round(programs: tuple[str, ...], target, fio_file: Path, duration: int) -> tuple[tuple[float, float], int]:
    """(iperf3 Mbit/s, fio IOPS) with the programs attached, and how many run-queue and block I/O
    events the programs counted meanwhile (what the cost is paid for)."""
    tracer = Tracer(programs).start()
    try:
        before = tracer.snapshot()
        figures = bare_round(target, fio_file, duration)
        after = tracer.snapshot()
    finally:
        tracer.stop()
    return figures, events(after) - events(before)


def program_runs(pid: int) -> tuple[int, int]:
    """(nanoseconds, runs) of the BPF programs the process ``pid`` holds, summed (kernel.bpf_stats_enabled)."""
    nanoseconds = runs = 0
    for fdinfo in Path(f"/proc/{pid}/fdinfo").iterdir():
        fields = dict(line.split(":", 1) for line in fdinfo.read_text().splitlines() if ":" in line)
        if "prog_type" in fields and "run_time_ns" in fields:
            nanoseconds += int(fields["run_time_ns"])
            runs += int(fields["run_cnt"])
    return nanoseconds, runs


def cost_round(programs: tuple[str, ...], target, fio_file: Path, duration: int) -> None:
    """Prints the CPU time the programs ran for during one round of both tools, per run and as a share of the CPUs."""
    setting = Path("/proc/sys/kernel/bpf_stats_enabled")
    was = setting.read_text().strip()
    setting.write_text("1")
    tracer = Tracer(programs).start()
    try:
        pid = tracer.pid
        nanoseconds, runs = program_runs(pid)
        started = time.perf_counter()
        bare_round(target, fio_file, duration)
        wall = time.perf_counter() - started
        after = program_runs(pid)
    finally:
        tracer.stop()
        setting.write_text(was)
    nanoseconds, runs = after[0] - nanoseconds, after[1] - runs
    share = nanoseconds / (wall * 1e9 * os.cpu_count()) * 100
    print(
        f"  BPF programs during one round ({wall:.1f} s, kernel.bpf_stats_enabled): {runs:,} runs, "
        f"{nanoseconds / 1e6:.0f} ms of CPU, {nanoseconds / max(runs, 1):.0f} ns per run, "
        f"{share:.2f} % of {os.cpu_count()} CPUs"
    )


def events(maps: dict) -> int:
    return sum(bucket["count"] for value in maps.values() if isinstance(value, list) for bucket in value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--duration", type=int, default=5, help="iperf3 -t and fio runtime, seconds")
    parser.add_argument("--programs", nargs="+", choices=sorted(PROGRAMS), default=sorted(PROGRAMS))
    args = parser.parse_args()
    if why := unavailable():
        raise SystemExit(f"kernel programs cannot run here: {why}")
    programs = tuple(args.programs)
    heading(
        f"kernel programs {', '.join(programs)}: attached vs not, {args.rounds} rounds A B / B A, "
        f"{args.duration} s per tool run"
    )
    attached, detached, counted, loads = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp, local_target(Path(tmp) / "state", "kernel") as target:
        fio_file = Path(tmp) / "fio.dat"
        print(f"  local target in {target.mode} mode")
        for index in range(args.rounds):
            for side in ("attached", "detached") if index % 2 == 0 else ("detached", "attached"):
                if side == "attached":
                    figures, seen = attached_round(programs, target, fio_file, args.duration)
                    attached.append(figures)
                    counted.append(seen)
                else:
                    detached.append(bare_round(target, fio_file, args.duration))
            loads.append(os.getloadavg()[0])
        cost_round(programs, target, fio_file, args.duration)
    print(f"  load average (1 min) after each round: {', '.join(f'{load:.2f}' for load in loads)}")
    print(f"  histogram events the programs counted per attached round: {summary(counted, '', 0)}")
    for index, (name, unit) in enumerate((("iperf3 throughput_received", "Mbit/s"), ("fio read_iops", "IOPS"))):
        paired(name, unit, [a[index] for a in attached], [d[index] for d in detached], "attached", "detached", 2)


if __name__ == "__main__":
    main()
