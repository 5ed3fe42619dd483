"""The terminal table: results first, what no baseline judges summarised, no failing row ever left out."""

import json
from pathlib import Path

from pytest_telescope.history.baseline import Tolerance, compare
from pytest_telescope.report.table import MAX_ROWS, Shown, table

DATA = Path(__file__).parents[1] / "data"
RANDREAD = "benchmarks/storage/test_fio.py::test_fio[local-randread-4k]"


def rows_of(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines()]


def shown(rows: list[dict]) -> Shown:
    kept = Shown()
    kept.add(rows)
    return kept


def golden_signals(row: dict, count: int, failing: int = 0) -> list[dict]:
    """``count`` golden-signal rows of ``row``'s test, the first ``failing`` of them over an SLO."""
    return [
        {**row, "metric": "network_drops", "value": float(i), "unit": "packets/s", "labels": {"role": f"r{i}", "statistic": "max"},
         "judged": False, "slo": {"verdict": "fail", "thresholds": ["network_drops <= 0 packets/s"]} if i < failing else {"verdict": "none", "thresholds": []}}
        for i in range(count)
    ]


def test_tool_metrics_first_and_what_no_baseline_judges_in_one_line():
    rows = rows_of("rows-current.jsonl")
    (first,) = [r for r in rows if r["test"] == RANDREAD and r["metric"] == "read_iops"]
    randread = [r for r in rows if r["test"] == RANDREAD]
    # A kernel histogram's sample (measure/kernel.py) has no labels: what no baseline judges, like a golden signal.
    kernel = {**first, "metric": "runqueue_latency_p99", "unit": "us", "labels": {}, "judged": False}
    lines = table(shown(randread + golden_signals(first, 25) + [kernel]), "results.jsonl")

    assert lines[0].split() == ["test", "metric", "value", "unit", "SLO"]
    assert [line.split()[1] for line in lines[2:]] == [r["metric"] for r in randread] + ["context"]
    assert lines[-1].split() == ["test_fio[local-randread-4k]", "context", "(not", "judged)", "26", "samples", "-"]
    assert "PASS (>= 1000 IOPS)" in lines[2]


def test_a_failing_golden_signal_is_shown_and_counted():
    rows = rows_of("rows-current.jsonl")
    (first,) = [r for r in rows if r["test"] == RANDREAD and r["metric"] == "read_iops"]
    lines = table(shown([first, *golden_signals(first, 5, failing=1)]), "results.jsonl")

    assert lines[3].split()[1:5] == ["network_drops", "role=r0", "statistic=max", "0"]
    assert "FAIL (<= 0 packets/s)" in lines[3]
    assert lines[4].split()[-3:] == ["1", "failed", "(above)"]


def test_a_failing_row_is_never_left_out():
    rows = rows_of("rows-current.jsonl")
    (first,) = [r for r in rows if r["test"] == RANDREAD and r["metric"] == "read_iops"]
    many = [{**first, "labels": {"job": f"j{i}"}} for i in range(MAX_ROWS + 10)]
    many[-1] = {**many[-1], "slo": {"verdict": "fail", "thresholds": ["read_iops >= 1000000 IOPS"]}}
    lines = table(shown(many), "results/run/results.jsonl")

    assert "read_iops job=j69" in lines[-2] and "FAIL (>= 1000000 IOPS)" in lines[-2]
    assert lines[-1] == "... 9 more rows in results/run/results.jsonl"


def test_with_a_baseline_each_metric_says_how_it_moved():
    current, earlier = rows_of("rows-current.jsonl"), rows_of("rows-baseline.jsonl")
    lines = table(shown(current), "results.jsonl", compare(current, earlier, Tolerance()))

    assert lines[0].split()[-1] == "baseline"
    (rtt,) = [line for line in lines if " rtt_mean " in line and "parallel4" in line]
    assert rtt.endswith("inconclusive (+29.4%)")
