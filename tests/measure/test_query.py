"""Reading a window: reducing series to one statistic, and problems as messages, on a real Prometheus and on a double."""

import time

import pytest
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from pytest_telescope.measure.golden import GOLDEN_SIGNALS
from pytest_telescope.measure.query import (
    Measurement,
    duration_seconds,
    measure,
    percentile,
    reduce,
    samples_from_result,
    scrape_interval,
)
from pytest_telescope.samples import Sample

SIGNALS = {signal.name: signal for signal in GOLDEN_SIGNALS}


def test_a_promql_error_and_an_empty_result_are_messages_and_lose_no_other_sample(prometheus, measured):
    end = time.time()
    start = end - 3 * prometheus.rate_interval
    broken = Measurement("broken", "rate(node_cpu_seconds_total[$rate_interval]", "avg", "1/s", "lower")
    absent = Measurement("absent", "node_no_such_metric", "avg", "count", "lower")

    samples, problems = measured([broken, SIGNALS["cpu_utilization"], absent], start, end)

    assert [(sample.metric, sample.unit, sample.labels["role"]) for sample in samples] == [
        ("cpu_utilization", "%", "host")
    ]
    assert 0 <= samples[0].value <= 100
    assert len(problems) == 2
    assert problems[0].startswith("broken: Prometheus rejected the query: ")
    assert "parse error" in problems[0] and "(query: rate(node_cpu_seconds_total[2000ms]" in problems[0]
    assert problems[1].startswith("absent: no data between ")
    assert problems[1].endswith("(query: node_no_such_metric)")


def test_an_unreachable_prometheus_is_a_message_per_measurement():
    with_nothing_listening = PrometheusConnect("http://127.0.0.1:9", retry=Retry(total=0))
    end = time.time()

    samples, problems = measure(with_nothing_listening, GOLDEN_SIGNALS[:2], end - 5, end, 1.0)

    assert samples == []
    assert [problem.split(":")[0] for problem in problems] == ["cpu_utilization", "cpu_saturation"]
    assert all("cannot reach Prometheus at http://127.0.0.1:9: Connection refused (query: " in p for p in problems)


@pytest.mark.parametrize(
    "statistic, expected", [("avg", 2.5), ("max", 4.0), ("min", 1.0), ("last", 3.0), ("p99", 3.97)]
)
def test_reduce(statistic, expected):
    assert reduce([1.0, 4.0, 2.0, 3.0], statistic) == pytest.approx(expected)


def test_percentile_interpolates_between_ranks():
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_reduce_refuses_nothing_and_unknown_statistics():
    with pytest.raises(ValueError, match="no values"):
        reduce([], "avg")
    with pytest.raises(ValueError, match="unknown statistic 'median'"):
        reduce([1.0], "median")


def test_a_measurement_names_its_statistic_and_substitutes_its_placeholders():
    with pytest.raises(ValueError, match="measurement x: statistic must be one of avg, max, min, p99, last, got 'p95'"):
        Measurement("x", "up", "p95", "count", "lower")
    assert (
        Measurement("x", "sum by ($by) (rate(a[$rate_interval]))", "avg", "1/s", "lower").query("2000ms", "instance")
        == "sum by (instance) (rate(a[2000ms]))"
    )


def test_samples_from_result_one_per_series_with_its_labels_and_nan_left_out():
    measurement = Measurement("disk_read_latency", "...", "max", "ms", "lower")
    result = [
        {"metric": {"__name__": "x", "role": "host"}, "values": [[1.0, "NaN"], [2.0, "0.5"], [3.0, "1.5"]]},
        {"metric": {"role": "client"}, "values": [[1.0, "NaN"], [2.0, "NaN"]]},
    ]

    samples, problems = samples_from_result(measurement, result, "between A and B UTC")

    assert samples == [Sample("disk_read_latency", 1.5, "ms", {"role": "host", "statistic": "max"})]
    assert problems == [
        "disk_read_latency (role=client): only NaN or infinite values between A and B UTC,"
        " e.g. a latency when nothing was read or written"
    ]


class RangeQueryClientDouble:
    """Records the range queries it is sent and answers each with no series."""

    def __init__(self):
        self.calls = []

    def custom_query_range(self, query, start_time, end_time, step, params):
        self.calls.append({"query": query, "step": step, **params})
        return []


def test_points_start_one_rate_interval_into_the_window_so_none_averages_in_time_before_it():
    client = RangeQueryClientDouble()
    measure(client, [SIGNALS["network_drops"]], 100.0, 110.0, 1.0, rate_interval=2.0)
    assert client.calls == [
        {
            "query": SIGNALS["network_drops"].query("2000ms", "role"),
            "step": "1000ms",
            "start": "102.000",
            "end": "110.000",
        }
    ]


def test_a_window_shorter_than_the_rate_interval_is_one_point_whose_rate_covers_it():
    client = RangeQueryClientDouble()
    measure(client, [SIGNALS["cpu_utilization"]], 100.0, 101.5, 1.0, rate_interval=2.0)
    assert client.calls[0]["query"] == SIGNALS["cpu_utilization"].query("1500ms", "role")
    assert (client.calls[0]["start"], client.calls[0]["end"]) == ("101.500", "101.500")


def test_samples_from_an_empty_result_is_a_problem():
    samples, problems = samples_from_result(Measurement("absent", "...", "avg", "count", "lower"), [], "between A and B UTC")
    assert samples == []
    assert problems == ["absent: no data between A and B UTC: no series matched, or none was scraped then"]


def test_the_scrape_interval_is_read_from_the_prometheus_itself(prometheus):
    assert scrape_interval(prometheus.url) == prometheus.scrape_interval
    assert scrape_interval("http://127.0.0.1:9") is None  # nothing listens: unknown, not an error


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200)])
def test_prometheus_durations(text, seconds):
    assert duration_seconds(text) == seconds
