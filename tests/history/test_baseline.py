"""Loading a baseline and judging a run's metrics against it."""

import json
from pathlib import Path

import pytest

from pytest_telescope.history import baseline
from pytest_telescope.history.baseline import (
    CHANGED,
    IMPROVEMENT,
    REGRESSION,
    UNCHANGED,
    BaselineError,
    BaselineRegression,
    Key,
    Tolerance,
    better,
    compare,
    judge,
    key,
    load,
)
from pytest_telescope.history.stats import summarize
from pytest_telescope.tools import iperf3

DATA = Path(__file__).parents[1] / "data"
BASELINE = DATA / "rows-baseline.jsonl"  # three real runs of the same five cases
CURRENT = DATA / "rows-current.jsonl"  # a fourth run
RANDREAD = "benchmarks/storage/test_fio.py::test_fio[local-randread-4k]"
PARALLEL4 = "benchmarks/network/test_iperf3.py::test_iperf3[local-tcp-parallel4]"
KEY = Key("t.py::test_x[local-a]", (), "throughput_received", ())


def row(value, *, metric="throughput_received", unit="Mbit/s", test="t.py::test_x[local-a]", **fields) -> dict:
    base = {
        "run_id": "r1",
        "test": test,
        "benchmark": "iperf3",
        "params": {"protocol": "tcp"},
        "metric": metric,
        "labels": {},
        "value": value,
        "unit": unit,
        "outcome": "passed",
    }
    return {**base, **fields}


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# Keys


def test_key_ignores_the_order_of_params_and_labels():
    one = row(1.0, params={"a": 1, "b": "x"}, labels={"job": "j", "disk": "d"})
    other = row(2.0, params={"b": "x", "a": 1}, labels={"disk": "d", "job": "j"})
    assert key(one) == key(other)


def test_key_tells_apart_the_same_test_with_other_params():
    assert key(row(1.0, params={"duration": 3})) != key(row(1.0, params={"duration": 10}))


def test_key_names_the_metric_with_its_labels():
    k = key(row(1.0, metric="read_iops", unit="IOPS", labels={"job": "telescope"}, test=RANDREAD))
    assert (k.name, k.short_test) == ("read_iops job=telescope", "test_fio[local-randread-4k]")


# Loading


def test_loads_every_row_of_a_results_file():
    rows = load(BASELINE)
    assert len(rows) == 102
    assert {r["run_id"] for r in rows} == {
        "20261123T123646Z-abc265",
        "20261123T123704Z-6e9fad",
        "20261123T123723Z-1551b4",
    }


def test_loads_every_jsonl_under_a_directory_of_runs(tmp_path):
    write_rows(tmp_path / "run-1" / "results.jsonl", [row(1.0, run_id="run-1")])
    write_rows(tmp_path / "run-2" / "results.jsonl", [row(2.0, run_id="run-2")])
    assert sorted(r["value"] for r in load(tmp_path)) == [1.0, 2.0]


def test_leaves_out_the_run_being_made_and_interrupted_tests(tmp_path):
    path = write_rows(
        tmp_path / "results.jsonl",
        [row(1.0, run_id="old"), row(2.0, run_id="now"), row(3.0, run_id="old", outcome="interrupted")],
    )
    assert [r["value"] for r in load(path, exclude_run="now")] == [1.0]


def test_a_missing_baseline_is_an_error_naming_it(tmp_path):
    with pytest.raises(BaselineError, match=r"nowhere\.jsonl: no such file or directory"):
        load(tmp_path / "nowhere.jsonl")


def test_a_directory_without_results_is_an_error(tmp_path):
    with pytest.raises(BaselineError, match="no \\*.jsonl file"):
        load(tmp_path)


def test_a_line_that_is_not_json_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(row(1.0)) + "\n{oops\n")
    with pytest.raises(BaselineError, match=r"results\.jsonl:2: not JSON"):
        load(path)


def test_a_row_without_its_fields_is_an_error_naming_them(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({"test": "t", "value": 1}) + "\n")
    with pytest.raises(
        BaselineError, match=r"results\.jsonl:1: not a result row, it has no benchmark, params, metric, labels, unit"
    ):
        load(path)


# Tolerance


def test_tolerance_has_a_default_and_per_metric_values():
    tolerance = Tolerance.parse("10%, read_clat_p99=20%,rtt_mean=50%")
    assert (tolerance.of("read_iops"), tolerance.of("read_clat_p99"), tolerance.of("rtt_mean")) == (0.1, 0.2, 0.5)
    assert str(tolerance) == "10%,read_clat_p99=20%,rtt_mean=50%"


def test_tolerance_default_is_five_percent():
    assert Tolerance.parse("rtt_mean=50%").of("read_iops") == 0.05


@pytest.mark.parametrize("text", ["5", "x=abc%", "-1%", "read_iops="])
def test_tolerance_must_be_a_percentage(text):
    with pytest.raises(ValueError, match="expected a percentage such as 5% or metric=5%"):
        Tolerance.parse(text)


# Which way is better


@pytest.mark.parametrize(
    ("benchmark", "metric", "unit", "expected"),
    [
        ("iperf3", "throughput_received", "Mbit/s", "higher"),
        ("iperf3", "rtt_mean", "us", "lower"),
        ("iperf3", "jitter", "ms", "lower"),
        ("fio", "read_iops", "IOPS", "higher"),
        ("fio", "write_bandwidth", "MiB/s", "higher"),
        ("fio", "read_clat_p99", "us", "lower"),
        ("iperf3", "cpu_local", "%", None),
        ("iperf3", "packets", "count", None),
        ("kperf", "request_rate", "req/s", "higher"),
        ("clusterloader2", "scheduling_throughput_p50", "pods/s", "higher"),
        ("clusterloader2", "pod_startup_p99", "ms", "lower"),
        ("kperf", "received_bytes", "B", None),
        ("test_custom", "upload", "Gbit/s", "higher"),
    ],
)
def test_better_follows_the_unit(benchmark, metric, unit, expected):
    assert better(benchmark, metric, unit) == expected


def test_a_tool_s_better_table_decides_first(monkeypatch):
    monkeypatch.setattr(iperf3, "BETTER", {"retransmits": "lower", "rtt_mean": "higher"}, raising=False)
    assert better("iperf3", "retransmits", "count") == "lower"
    assert better("iperf3", "rtt_mean", "us") == "higher"


# Judging one metric


def test_a_drop_beyond_the_tolerance_of_a_higher_is_better_metric_is_a_regression():
    comparison = judge(KEY, "Mbit/s", summarize([90.0]), summarize([100.0]), "higher", 0.05)
    assert comparison.verdict == REGRESSION
    assert comparison.change == pytest.approx(-0.10)
    assert comparison.ratio == pytest.approx(0.9)


def test_a_drop_within_the_tolerance_is_unchanged():
    assert judge(KEY, "Mbit/s", summarize([96.0]), summarize([100.0]), "higher", 0.05).verdict == UNCHANGED


def test_a_rise_of_a_lower_is_better_metric_is_a_regression_and_a_fall_an_improvement():
    assert judge(KEY, "us", summarize([130.0]), summarize([100.0]), "lower", 0.05).verdict == REGRESSION
    assert judge(KEY, "us", summarize([70.0]), summarize([100.0]), "lower", 0.05).verdict == IMPROVEMENT


def test_a_metric_with_no_better_direction_is_only_changed():
    assert judge(KEY, "%", summarize([60.0]), summarize([40.0]), None, 0.05).verdict == CHANGED


def test_overlapping_confidence_intervals_are_noise_whatever_the_tolerance():
    current, base = summarize([80.0, 95.0, 105.0]), summarize([90.0, 100.0, 110.0])
    comparison = judge(KEY, "Mbit/s", current, base, "higher", 0.01)
    assert comparison.verdict == UNCHANGED
    assert comparison.allowed_share == pytest.approx(0.20)  # (105 - 95) + (100 - 90), of 100


def test_disjoint_confidence_intervals_beyond_the_tolerance_are_a_regression():
    current, base = summarize([70.0, 75.0, 80.0]), summarize([90.0, 100.0, 110.0])
    assert judge(KEY, "Mbit/s", current, base, "higher", 0.05).verdict == REGRESSION


def test_a_single_run_inside_the_baseline_s_range_is_noise():
    assert judge(KEY, "Mbit/s", summarize([85.0]), summarize([80.0, 100.0, 110.0]), "higher", 0.05).verdict == UNCHANGED


def test_a_single_run_below_the_baseline_s_range_is_a_regression():
    assert (
        judge(KEY, "Mbit/s", summarize([75.0]), summarize([80.0, 100.0, 110.0]), "higher", 0.05).verdict == REGRESSION
    )


def test_the_message_gives_both_values_the_change_and_the_tolerance():
    comparison = judge(KEY, "Mbit/s", summarize([90.0]), summarize([100.0]), "higher", 0.05)
    assert comparison.message == (
        "throughput_received = 90 Mbit/s, baseline 100 Mbit/s: -10.0%, higher is better, tolerance 5%"
    )


def test_the_message_says_when_the_samples_spread_widened_the_tolerance():
    comparison = judge(KEY, "Mbit/s", summarize([70.0, 75.0, 80.0]), summarize([90.0, 100.0, 130.0]), "higher", 0.05)
    assert comparison.message == (
        "throughput_received = 75 Mbit/s (median of 3), baseline 100 Mbit/s (median of 3): -25.0%, "
        "higher is better, tolerance 15.0% (the spread of the samples; setting 5%)"
    )


def test_a_baseline_of_zero_has_no_relative_change():
    comparison = judge(KEY, "%", summarize([0.5]), summarize([0.0]), "lower", 0.05)
    assert (comparison.verdict, comparison.change, comparison.ratio) == (REGRESSION, None, None)
    assert comparison.message.endswith("from 0, lower is better, no tolerance: a share of a baseline of 0 is 0")


# Comparing runs


def test_compare_pairs_metrics_of_the_same_test_and_params_only():
    current = [row(100.0), row(50.0, params={"protocol": "udp"}), row(10.0, metric="rtt_mean", unit="us")]
    base = [row(100.0), row(100.0, test="t.py::test_y[local-a]")]
    comparisons = compare(current, base)
    assert [(c.key.test, c.key.metric, c.verdict) for c in comparisons] == [
        ("t.py::test_x[local-a]", "throughput_received", UNCHANGED)
    ]


def test_compare_converts_the_baseline_into_this_run_s_unit():
    (comparison,) = compare([row(900.0)], [row(1.0, unit="Gbit/s")])
    assert comparison.baseline.median == 1000.0
    assert comparison.verdict == REGRESSION


def test_compare_refuses_units_that_do_not_measure_the_same_thing():
    with pytest.raises(BaselineError, match="the baseline measured it in count, this run in Mbit/s"):
        compare([row(900.0)], [row(1.0, unit="count")])


def test_compare_uses_the_per_metric_tolerance():
    current, base = [row(90.0)], [row(100.0)]
    assert compare(current, base, Tolerance.parse("5%,throughput_received=15%"))[0].verdict == UNCHANGED


def test_a_run_against_its_own_baseline_is_unchanged():
    rows = load(BASELINE)
    assert {c.verdict for c in compare(rows, rows)} == {UNCHANGED}


def test_one_metric_made_worse_is_the_only_regression():
    rows = load(BASELINE)
    worse = [{**r, "value": r["value"] / 2} if (r["test"], r["metric"]) == (RANDREAD, "read_iops") else r for r in rows]
    regressions = [c for c in compare(worse, rows) if c.verdict == REGRESSION]
    assert [(c.key.test, c.key.name) for c in regressions] == [(RANDREAD, "read_iops job=telescope")]
    assert regressions[0].change == pytest.approx(-0.5)


def test_real_runs_against_their_pooled_baseline():
    comparisons = {(c.key.test, c.key.name): c for c in compare(load(CURRENT), load(BASELINE))}
    assert len(comparisons) == 34
    # TCP round trips over loopback swing widely: this run's 742.5 us lies above all three baseline runs.
    rtt = comparisons[(PARALLEL4, "rtt_mean")]
    assert (rtt.verdict, rtt.baseline.n, rtt.current.n) == (REGRESSION, 3, 1)
    assert rtt.current.median > rtt.baseline.maximum
    assert [name for name, c in comparisons.items() if c.verdict == REGRESSION] == [(PARALLEL4, "rtt_mean")]


def test_baseline_regression_lists_every_regressed_metric():
    first = judge(KEY, "Mbit/s", summarize([90.0]), summarize([100.0]), "higher", 0.05)
    second = judge(Key("t", (), "rtt_mean", ()), "us", summarize([130.0]), summarize([100.0]), "lower", 0.05)
    error = BaselineRegression([first, second])
    assert str(error).splitlines() == [
        "2 regressions against the baseline:",
        f"  {first.message}",
        f"  {second.message}",
    ]
    assert isinstance(error, AssertionError)


def test_group_keeps_the_order_in_which_keys_first_appear():
    rows = [row(1.0, metric="b"), row(2.0, metric="a"), row(3.0, metric="b")]
    assert [k.metric for k in baseline.group(rows)] == ["b", "a"]
