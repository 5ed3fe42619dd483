"""Reporting scale: 100,000 samples through rows, JSONL and JUnit; 1,000 CL2 files through the parser.

Targets (issue 8, figure 4): 100,000 samples written to JSONL and JUnit in <= 2 s;
1,000 CL2 measurement files parsed in <= 1 s.

    python perf/reporting.py [--tests 1000] [--samples 100] [--rounds 5] [--secret]

Part 1 drives the plugin's own pieces (Recorder, results.rows, JsonlWriter with its
fsync per test, JunitReport) with pytest's real TestReport objects, 3 reports per test
as pytest makes them: their own cost. Part 2 runs the same amount through the real
hook path: a generated suite of tests that each record the samples, timed against the
same suite recording none; this includes what pytest and the plugin keep alive during
a run (and the garbage collector then walks). Part 3 parses a generated clusterloader2
report directory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, heading, summary, timed_run, verdict  # noqa: E402

from pytest_telescope.redact import Redactor
from pytest_telescope.report.jsonl import JsonlWriter
from pytest_telescope.report.junit import JunitReport
from pytest_telescope.rows import rows
from pytest_telescope.samples import Sample
from pytest_telescope.tools import fio
from pytest_telescope.verdict.recorder import Recorder
from pytest_telescope.verdict.slo import Threshold

METRICS = list(fio.METRICS.items())[:10]
# What the local target puts on every row (LocalTarget.metadata), and a case's parameters.
TARGET = {
    "cloud": "local",
    "mode": "netns",
    "endpoints": {
        "server": {"address": "10.200.0.1", "namespace": "telescope-5e1f0c2a-server"},
        "client": {"address": "10.200.0.2", "namespace": "telescope-5e1f0c2a-client"},
    },
    "kernel": "6.18.44",
    "cpus": 2,
    "shaping": {"rate_mbit": 0, "applied": False, "qdisc": None, "burst_bytes": None, "reason": None},
    "impairment": {"delay_ms": 0, "loss_percent": 0, "requested": False, "available": False, "applied": False, "reason": None},
}
PARAMS = {"size": "256M", "runtime": 3, "iodepth": 16, "rw": "randread", "block_size": "4k"}
THRESHOLDS = [
    Threshold("read_iops", ">=", 1000, "IOPS"),
    Threshold("read_clat_p99", "<=", 50, "ms"),
    Threshold("write_iops", ">=", 500, "IOPS"),
]


def samples_of_one_test(count: int, seed: int) -> list[Sample]:
    """``count`` fio-like samples: 10 metrics per job, as many jobs as it takes."""
    return [
        Sample(metric, 1000.0 + seed + i * 0.37, unit, {"job": f"job{i // len(METRICS)}"})
        for i, (metric, unit) in ((i, METRICS[i % len(METRICS)]) for i in range(count))
    ]


def redactor(with_secret: bool) -> Redactor:
    scrubber = Redactor()
    if with_secret:
        scrubber.add_environment({"SYSTEM_ACCESSTOKEN": "s3cr3t-token-value-that-never-appears"})
    return scrubber


def one_round(tests: int, per_test: int, directory: Path, with_secret: bool) -> dict[str, float]:
    """Seconds per stage for ``tests`` tests of ``per_test`` samples each."""
    scrub = redactor(with_secret).scrub
    stages = dict.fromkeys(["record", "rows", "jsonl", "junit add", "junit write"], 0.0)
    writer = JsonlWriter(directory / "results.jsonl", scrub)
    junit = JunitReport("run", "2026-01-01T00:00:00.000Z")
    batches = [samples_of_one_test(per_test, t) for t in range(tests)]
    for t, batch in enumerate(batches):
        nodeid = f"benchmarks/storage/test_fio.py::test_fio[local-case{t}]"
        started = time.perf_counter()
        recorder = Recorder(cloud="local", benchmark="fio", case=f"case{t}", params=PARAMS, thresholds=THRESHOLDS)
        recorder.target = TARGET
        recorder(batch)
        data = recorder.to_report()
        lap = time.perf_counter()
        stages["record"] += lap - started
        written = rows("run", nodeid, "passed", data)
        stages["rows"] += time.perf_counter() - lap
        lap = time.perf_counter()
        writer.write(written)
        stages["jsonl"] += time.perf_counter() - lap
        lap = time.perf_counter()
        for when in ("setup", "call", "teardown"):
            report = pytest.TestReport(nodeid, ("x.py", 0, nodeid), {}, "passed", None, when, duration=0.01)
            junit.add(report, data["samples"] if when == "call" else [])
        stages["junit add"] += time.perf_counter() - lap
    writer.close()
    lap = time.perf_counter()
    junit.write(directory / "junit.xml", scrub)
    stages["junit write"] = time.perf_counter() - lap
    lines = (directory / "results.jsonl").read_text().count("\n")
    assert lines == tests * per_test, f"{lines} rows written, expected {tests * per_test}"
    return stages


HOOK_SUITE = """
import pytest
from pytest_telescope.samples import Sample

METRICS = {metrics!r}


@pytest.mark.parametrize("n", range({tests}))
def test_records(n, record_samples):
    record_samples(
        Sample(metric, 1000.0 + n + i * 0.37, unit, {{"job": f"job{{i // len(METRICS)}}"}})
        for i, (metric, unit) in ((i, METRICS[i % len(METRICS)]) for i in range({per_test}))
    )
"""


def hook_path(tests: int, per_test: int, rounds: int) -> tuple[list[float], list[float]]:
    """Wall time of pytest on the suite recording ``per_test`` samples per test, and recording none."""
    with_samples, without = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, count in (("full", per_test), ("empty", 0)):
            (root / name).mkdir()
            (root / name / "test_records.py").write_text(HOOK_SUITE.format(metrics=METRICS, tests=tests, per_test=count))
            (root / name / "pytest.ini").write_text("[pytest]\naddopts = -p no:terraform -p no:cacheprovider\n")
        for _ in range(rounds):  # interleaved: full, empty, full, empty...
            for name, times in (("full", with_samples), ("empty", without)):
                elapsed, _ = timed_run([PYTHON, "-m", "pytest", "-q", "-p", "no:randomly"], cwd=root / name)
                times.append(elapsed)
    return with_samples, without


def cl2_report(directory: Path, count: int) -> None:
    """A report directory as clusterloader2 writes it: junit.xml and ``count`` measurement summaries."""
    kinds = ["PodStartupLatency_PodStartupLatency", "APIResponsivenessPrometheus", "SchedulingThroughput"]
    steps = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind == "APIResponsivenessPrometheus":
            verbs = ["GET", "LIST", "POST", "PUT", "PATCH", "DELETE"]
            call = {"Resource": "pods", "Subresource": "", "Scope": "resource", "Count": "100", "SlowCount": "0"}
            items = [
                {
                    "data": {"Perc50": 1.2 + j, "Perc90": 5.5 + j, "Perc99": 20.1 + j},
                    "unit": "ms",
                    "labels": {"Verb": verb, **call},
                }
                for j, verb in enumerate(verbs)
            ]
            summary: dict = {"version": "v1", "dataItems": items}
        elif kind == "SchedulingThroughput":
            summary = {"perc50": 40.0, "perc90": 45.0, "perc99": 50.0, "max": 55.0}
        else:
            phases = ["create_to_schedule", "schedule_to_run", "run_to_watch", "schedule_to_watch", "pod_startup"]
            items = [
                {"data": {"Perc50": 1289.6, "Perc90": 1832.7, "Perc99": 2120.4}, "unit": "ms", "labels": {"Metric": m}}
                for m in phases
            ]
            summary = {"version": "1.0", "dataItems": items}
        stamp = f"2025-05-03T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
        (directory / f"{kind}_load{i}_{stamp}.json").write_text(json.dumps(summary))
        steps.append(
            f'<testcase name="load{i}: [step: {i:04d}] Measure [00] - {kind.split("_")[0]}" classname="ClusterLoaderV2" time="1.5"></testcase>'
        )
    (directory / "junit.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="ClusterLoaderV2" tests="0" failures="0" errors="0" time="900">\n'
        + "\n".join(steps)
        + "\n</testsuite>\n"
    )


def cl2_parse(count: int, rounds: int) -> list[float] | None:
    try:
        from pytest_telescope.tools import clusterloader2
    except ImportError:
        return None
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        cl2_report(directory, count)
        for _ in range(rounds):
            started = time.perf_counter()
            samples = clusterloader2.parse(directory)
            times.append(time.perf_counter() - started)
        print(f"  {len(samples)} samples from {count} files")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=100, help="samples per test")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--secret", action="store_true", help="scrub a secret from the environment, as in CI")
    parser.add_argument("--cl2-files", type=int, default=1000)
    parser.add_argument("--skip-hooks", action="store_true", help="skip part 2 (the real hook path)")
    args = parser.parse_args()
    total_samples = args.tests * args.samples

    heading(
        f"reporting: {args.tests} tests x {args.samples} samples = {total_samples} samples, secret scrubbing {'on' if args.secret else 'off'}"
    )
    totals, per_stage = [], {}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            stages = one_round(args.tests, args.samples, Path(tmp), args.secret)
        totals.append(sum(stages.values()))
        for stage, seconds in stages.items():
            per_stage.setdefault(stage, []).append(seconds)
    for stage, values in per_stage.items():
        print(f"  {stage:12s} {summary(values, ' s')}")
    median = statistics.median(totals)
    print(f"  {'total':12s} {summary(totals, ' s')}   target <= 2 s: {verdict(median, 2.0)}")

    if not args.skip_hooks:
        full, empty = hook_path(args.tests, args.samples, max(3, args.rounds // 2))
        cost = [f - e for f, e in zip(full, empty)]
        print(f"  hook path: pytest with samples {summary(full, ' s')}, without {summary(empty, ' s')}")
        print(f"  hook path: cost of the samples  {summary(cost, ' s')}   target <= 2 s: {verdict(statistics.median(cost), 2.0)}")

    heading(f"clusterloader2 parse: {args.cl2_files} measurement files")
    times = cl2_parse(args.cl2_files, args.rounds)
    if times is None:
        print("  pytest_telescope.tools.clusterloader2 is not there yet: not measured")
    else:
        print(f"  parse        {summary(times, ' s')}   target <= 1 s: {verdict(statistics.median(times), 1.0)}")


if __name__ == "__main__":
    main()
