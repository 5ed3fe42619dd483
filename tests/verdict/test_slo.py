"""SLO verdicts, the SLOViolation message, and unit conversion."""

import pytest

from pytest_telescope import units
from pytest_telescope.rows import rows
from pytest_telescope.samples import Sample
from pytest_telescope.verdict.recorder import Recorder
from pytest_telescope.verdict.slo import SLOViolation, Threshold, Verdict, evaluate

AT_LEAST_500 = Threshold("throughput_received", ">=", 500, "Mbit/s")
AT_MOST_50MS = Threshold("read_clat_p99", "<=", 50000, "us")


# units.convert


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "expected"),
    [
        (1, "Gbit/s", "Mbit/s", 1000),
        (250, "Mbit/s", "Gbit/s", 0.25),
        (8, "kbit/s", "bit/s", 8000),
        (1, "GiB/s", "MiB/s", 1024),
        (1, "MB/s", "kB/s", 1000),
        (1, "MiB/s", "B/s", 1048576),
        (50, "ms", "us", 50000),
        (1500, "ns", "us", 1.5),
        (2, "s", "ms", 2000),
        (1, "GiB", "KiB", 1048576),
        (42, "count", "count", 42),
    ],
    ids=lambda v: str(v).replace("/", "_per_") if isinstance(v, str) else None,
)
def test_convert(value, from_unit, to_unit, expected):
    assert units.convert(value, from_unit, to_unit) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("from_unit", "to_unit"),
    [("ms", "Mbit/s"), ("Mbit/s", "MiB/s"), ("MiB", "MiB/s"), ("Mbps", "Mbit/s"), ("%", "count")],
)
def test_convert_refuses_units_of_different_things(from_unit, to_unit):
    with pytest.raises(ValueError, match="cannot convert"):
        units.convert(1, from_unit, to_unit)


# Verdicts


@pytest.mark.parametrize(
    ("threshold", "value", "passed"),
    [
        (AT_LEAST_500, 600, True),
        (AT_LEAST_500, 500, True),
        (AT_LEAST_500, 499.9, False),
        (AT_MOST_50MS, 49999, True),
        (AT_MOST_50MS, 50000, True),
        (AT_MOST_50MS, 50001, False),
    ],
    ids=["above-min", "at-min", "below-min", "below-max", "at-max", "above-max"],
)
def test_verdict_pass_and_fail(threshold, value, passed):
    sample = Sample(threshold.metric, value, threshold.unit)
    (verdict,) = evaluate([threshold], [sample])
    assert verdict.sample is sample
    assert verdict.passed is passed


def test_metric_with_no_sample_fails():
    (verdict,) = evaluate([AT_LEAST_500], [Sample("throughput_sent", 900, "Mbit/s")])
    assert verdict.sample is None
    assert verdict.passed is False
    assert str(verdict) == "throughput_received was not measured, expected >= 500 Mbit/s"


def test_optional_threshold_on_a_metric_with_no_sample_gives_no_verdict():
    optional = Threshold("pod_startup_p99", "<=", 5000, "ms", optional=True)
    assert evaluate([optional], [Sample("api_call_latency_p99_resource", 20, "ms")]) == []


def test_optional_threshold_judges_a_measured_metric():
    optional = Threshold("pod_startup_p99", "<=", 5000, "ms", optional=True)
    fast, slow = Sample("pod_startup_p99", 4.2, "s"), Sample("pod_startup_p99", 6100, "ms", {"pods": "stateful"})
    verdicts = evaluate([optional], [fast, slow])
    assert [(v.sample, v.passed) for v in verdicts] == [(fast, True), (slow, False)]
    assert str(verdicts[1]) == "pod_startup_p99 pods=stateful = 6100 ms, expected <= 5000 ms"


def test_only_the_required_of_two_unmeasured_thresholds_fails():
    optional = Threshold("pod_startup_p99", "<=", 5000, "ms", optional=True)
    (verdict,) = evaluate([optional, AT_LEAST_500], [])
    assert verdict.threshold is AT_LEAST_500
    assert verdict.passed is False


def test_every_sample_of_a_metric_is_judged():
    samples = [
        Sample("read_clat_p99", 100, "us", {"job": "a"}),
        Sample("read_clat_p99", 60000, "us", {"job": "b"}),
        Sample("read_iops", 5000, "IOPS", {"job": "a"}),
    ]
    verdicts = evaluate([AT_MOST_50MS], samples)
    assert [(v.sample.labels["job"], v.passed) for v in verdicts] == [("a", True), ("b", False)]


def test_samples_are_compared_across_units():
    fast = Sample("throughput_received", 0.6, "Gbit/s")
    slow = Sample("throughput_received", 0.4, "Gbit/s")
    assert AT_LEAST_500.holds(fast)
    assert not AT_LEAST_500.holds(slow)
    latency = Sample("read_clat_p99", 49, "ms")
    assert AT_MOST_50MS.holds(latency)
    assert not AT_MOST_50MS.holds(Sample("read_clat_p99", 0.051, "s"))


def test_applies_to_clouds_and_when():
    threshold = Threshold("throughput_received", ">=", 500, "Mbit/s", ("aks", "eks"), {"protocol": "tcp"})
    assert threshold.applies_to("aks", {"protocol": "tcp", "parallel": 4})
    assert not threshold.applies_to("local", {"protocol": "tcp"})
    assert not threshold.applies_to("eks", {"protocol": "udp"})
    assert Threshold("jitter", "<=", 1, "ms").applies_to("gke", {})


def test_threshold_and_verdict_text():
    assert str(Threshold("throughput_received", ">=", 1000.0, "Mbit/s")) == "throughput_received >= 1000 Mbit/s"
    verdict = Verdict(AT_MOST_50MS, Sample("read_clat_p99", 61234.5678, "us", {"job": "b", "host": "x"}))
    assert str(verdict) == "read_clat_p99 host=x job=b = 61234.6 us, expected <= 50000 us"


# Labels: a threshold on some samples of its metric

LIST_WITHIN_30S = Threshold("latency_p99", "<=", 30, "s", labels={"verb": "LIST"})


def test_labels_select_the_samples_a_threshold_judges():
    samples = [
        Sample("latency_p99", 12, "s", {"verb": "LIST", "resource": "pods"}),
        Sample("latency_p99", 45, "s", {"verb": "GET", "resource": "pods"}),
        Sample("latency_p99", 31, "s", {"verb": "LIST", "resource": "nodes"}),
        Sample("latency_p99", 50, "s"),
        Sample("error_rate", 40, "%", {"verb": "LIST"}),
    ]
    verdicts = evaluate([LIST_WITHIN_30S], samples)
    assert [(v.sample, v.passed) for v in verdicts] == [(samples[0], True), (samples[2], False)]


def test_a_sample_needs_every_label_of_the_threshold():
    threshold = Threshold("api_call_latency_p99_cluster", "<=", 5000, "ms", labels={"verb": "LIST", "resource": "pods"})
    pods = Sample("api_call_latency_p99_cluster", 6000, "ms", {"verb": "LIST", "resource": "pods", "scope": "cluster"})
    nodes = Sample("api_call_latency_p99_cluster", 9000, "ms", {"verb": "LIST", "resource": "nodes", "scope": "cluster"})
    (verdict,) = evaluate([threshold], [nodes, pods])
    assert verdict.sample is pods
    assert str(verdict) == "api_call_latency_p99_cluster resource=pods scope=cluster verb=LIST = 6000 ms, expected <= 5000 ms"


def test_a_number_label_value_matches_the_same_text():
    threshold = Threshold("scale_up_nodes_time", "<=", 600, "s", labels={"nodes_percent": 50})
    half = Sample("scale_up_nodes_time", 700, "s", {"nodes_percent": "50"})
    (verdict,) = evaluate([threshold], [Sample("scale_up_nodes_time", 100, "s", {"nodes_percent": "100"}), half])
    assert verdict.sample is half
    assert verdict.passed is False


def test_threshold_with_labels_and_no_matching_sample_fails_naming_them():
    (verdict,) = evaluate([LIST_WITHIN_30S], [Sample("latency_p99", 1, "s", {"verb": "GET"})])
    assert verdict.sample is None
    assert verdict.passed is False
    assert str(verdict) == "latency_p99 verb=LIST was not measured, expected <= 30 s"


def test_optional_threshold_with_labels_and_no_matching_sample_gives_no_verdict():
    optional = Threshold("cpu_utilization", "<=", 80, "%", optional=True, labels={"role": "client"})
    server = Sample("cpu_utilization", 95, "%", {"role": "server", "statistic": "avg"})
    assert evaluate([optional], [server]) == []
    client = Sample("cpu_utilization", 85, "%", {"role": "client", "statistic": "avg"})
    assert [(v.sample, v.passed) for v in evaluate([optional], [server, client])] == [(client, False)]


def test_threshold_text_shows_its_labels_sorted():
    threshold = Threshold("api_call_latency_p99_cluster", "<=", 5000, "ms", labels={"verb": "LIST", "resource": "pods"})
    assert str(threshold) == "api_call_latency_p99_cluster resource=pods verb=LIST <= 5000 ms"


def list_latency_recorder() -> Recorder:
    return Recorder(cloud="local", benchmark="kperf", case="default", params={}, thresholds=[LIST_WITHIN_30S])


def test_result_rows_carry_the_verdict_of_the_thresholds_that_select_them():
    rec = list_latency_recorder()
    rec.expect("latency_p99", max=10, unit="s", labels={"verb": "GET"})
    rec(Sample("latency_p99", 20, "s", {"verb": verb}) for verb in ("LIST", "GET", "WATCH"))
    written = rows("run", "test_kperf", "failed", rec.to_report())
    assert [(row["labels"]["verb"], row["slo"]) for row in written] == [
        ("LIST", {"verdict": "pass", "thresholds": ["latency_p99 verb=LIST <= 30 s"]}),
        ("GET", {"verdict": "fail", "thresholds": ["latency_p99 verb=GET <= 10 s"]}),
        ("WATCH", {"verdict": "none", "thresholds": []}),
    ]
    with pytest.raises(SLOViolation) as raised:
        rec.check()
    assert [str(verdict) for verdict in raised.value.failed] == ["latency_p99 verb=GET = 20 s, expected <= 10 s"]


def test_expect_with_labels_on_an_unmeasured_series_fails_naming_them():
    rec = list_latency_recorder()
    rec.expect("latency_p99", min=0.001, unit="s", labels={"verb": "LIST"})
    rec(Sample("latency_p99", 0.5, "s", {"verb": "LIST"}))
    rec.check()
    rec.expect("latency_p99", max=10, unit="s", labels={"verb": "DELETE"})
    with pytest.raises(SLOViolation, match="latency_p99 verb=DELETE was not measured, expected <= 10 s"):
        rec.check()


# SLOViolation


def test_violation_message_lists_every_failed_verdict():
    samples = [
        Sample("throughput_received", 0.4125, "Gbit/s"),
        Sample("read_clat_p99", 61000, "us", {"job": "telescope"}),
    ]
    thresholds = [AT_LEAST_500, AT_MOST_50MS, Threshold("lost_percent", "<=", 1, "%")]
    failed = [v for v in evaluate(thresholds, samples) if not v.passed]
    error = SLOViolation(failed)
    assert isinstance(error, AssertionError)
    assert error.failed == failed
    assert str(error).splitlines() == [
        "3 SLO violations: throughput_received = 0.4125 Gbit/s, expected >= 500 Mbit/s; "
        "read_clat_p99 job=telescope = 61000 us, expected <= 50000 us; lost_percent was not measured, expected <= 1 %",
    ]


def test_violation_message_singular():
    failed = evaluate([AT_LEAST_500], [Sample("throughput_received", 12.5, "Mbit/s")])
    message = str(SLOViolation(failed))
    assert message == "1 SLO violation: throughput_received = 12.5 Mbit/s, expected >= 500 Mbit/s"
