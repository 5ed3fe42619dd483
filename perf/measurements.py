"""What measurements (Prometheus and the golden signals) add to a run, side by side with
``--telescope-prometheus off``.

Targets (issue 14): <= 50 ms per case with golden signals on; <= 1 s that Prometheus adds to
the session's critical path.

    python perf/measurements.py [--cases 10] [--rounds 3]

``cases`` benchmark cases of one scenario (golden signals on, its default) each run ``true``
on the local target's client endpoint and record one sample, once with a local Prometheus
(``--telescope-prometheus local``) and once without (``off``), rounds interleaved. Per case:
each item's wall time from outside every other plugin (setup, call, teardown, report hooks),
the first item of a run (it provisions the target) left out. Per session: the whole pytest
process's wall time; what Prometheus adds to it beyond its per-case cost is what it costs
once, on the session's critical path.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ITEM_WALL_CONFTEST, heading, run_suite, summary, verdict, write_suite  # noqa: E402

SUITE = """
import pytest

from pytest_telescope.samples import Sample


@pytest.mark.scenario("cheap.yaml")
def test_cheap(target, case, record_samples):
    (client,) = target.endpoints("client")
    client.run(["true"])
    record_samples(Sample("retransmits", 0, "count"))
"""

# One case per value of parallel: the test ignores it, the scenario only makes the cases.
SCENARIO = """
benchmark: iperf3
clouds: [local]
matrix:
  parallel: [{values}]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    heading(f"measurements on and off: {args.cases} cases, {args.rounds} rounds")
    with tempfile.TemporaryDirectory() as root:
        suite = write_suite(
            Path(root) / "suite",
            {
                "conftest.py": ITEM_WALL_CONFTEST,
                "test_cheap.py": SUITE,
                "cheap.yaml": SCENARIO.format(values=", ".join(str(n) for n in range(1, args.cases + 1))),
            },
        )
        items: dict[str, list[float]] = {"local": [], "off": []}
        sessions: dict[str, list[float]] = {"local": [], "off": []}
        for _ in range(args.rounds):
            for source in items:
                wall, walls = run_suite(suite, "-m", "local", "--telescope-prometheus", source)
                sessions[source].append(wall)
                items[source] += list(walls.values())[1:]
    for source in items:
        print(f"  item wall, prometheus {source:<5}         {summary([t * 1000 for t in items[source]], ' ms')}")
        print(f"  session wall, prometheus {source:<5}      {summary(sessions[source], ' s')}")
    per_case = statistics.median(items["local"]) - statistics.median(items["off"])
    once = statistics.median(sessions["local"]) - statistics.median(sessions["off"]) - args.cases * per_case
    print(f"  per case, measurements on minus off      {per_case * 1000:.1f} ms   target <= 50 ms: {verdict(per_case, 0.050)}")
    print(f"  once per session, on the critical path   {once:.2f} s   target <= 1 s: {verdict(once, 1.0)}")


if __name__ == "__main__":
    main()
