"""Overhead per case beyond the tool's own run, and a 10 s fio job through the plugin versus bare.

Targets (issue 8, figure 1): <= 50 ms median per case; <= 1 % of wall time for a 10 s
fio job run through the plugin versus the same fio command run bare.

    python perf/overhead.py [--cases 40] [--rounds 3] [--fio-rounds 3] [--fio-runtime 10]

Part 1: ``cases`` tests each run ``true`` on the local target's client endpoint and
record one sample (the command's wall time), so every case goes through the whole
path: fixtures, the endpoint's ``run`` (``ip netns exec``), the SLO check, the report,
the JSONL row (with its fsync) and the JUnit case. A conftest times each item from
outside every other plugin (setup + call + teardown + report hooks). The first item
also provisions the target (see perf/provisioning.py) and is left out. The overhead
is the item's wall time minus ``true``'s own (timed bare, in the same run). The same
tests without the plugin (``subprocess.run(["true"])``) give pytest's own share.

Part 2: a fio randread job of ``fio-runtime`` seconds, once as a plugin test and once
as the same fio command run bare, interleaved; the test item and the whole pytest
process are both compared with the bare run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ITEM_WALL_CONFTEST, heading, local_target, run_suite, summary, verdict, write_suite  # noqa: E402

from pytest_telescope.tools import fio

CHEAP_PLUGIN = """
import time

import pytest

from pytest_telescope.samples import Sample


@pytest.mark.parametrize("n", range({cases}))
def test_cheap(target, record_samples, n):
    (client,) = target.endpoints("client")
    started = time.perf_counter()
    client.run(["true"])
    record_samples(Sample("command_wall", time.perf_counter() - started, "s"))
"""

CHEAP_PLAIN = """
import subprocess

import pytest


@pytest.mark.parametrize("n", range({cases}))
def test_cheap(n):
    subprocess.run(["true"], check=True)
"""

FIO_SUITE = '''
import pytest

from pytest_telescope.tools import fio


def test_a_provision(target):
    """Provisions the target, so the fio item below holds only its own work."""
    target.endpoints("client")


@pytest.mark.scenario("fio.yaml")
def test_fio(target, case, record_samples):
    (host,) = target.endpoints("client")
    result = host.run(fio.command(host.scratch_dir + "/fio.dat", **case.params), timeout=600)
    record_samples(fio.parse(result.stdout, result.argv))
'''

FIO_SCENARIO = """
benchmark: fio
clouds: [local]
params: {{size: 64M, runtime: {runtime}, rw: randread, block_size: 4k, iodepth: 16}}
"""


def bare_wall(argv: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def per_case(cases: int, rounds: int, root: Path) -> None:
    plugin_dir = write_suite(
        root / "cheap-plugin", {"conftest.py": ITEM_WALL_CONFTEST, "test_cheap.py": CHEAP_PLUGIN.format(cases=cases)}
    )
    plain_dir = write_suite(
        root / "cheap-plain", {"conftest.py": ITEM_WALL_CONFTEST, "test_cheap.py": CHEAP_PLAIN.format(cases=cases)}
    )
    plugin_items, plain_items, first_items, command_walls = [], [], [], []
    for _ in range(rounds):
        _, walls = run_suite(plugin_dir, "-m", "local")
        ordered = list(walls.values())
        first_items.append(ordered[0])
        plugin_items += ordered[1:]
        (run_dir,) = [d for d in (plugin_dir / "results").iterdir() if d.name not in SEEN]
        SEEN.add(run_dir.name)
        rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
        command_walls += [row["value"] for row in rows[1:]]
        _, walls = run_suite(plain_dir, "-p", "no:telescope")
        plain_items += list(walls.values())[1:]
    with tempfile.TemporaryDirectory() as state, local_target(Path(state)) as target:
        namespace = target.endpoint("client").namespace
        bare_true = bare_wall(["true"], 200)
        bare_netns = bare_wall(["ip", "netns", "exec", namespace, "true"], 200) if namespace else bare_true
    tool = statistics.median(bare_true)
    overhead = [item - tool for item in plugin_items]
    print(f"  bare `true`                              {summary([t * 1000 for t in bare_true], ' ms')}")
    print(f"  bare `ip netns exec <client> true`       {summary([t * 1000 for t in bare_netns], ' ms')}")
    print(f"  endpoint.run(['true']) inside the test   {summary([t * 1000 for t in command_walls], ' ms')}")
    print(f"  item wall, plain pytest (no plugin)      {summary([t * 1000 for t in plain_items], ' ms')}")
    print(f"  item wall, plugin                        {summary([t * 1000 for t in plugin_items], ' ms')}")
    print(f"  first item (provisions the target)       {summary([t * 1000 for t in first_items], ' ms')}")
    median = statistics.median(overhead)
    print(
        f"  overhead per case (item - bare tool)     {summary([t * 1000 for t in overhead], ' ms')}   target <= 50 ms: {verdict(median, 0.050)}"
    )


SEEN: set[str] = set()


def fio_job(runtime: int, rounds: int, root: Path) -> None:
    suite = write_suite(
        root / "fio",
        {"conftest.py": ITEM_WALL_CONFTEST, "test_fio.py": FIO_SUITE, "fio.yaml": FIO_SCENARIO.format(runtime=runtime)},
    )
    bare_file = root / "bare" / "fio.dat"
    bare_file.parent.mkdir()
    argv = fio.command(str(bare_file), size="64M", runtime=runtime, rw="randread", block_size="4k", iodepth=16)
    items, processes, bares = [], [], []
    for index in range(rounds):
        # Alternate the order (A B, B A, ...) so a drift in the machine's load hits both alike.
        for step in ("plugin", "bare") if index % 2 == 0 else ("bare", "plugin"):
            if step == "plugin":
                process_wall, walls = run_suite(suite, "-m", "local", "-k", "fio or provision")
                items.append(next(wall for nodeid, wall in walls.items() if "test_fio[" in nodeid))
                processes.append(process_wall)
            else:
                bare_file.unlink(missing_ok=True)  # the plugin's target starts with an empty scratch dir too
                bares += bare_wall(argv, 1)
    item_ratio = [(item - bare) / bare * 100 for item, bare in zip(items, bares)]
    process_ratio = [(process - bare) / bare * 100 for process, bare in zip(processes, bares)]
    print(f"  bare fio                    {summary(bares, ' s')}")
    print(f"  fio test item (plugin)      {summary(items, ' s')}")
    print(f"  whole pytest run (plugin)   {summary(processes, ' s')}")
    print(
        f"  item over bare              {summary(item_ratio, ' %', 2)}   target <= 1 %: {verdict(statistics.median(item_ratio), 1.0)}"
    )
    print(
        f"  whole run over bare         {summary(process_ratio, ' %', 2)}   (includes Python, pytest, provisioning and destroy)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fio-rounds", type=int, default=3)
    parser.add_argument("--fio-runtime", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        heading(f"overhead per case: {args.cases} cases x {args.rounds} runs, local target")
        per_case(args.cases, args.rounds, Path(tmp))
        heading(f"fio {args.fio_runtime} s randread through the plugin vs bare, {args.fio_rounds} interleaved rounds")
        fio_job(args.fio_runtime, args.fio_rounds, Path(tmp))


if __name__ == "__main__":
    main()
