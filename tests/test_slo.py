"""SLO verdicts, the SLOViolation message, and unit conversion."""

import pytest

from pytest_telescope import units
from pytest_telescope.samples import Sample
from pytest_telescope.slo import SLOViolation, Threshold, Verdict, evaluate

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
        "3 SLO violations:",
        "  throughput_received = 0.4125 Gbit/s, expected >= 500 Mbit/s",
        "  read_clat_p99 job=telescope = 61000 us, expected <= 50000 us",
        "  lost_percent was not measured, expected <= 1 %",
    ]


def test_violation_message_singular():
    failed = evaluate([AT_LEAST_500], [Sample("throughput_received", 12.5, "Mbit/s")])
    message = str(SLOViolation(failed))
    assert message.splitlines()[0] == "1 SLO violation:"
    for part in ("throughput_received", "12.5", ">=", "500", "Mbit/s"):
        assert part in message.splitlines()[1]
