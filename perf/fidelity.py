"""Fidelity: what the plugin reports versus the same tool run bare, interleaved A/B/B/A.

Target (issue 8, figure 2): iperf3 throughput and fio IOPS reported by the plugin
within +-3 % of the same tool run bare.

    python perf/fidelity.py [--rounds 6] [--duration 5]

A (plugin): a suite with one iperf3 case (TCP, 1 stream) and one fio case (4k
randread, iodepth 16, 64 MiB file) on the local target; the figures are read back
from results.jsonl. B (bare): the same iperf3 server and client command lines run
directly with ``ip netns exec`` between two namespaces made by the same Terraform
module, and the same fio command line on a file of this machine's disk; the figures
are read from the tools' own JSON. Rounds alternate A B / B A so a drift in load
hits both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, bare_round, heading, local_target, paired, summary, timed_run, write_suite  # noqa: E402

SUITE = '''
import time

import pytest

from pytest_telescope.samples import Sample
from pytest_telescope.tools import fio, iperf3


def harness_share(run):
    """Run the tool; record the CPU time this (pytest) process spent meanwhile, and the tool's wall time."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = run()
    return result, [Sample("harness_cpu", time.process_time() - cpu, "s"), Sample("tool_wall", time.perf_counter() - wall, "s")]


@pytest.mark.scenario("iperf3.yaml")
def test_iperf3(target, case, record_samples):
    server, client = target.endpoints("server", "client")
    port = server.free_port()
    with server.start(iperf3.server_command(port, bind=server.address)) as process:
        server.wait_listening(process, port)
        result, share = harness_share(lambda: client.run(iperf3.command(server.address, port, **case.params), timeout=120, check=False))
    record_samples(iperf3.parse(result.stdout, result.argv) + share)


@pytest.mark.scenario("fio.yaml")
def test_fio(target, case, record_samples):
    (host,) = target.endpoints("client")
    result, share = harness_share(lambda: host.run(fio.command(host.scratch_dir + "/fio.dat", **case.params), timeout=600))
    record_samples(fio.parse(result.stdout, result.argv) + share)
'''

IPERF3_SCENARIO = """
benchmark: iperf3
clouds: [local]
params: {{duration: {duration}, protocol: tcp, parallel: 1}}
"""

FIO_SCENARIO = """
benchmark: fio
clouds: [local]
params: {{size: 64M, runtime: {duration}, rw: randread, block_size: 4k, iodepth: 16}}
"""


def plugin_round(suite: Path, harness: list[float]) -> tuple[float, float]:
    """(iperf3 Mbit/s received, fio read IOPS) as the plugin reports them; adds to ``harness``
    the share of one CPU the pytest process used while each tool ran, in percent."""
    shutil.rmtree(suite / "results", ignore_errors=True)
    timed_run([PYTHON, "-m", "pytest", "-q", "-m", "local"], cwd=suite)
    (run_dir,) = (suite / "results").iterdir()
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    throughput = next(row["value"] for row in rows if row["metric"] == "throughput_received")
    iops = next(row["value"] for row in rows if row["metric"] == "read_iops")
    for benchmark in ("iperf3", "fio"):
        measured = {row["metric"]: row["value"] for row in rows if row["benchmark"] == benchmark}
        harness.append(measured["harness_cpu"] / measured["tool_wall"] * 100)
    return throughput, iops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=5, help="iperf3 -t and fio runtime, seconds")
    args = parser.parse_args()
    heading(f"fidelity: plugin vs bare, {args.rounds} rounds A B / B A, {args.duration} s per tool run")
    plugin, bare, loads, harness = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        suite = write_suite(
            root / "suite",
            {
                "test_fidelity.py": SUITE,
                "iperf3.yaml": IPERF3_SCENARIO.format(duration=args.duration),
                "fio.yaml": FIO_SCENARIO.format(duration=args.duration),
            },
        )
        with local_target(root / "state", "bare") as target:
            print(f"  bare side: local target in {target.mode} mode")
            for index in range(args.rounds):
                order = ("plugin", "bare") if index % 2 == 0 else ("bare", "plugin")
                for side in order:
                    if side == "plugin":
                        plugin.append(plugin_round(suite, harness))
                    else:
                        bare.append(bare_round(target, root / "bare-fio.dat", args.duration))
                loads.append(os.getloadavg()[0])
    print(f"  load average (1 min) after each round: {', '.join(f'{load:.2f}' for load in loads)}")
    print(f"  CPU the pytest process used while a tool ran, share of one CPU: {summary(harness, ' %', 3)}")
    for index, (name, unit) in enumerate((("iperf3 throughput_received", "Mbit/s"), ("fio read_iops", "IOPS"))):
        paired(name, unit, [p[index] for p in plugin], [p[index] for p in bare], "plugin", "bare", 3)

if __name__ == "__main__":
    main()
