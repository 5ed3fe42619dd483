"""The Recorder, its report data, and the JSONL rows they become."""

import json
import re
from importlib import resources

import jsonschema
import pytest

from pytest_telescope.measure.golden import GOLDEN_SIGNALS
from pytest_telescope.rows import SCHEMA_VERSION, rows, utc_now
from pytest_telescope.samples import Sample
from pytest_telescope.tools import iperf3
from pytest_telescope.verdict.recorder import Recorder
from pytest_telescope.verdict.slo import SLOViolation, Threshold

NODEID = "benchmarks/network/test_iperf3.py::test_iperf3[local-tcp-parallel4]"
TARGET = {"cloud": "local", "mode": "netns", "endpoints": {"client": "10.200.0.2"}, "shaping": {"qdisc": None}}


def recorder(thresholds=()) -> Recorder:
    return Recorder(
        cloud="local",
        benchmark="iperf3",
        case="tcp-parallel4",
        params={"duration": 3, "protocol": "tcp", "parallel": 4, "reverse": False},
        thresholds=list(thresholds),
    )


@pytest.fixture(scope="module")
def row_validator() -> jsonschema.Draft202012Validator:
    text = resources.files("pytest_telescope").joinpath("schema/result-row.schema.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# Recording


def test_utc_now_is_iso_8601_utc_with_z():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", utc_now())


def test_records_one_sample():
    rec = recorder()
    sample = Sample("throughput_received", 940.5, "Mbit/s")
    rec(sample)
    assert len(rec.samples) == 1
    stamp, repeat, recorded = rec.samples[0]
    assert recorded is sample
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)


def test_records_many_samples_from_any_iterable():
    rec = recorder()
    first = [Sample("throughput_sent", 950, "Mbit/s"), Sample("throughput_received", 940, "Mbit/s")]
    rec(first)
    rec(sample for sample in [Sample("retransmits", 3, "count")])
    assert [sample.metric for _, _, sample in rec.samples] == ["throughput_sent", "throughput_received", "retransmits"]


@pytest.mark.parametrize(
    ("given", "name"),
    [([{"metric": "x", "value": 1, "unit": "s"}], "dict"), ([("x", 1, "s")], "tuple"), ("throughput", "str")],
    ids=["list-of-dict", "list-of-tuple", "string"],
)
def test_rejects_what_is_not_a_sample(given, name):
    rec = recorder()
    with pytest.raises(TypeError, match=f"record_samples takes a Sample or Samples, not {name}$"):
        rec(given)
    assert rec.samples == []


def test_rejects_a_bare_number():
    rec = recorder()
    with pytest.raises(TypeError):
        rec(42.0)
    assert rec.samples == []


# Thresholds and check()


def test_expect_adds_test_level_thresholds_next_to_the_scenario_ones():
    scenario_threshold = Threshold("throughput_received", ">=", 500, "Mbit/s")
    rec = recorder([scenario_threshold])
    rec.expect("retransmits", max=100, unit="count")
    rec.expect("rtt_mean", min=1, max=2, unit="ms")
    assert rec.thresholds == [
        scenario_threshold,
        Threshold("retransmits", "<=", 100, "count"),
        Threshold("rtt_mean", ">=", 1, "ms"),
        Threshold("rtt_mean", "<=", 2, "ms"),
    ]


def test_expect_threshold_in_another_unit_judges_the_sample():
    rec = recorder()
    rec.expect("rtt_mean", max=2, unit="ms")
    rec(Sample("rtt_mean", 2500, "us"))
    (verdict,) = rec.verdicts()
    assert not verdict.passed


def test_check_passes_when_every_threshold_holds():
    rec = recorder([Threshold("throughput_received", ">=", 500, "Mbit/s")])
    rec(Sample("throughput_received", 940, "Mbit/s"))
    rec.check()
    assert all(verdict.passed for verdict in rec.verdicts())


def test_check_raises_slo_violation_naming_every_miss():
    rec = recorder([Threshold("throughput_received", ">=", 500, "Mbit/s")])
    rec.expect("lost_percent", max=1, unit="%")
    rec.expect("retransmits", max=10, unit="count")
    rec([Sample("throughput_received", 0.3, "Gbit/s"), Sample("retransmits", 5, "count")])
    with pytest.raises(SLOViolation) as raised:
        rec.check()
    assert str(raised.value).splitlines() == [
        "2 SLO violations: throughput_received = 0.3 Gbit/s, expected >= 500 Mbit/s; lost_percent was not measured, expected <= 1 %",
    ]


def test_threshold_in_an_incompatible_unit_does_not_break_the_report():
    rec = recorder()
    rec(Sample("throughput_received", 940, "Mbit/s"))
    try:
        rec.expect("throughput_received", min=1, unit="ms")
    except ValueError as error:  # refused where the mistake is made: also a fix
        assert "ms" in str(error)
    else:
        report = rec.to_report()
        assert report["samples"][0]["slo"]["verdict"] == "fail"


# to_report()


def judged_recorder() -> Recorder:
    rec = recorder([Threshold("throughput_received", ">=", 500, "Mbit/s")])
    rec.expect("retransmits", max=10, unit="count")
    rec.expect("lost_percent", max=1, unit="%")
    rec.target = TARGET
    rec(
        [
            Sample("throughput_received", 940.25, "Mbit/s"),
            Sample("retransmits", 28, "count"),
            Sample("cpu_local", 12.5, "%", {"host": "client"}),
        ]
    )
    return rec


def test_to_report_is_plain_json_data():
    report = judged_recorder().to_report()
    assert json.loads(json.dumps(report)) == report


def test_to_report_carries_the_verdict_per_sample():
    report = judged_recorder().to_report()
    assert {key: report[key] for key in ("cloud", "benchmark", "case", "target")} == {
        "cloud": "local",
        "benchmark": "iperf3",
        "case": "tcp-parallel4",
        "target": TARGET,
    }
    assert report["params"]["parallel"] == 4
    assert [(s["metric"], s["value"], s["unit"], s["labels"], s["slo"]) for s in report["samples"]] == [
        ("throughput_received", 940.25, "Mbit/s", {}, {"verdict": "pass", "thresholds": ["throughput_received >= 500 Mbit/s"]}),
        ("retransmits", 28, "count", {}, {"verdict": "fail", "thresholds": ["retransmits <= 10 count"]}),
        ("cpu_local", 12.5, "%", {"host": "client"}, {"verdict": "none", "thresholds": []}),
    ]


def test_each_sample_says_which_way_is_better_and_whether_a_baseline_judges_it():
    rec = Recorder(
        cloud="local", benchmark="iperf3", case="c", params={}, thresholds=[],
        metrics={**iperf3.METRICS, **{m.name: m.metric for m in GOLDEN_SIGNALS}},
        judged=iperf3.METRICS,
    )
    rec([Sample("retransmits", 3, "count"), Sample("network_tcp_retransmits", 1.5, "segments/s"), Sample("x", 1, "s")])
    assert [(s["metric"], s["better"], s["judged"]) for s in rec.to_report()["samples"]] == [
        ("retransmits", "lower", True),
        ("network_tcp_retransmits", "lower", False),  # a golden signal: context, not the benchmark's result
        ("x", None, False),  # declared nowhere: no direction is guessed
    ]


def test_expect_in_a_repeated_body_adds_its_threshold_once():
    rec = recorder()
    for repeat in range(3):
        rec.repeat = repeat
        rec.expect("throughput_received", min=500, unit="Mbit/s")
        rec(Sample("throughput_received", 400 + repeat, "Mbit/s"))
    assert len(rec.thresholds) == 1
    with pytest.raises(SLOViolation) as error:
        rec.check()
    assert str(error.value).splitlines() == [
        "1 SLO violation: throughput_received = 401 Mbit/s (median of 3), expected >= 500 Mbit/s",
    ]


def test_sample_failing_one_of_two_thresholds_fails():
    rec = recorder()
    rec.expect("rtt_mean", min=10, max=100, unit="us")
    rec(Sample("rtt_mean", 150, "us"))
    (sample,) = rec.to_report()["samples"]
    assert sample["slo"] == {"verdict": "fail", "thresholds": ["rtt_mean >= 10 us", "rtt_mean <= 100 us"]}


# rows() and the row schema


@pytest.mark.parametrize("outcome", ["passed", "failed", "skipped", "interrupted"])
def test_rows_validate_against_the_schema(row_validator, outcome):
    report = judged_recorder().to_report()
    written = json.loads(json.dumps(rows("20261123T122404Z-a59049", NODEID, outcome, report)))
    assert len(written) == 3
    for row in written:
        errors = [error.message for error in row_validator.iter_errors(row)]
        assert errors == []
        assert row["schema_version"] == SCHEMA_VERSION == 1
        assert row["outcome"] == outcome
        assert row["test"] == NODEID
    assert [row["slo"]["verdict"] for row in written] == ["pass", "fail", "none"]


def test_rows_of_a_test_without_scenario_or_target_validate(row_validator):
    rec = Recorder(cloud="none", benchmark="test_disk", case="", params={}, thresholds=[])
    rec(Sample("write_bandwidth", 100, "MiB/s"))
    (row,) = rows("run", "tests/test_disk.py::test_disk", "passed", rec.to_report())
    assert list(row_validator.iter_errors(row)) == []
    assert row["target"] == {} and row["params"] == {}


def test_no_samples_no_rows():
    assert rows("run", NODEID, "failed", recorder().to_report()) == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda row: row.pop("unit"), ""),
        (lambda row: row.update(extra=1), ""),
        (lambda row: row.update(value="940"), "value"),
        (lambda row: row.update(timestamp="2026-11-23T12:24:08.166+00:00"), "timestamp"),
        (lambda row: row.update(timestamp="2026-11-23 12:24:08"), "timestamp"),
        (lambda row: row.update(outcome="error"), "outcome"),
        (lambda row: row.update(cloud="azure"), "cloud"),
        (lambda row: row.update(schema_version=2), "schema_version"),
        (lambda row: row["slo"].update(verdict="ok"), "slo.verdict"),
        (lambda row: row["slo"].pop("thresholds"), "slo"),
        (lambda row: row["labels"].update(job=1), "labels.job"),
        (lambda row: row["params"].update(bandwidth=None), "params.bandwidth"),
        (lambda row: row["params"].update(ports=[1, 2]), "params.ports"),
    ],
    ids=[
        "missing-field",
        "extra-field",
        "value-string",
        "timestamp-offset",
        "timestamp-no-zone",
        "unknown-outcome",
        "unknown-cloud",
        "schema-version",
        "unknown-verdict",
        "slo-without-thresholds",
        "label-not-string",
        "param-null",
        "param-list",
    ],
)
def test_schema_rejects_rows_that_rows_never_builds(row_validator, change, path):
    (row, *_) = rows("run", NODEID, "passed", judged_recorder().to_report())
    row = json.loads(json.dumps(row))
    assert list(row_validator.iter_errors(row)) == []
    change(row)
    assert [".".join(map(str, error.absolute_path)) for error in row_validator.iter_errors(row)] == [path]


def test_schema_documents_every_field(row_validator):
    schema = row_validator.schema
    (row, *_) = rows("run", NODEID, "passed", judged_recorder().to_report())
    added_later = {"better", "judged"}  # rows written before these fields existed lack them
    optional = {"histogram"}  # only on a kernel histogram's count sample
    assert sorted(schema["required"]) == sorted(set(row) - added_later)
    assert sorted(row) == sorted(set(schema["properties"]) - optional)
    assert schema["additionalProperties"] is False
    assert all(prop.get("description") for prop in schema["properties"].values())


def test_a_samples_histogram_reaches_its_row_and_fits_the_schema(row_validator):
    recorder = Recorder(cloud="local", benchmark="fio", case="c", params={}, thresholds=[])
    histogram = {"unit": "us", "buckets": [[32, 63, 5], [64, 127, 0], [128, 255, 1]]}
    recorder([Sample("block_io_latency_count", 6.0, "count", histogram=histogram), Sample("block_io_latency_p50", 48.0, "us")])
    counted, p50 = rows("run", NODEID, "passed", json.loads(json.dumps(recorder.to_report())))
    assert counted["histogram"] == histogram and "histogram" not in p50
    assert list(row_validator.iter_errors(counted)) == [] == list(row_validator.iter_errors(p50))
