"""Collection scale: a scenario that parametrizes to 10,000 cases, with the plugin and without.

Target (issue 8, figure 3): collecting it takes at most 2x plain pytest collecting
the same parametrization without the plugin.

    python perf/collection.py [--side 100] [--rounds 5]

The plugin suite is a fio benchmark whose scenario has a ``side`` x ``side`` matrix
(iodepth x numjobs) on the local cloud. The plain suite parametrizes the same test
function with the same 10,000 parameter dicts and ids, with the plugin disabled
(``-p no:telescope``). Both run ``pytest --collect-only -q``, interleaved.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, heading, summary, timed_run, verdict  # noqa: E402

PLUGIN_TEST = """
import pytest
from pytest_telescope.tools import fio


@pytest.mark.scenario("fio.yaml")
def test_fio(target, case, record_samples):
    (host,) = target.endpoints("client")
    result = host.run(fio.command(host.scratch_dir + "/fio.dat", **case.params), timeout=600)
    record_samples(fio.parse(result.stdout, result.argv))
"""

SCENARIO = """
benchmark: fio
clouds: [local]
params: {{size: 16M, runtime: 1}}
matrix:
  iodepth: {values}
  numjobs: {values}
slo:
  read_iops: {{min: 10}}
"""

PLAIN_TEST = """
import itertools

import pytest

CASES = [
    pytest.param({{"size": "16M", "runtime": 1, "iodepth": iodepth, "numjobs": numjobs}}, id=f"iodepth{{iodepth}}-numjobs{{numjobs}}")
    for iodepth, numjobs in itertools.product(range(1, {side} + 1), repeat=2)
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("target", ["local"])
def test_fio(target, case):
    pass
"""


def collect(directory: Path, *plugin_option: str) -> tuple[float, float, int]:
    """Process wall time, pytest's own "collected in" time, and the number of items."""
    argv = [PYTHON, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:terraform", *plugin_option]
    wall, completed = timed_run(argv, cwd=directory)
    match = re.search(r"(\d+) tests? collected in ([\d.]+)s", completed.stdout)
    if match is None:
        raise SystemExit(f"no 'collected in' line from pytest in {directory}:\n{completed.stdout[-2000:]}")
    return wall, float(match[2]), int(match[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=100, help="matrix side: side x side cases")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    values = list(range(1, args.side + 1))
    heading(
        f"collection: {args.side}x{args.side} = {args.side**2} cases, plugin vs plain pytest, {args.rounds} interleaved rounds"
    )
    with tempfile.TemporaryDirectory() as tmp:
        plugin_dir, plain_dir = Path(tmp, "plugin"), Path(tmp, "plain")
        plugin_dir.mkdir()
        plain_dir.mkdir()
        (plugin_dir / "test_fio.py").write_text(PLUGIN_TEST)
        (plugin_dir / "fio.yaml").write_text(SCENARIO.format(values=values))
        (plain_dir / "test_fio.py").write_text(PLAIN_TEST.format(side=args.side))
        figures: dict[str, list[tuple[float, float, int]]] = {"plugin": [], "plain": []}
        for _ in range(args.rounds):
            figures["plugin"].append(collect(plugin_dir))
            figures["plain"].append(collect(plain_dir, "-p", "no:telescope"))
    for name, runs in figures.items():
        items = {count for _, _, count in runs}
        print(
            f"  {name:7s} items {items}  process {summary([w for w, _, _ in runs], ' s')}  collected in {summary([c for _, c, _ in runs], ' s')}"
        )
    for index, what in ((0, "process wall time"), (1, "pytest's collection time")):
        ratios = [a[index] / b[index] for a, b in zip(figures["plugin"], figures["plain"])]
        print(
            f"  ratio plugin/plain, {what}: {summary(ratios, 'x', 2)}   target <= 2x: {verdict(statistics.median(ratios), 2.0)}"
        )


if __name__ == "__main__":
    main()
