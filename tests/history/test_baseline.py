"""Loading a baseline and judging a run's metrics against it."""

import json
from pathlib import Path

import pytest

from pytest_telescope.history import baseline
from pytest_telescope.history.baseline import (
    CHANGED,
    IMPROVEMENT,
    INCONCLUSIVE,
    REGRESSION,
    UNCHANGED,
    BaselineError,
    BaselineRegression,
    Key,
    Tolerance,
    compare,
    judge,
    key,
    load,
)

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
        "better": "higher",
        "judged": True,
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


# Judging one metric

SEPARATED_BELOW = [70.0, 72.0, 74.0, 76.0, 78.0]  # all five below all of BASE
BASE = [95.0, 98.0, 100.0, 102.0, 105.0]


def test_one_value_a_side_is_inconclusive_whatever_the_change():
    comparison = judge(KEY, "Mbit/s", [50.0], [100.0], "higher", 0.05)
    assert (comparison.verdict, comparison.reason) == (
        INCONCLUSIVE,
        "n=1, and the baseline has no history to show its spread",
    )
    assert comparison.change == pytest.approx(-0.5)


def test_one_value_within_the_tolerance_is_unchanged():
    assert judge(KEY, "Mbit/s", [96.0], [100.0], "higher", 0.05).verdict == UNCHANGED


def test_one_value_within_the_spread_of_the_baseline_s_history_is_inconclusive():
    comparison = judge(KEY, "Mbit/s", [75.0], [80.0, 100.0, 110.0], "higher", 0.05)
    assert comparison.verdict == INCONCLUSIVE  # 25 below the median; the history spans 30
    assert comparison.reason == "n=1, within the baseline's spread (80 to 110 Mbit/s)"


def test_one_value_beyond_the_tolerance_and_the_history_s_spread_is_judged():
    assert judge(KEY, "Mbit/s", [65.0], [80.0, 100.0, 110.0], "higher", 0.05).verdict == REGRESSION
    assert judge(KEY, "us", [65.0], [80.0, 100.0, 110.0], "lower", 0.05).verdict == IMPROVEMENT


def test_repeats_wholly_below_the_baseline_s_are_a_regression_with_p_and_interval():
    comparison = judge(KEY, "Mbit/s", SEPARATED_BELOW, BASE, "higher", 0.05)
    assert comparison.verdict == REGRESSION
    assert comparison.p_value == pytest.approx(2 / 252)
    low, high = comparison.interval
    assert low < comparison.change < high < -0.05
    assert comparison.change == pytest.approx(-0.26)


def test_repeats_that_mix_with_the_baseline_s_are_inconclusive_whatever_the_tolerance():
    comparison = judge(KEY, "Mbit/s", [80.0, 96.0, 99.0, 101.0, 85.0], BASE, "higher", 0.01)
    assert comparison.verdict == INCONCLUSIVE
    assert comparison.p_value > 0.05
    assert "may be noise" in comparison.reason


def test_a_real_difference_whose_interval_reaches_into_the_tolerance_is_inconclusive():
    # Every repeat is lower, so the test sees a difference; the median is 12% lower, but two repeats are within 10%.
    comparison = judge(KEY, "Mbit/s", [83.0, 86.0, 88.0, 91.0, 94.0], BASE, "higher", 0.10)
    assert comparison.p_value < 0.05
    assert comparison.verdict == INCONCLUSIVE
    assert comparison.reason.endswith("but the 95% CI of the change reaches within the tolerance")


def test_repeats_within_the_spread_of_the_baseline_s_runs_are_inconclusive():
    # Two baseline runs apart in time disagree as much as this run does with them: the machine drifted.
    comparison = judge(KEY, "Mbit/s", SEPARATED_BELOW, BASE, "higher", 0.05, run_medians=[70.0, 100.0])
    assert comparison.p_value < 0.05
    assert comparison.verdict == INCONCLUSIVE
    assert comparison.reason.endswith("but within the spread of the baseline's 2 runs' medians (70 to 100 Mbit/s)")
    assert judge(KEY, "Mbit/s", SEPARATED_BELOW, BASE, "higher", 0.05, run_medians=[95.0, 100.0]).verdict == REGRESSION


def test_compare_gives_judge_the_median_of_each_baseline_run():
    current = [row(v, run_id="now") for v in (50.0, 52.0, 54.0, 56.0, 58.0)]
    one_run = [row(v, run_id="a") for v in BASE]
    drifted = one_run + [row(v - 40, run_id="b") for v in BASE]  # a second run, 40 lower all through
    assert compare(current, one_run)[0].verdict == REGRESSION
    (comparison,) = compare(current, drifted)
    assert comparison.p_value < 0.05
    assert comparison.verdict == INCONCLUSIVE
    assert "2 runs' medians (60 to 100 Mbit/s)" in comparison.reason


def test_a_rise_of_a_lower_is_better_metric_is_a_regression_and_a_fall_an_improvement():
    higher = [x * 1.3 for x in BASE]
    lower = [x * 0.7 for x in BASE]
    assert judge(KEY, "us", higher, BASE, "lower", 0.05).verdict == REGRESSION
    assert judge(KEY, "us", lower, BASE, "lower", 0.05).verdict == IMPROVEMENT


def test_fewer_retransmits_per_second_are_an_improvement_not_a_regression():
    retransmits = Key("t", (), "network_tcp_retransmits", ())
    assert judge(retransmits, "segments/s", [1.0, 2.0, 1.5, 1.2, 1.1], [9.0, 10.0, 11.0, 12.0, 10.5], "lower", 0.05).verdict == IMPROVEMENT


def test_a_metric_better_neither_way_is_only_changed():
    assert judge(KEY, "count", [x * 2 for x in BASE], BASE, "neither", 0.05).verdict == CHANGED
    assert judge(KEY, "count", [x * 2 for x in BASE], BASE, None, 0.05).verdict == CHANGED


def test_the_message_gives_both_medians_n_the_change_its_interval_and_the_tolerance():
    comparison = judge(KEY, "Mbit/s", SEPARATED_BELOW, BASE, "higher", 0.05)
    low, high = comparison.interval
    assert comparison.message == (
        "throughput_received = 74 Mbit/s (median of 5), baseline 100 Mbit/s (median of 5): "
        f"-26.0% (95% CI {low:+.1%} to {high:+.1%}), tolerance 5%, higher is better: "
        "regression (Mann-Whitney U p = 0.008)"
    )


def test_the_message_of_one_value_a_side_says_n_1():
    comparison = judge(KEY, "Mbit/s", [90.0], [100.0], "higher", 0.05)
    assert comparison.message == (
        "throughput_received = 90 Mbit/s (n=1), baseline 100 Mbit/s (n=1): -10.0%, tolerance 5%, "
        "higher is better: inconclusive (n=1, and the baseline has no history to show its spread)"
    )


def test_a_baseline_of_zero_has_no_relative_change():
    comparison = judge(KEY, "%", [0.5], [0.0, 0.0, 0.0], "lower", 0.05)
    assert (comparison.verdict, comparison.change, comparison.ratio) == (INCONCLUSIVE, None, None)
    assert "from 0" in comparison.message


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


def test_compare_judges_only_the_benchmark_s_own_metrics_and_those_opted_in():
    golden = {"metric": "disk_read_throughput", "unit": "MiB/s"}
    current = [row(50.0), row(10.0, **golden, judged=False), row(1.0, metric="opted", judged=True)]
    base = [row(100.0), row(100.0, **golden), row(1.0, metric="opted")]
    assert [c.key.metric for c in compare(current, base)] == ["throughput_received", "opted"]


def test_rows_written_before_rows_said_what_is_judged_are_not_judged():
    old = {k: v for k, v in row(50.0).items() if k not in ("better", "judged")}
    assert compare([old], [row(100.0)]) == []


def test_compare_refuses_units_that_do_not_measure_the_same_thing():
    with pytest.raises(BaselineError, match="the baseline measured it in count, this run in Mbit/s"):
        compare([row(900.0)], [row(1.0, unit="count")])


def test_compare_uses_the_per_metric_tolerance():
    current, base = [row(90.0)], [row(100.0)]
    assert compare(current, base, Tolerance.parse("5%,throughput_received=15%"))[0].verdict == UNCHANGED
    assert compare(current, base, Tolerance.parse("5%,rtt_mean=15%"))[0].verdict == INCONCLUSIVE


def test_a_run_against_its_own_baseline_is_unchanged():
    rows = load(BASELINE)
    assert {c.verdict for c in compare(rows, rows)} == {UNCHANGED}


def halved_read_iops(rows: list[dict]) -> list[dict]:
    return [{**r, "value": r["value"] / 2} if (r["test"], r["metric"]) == (RANDREAD, "read_iops") else r for r in rows]


def test_one_run_with_one_metric_made_worse_has_it_as_its_only_regression():
    rows = load(BASELINE)
    first_run = [r for r in rows if r["run_id"] == rows[0]["run_id"]]
    regressions = [c for c in compare(halved_read_iops(first_run), rows) if c.verdict == REGRESSION]
    assert [(c.key.test, c.key.name) for c in regressions] == [(RANDREAD, "read_iops job=telescope")]


def test_three_repeats_a_side_cannot_show_a_regression():
    rows = load(BASELINE)
    (comparison,) = [c for c in compare(halved_read_iops(rows), rows) if c.key.metric == "read_iops"]
    assert comparison.change == pytest.approx(-0.5)
    assert (comparison.verdict, comparison.p_value) == (INCONCLUSIVE, pytest.approx(0.1))  # 2 of 20 orders


def test_real_runs_against_their_pooled_baseline():
    comparisons = {(c.key.test, c.key.name): c for c in compare(load(CURRENT), load(BASELINE))}
    assert len(comparisons) == 34
    # TCP round trips over loopback swing widely: this run's 742.5 us is 29% above the baseline's median,
    # but the three baseline runs themselves spread from 196 to 648.75 us.
    rtt = comparisons[(PARALLEL4, "rtt_mean")]
    assert (rtt.verdict, rtt.baseline.n, rtt.current.n) == (INCONCLUSIVE, 3, 1)
    regressed = {name for name, c in comparisons.items() if c.verdict == REGRESSION}
    # One run against three: only what moved further than the three runs spread counts.
    assert all(abs(c.current.median - c.baseline.median) > c.baseline.maximum - c.baseline.minimum
               for name, c in comparisons.items() if name in regressed)


def test_baseline_regression_lists_every_regressed_metric():
    first = judge(KEY, "Mbit/s", SEPARATED_BELOW, BASE, "higher", 0.05)
    second = judge(Key("t", (), "rtt_mean", ()), "us", [x * 1.3 for x in BASE], BASE, "lower", 0.05)
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
