"""A test's window in Prometheus: PromQL evaluated over [start, end], each series reduced to one statistic.

``Measurement`` is what to evaluate; ``measure`` evaluates it through a
``PrometheusConnect`` and returns samples and problems, never one for the other.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Sequence

import requests
import yaml

from pytest_telescope.samples import Metric, Sample

STATISTICS = ("avg", "max", "min", "p99", "last")


@dataclass(frozen=True)
class Measurement:
    """A PromQL expression evaluated over a test's window and reduced to one statistic per series.

    The expression may use ``$rate_interval`` (the range of ``rate()``) and
    ``$by`` (the labels series are grouped by: ``role`` locally). ``better`` is
    ``higher``, ``lower`` or ``neither`` (``samples.Metric``).
    """

    name: str
    promql: str
    statistic: str
    unit: str
    better: str
    explains: str = ""

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise ValueError(
                f"measurement {self.name}: statistic must be one of {', '.join(STATISTICS)}, got {self.statistic!r}"
            )
        Metric(self.unit, self.better)  # a direction that is none of higher, lower, neither raises

    @property
    def metric(self) -> Metric:
        return Metric(self.unit, self.better)

    def query(self, rate_interval: str, by: str) -> str:
        return self.promql.replace("$rate_interval", rate_interval).replace("$by", by)


def reduce(values: Sequence[float], statistic: str) -> float:
    """One number for a series' values over the window (in time order)."""
    if not values:
        raise ValueError("no values to reduce")
    if statistic == "avg":
        return sum(values) / len(values)
    if statistic == "max":
        return max(values)
    if statistic == "min":
        return min(values)
    if statistic == "last":
        return values[-1]
    if statistic == "p99":
        return percentile(values, 99)
    raise ValueError(f"unknown statistic {statistic!r}; known: {', '.join(STATISTICS)}")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile, interpolated linearly between the closest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def samples_from_result(measurement: Measurement, result: list[dict], window: str) -> tuple[list[Sample], list[str]]:
    """Samples from a ``query_range`` result: one per series, labelled with the series' labels.

    NaN points (a ratio with nothing to divide) are left out; a series with
    nothing else, or an empty result, is a problem, not a sample.
    """
    if not result:
        return [], [f"{measurement.name}: no data {window}: no series matched, or none was scraped then"]
    samples, problems = [], []
    for series in result:
        labels = {key: value for key, value in series.get("metric", {}).items() if key != "__name__"}
        values = [float(value) for _, value in series.get("values", [])]
        finite = [value for value in values if math.isfinite(value)]
        if not finite:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels"
            problems.append(
                f"{measurement.name} ({shown}): only NaN or infinite values {window},"
                " e.g. a latency when nothing was read or written"
            )
            continue
        labels["statistic"] = measurement.statistic
        samples.append(Sample(measurement.name, reduce(finite, measurement.statistic), measurement.unit, labels))
    return samples, problems


def measure(
    client,
    measurements: Iterable[Measurement],
    start: float,
    end: float,
    step: float,
    *,
    rate_interval: float = 2.0,
    by: str = "role",
) -> tuple[list[Sample], list[str]]:
    """Evaluate each measurement over [start, end] (Unix seconds) through a ``PrometheusConnect``.

    A ``rate()`` at time t covers the ``rate_interval`` before t, so points are
    evaluated from ``start + rate_interval`` on: none of them averages in time
    before the test. A window shorter than that is one point at ``end`` whose
    rate covers the whole window.

    Returns the samples and the problems: a query Prometheus rejects, an
    unreachable server or an empty result is a message naming the measurement
    and its query; it never takes the other measurements' samples with it.
    """
    first = start + rate_interval
    if first > end:
        first, rate_interval = end, end - start
    window = f"between {_clock(start)} and {_clock(end)} UTC"
    samples: list[Sample] = []
    problems: list[str] = []
    for measurement in measurements:
        query = measurement.query(duration_text(rate_interval), by)
        try:
            result = client.custom_query_range(
                query,
                start_time=datetime.fromtimestamp(first, timezone.utc),
                end_time=datetime.fromtimestamp(end, timezone.utc),
                step=duration_text(step),
                # The client rounds start and end to whole seconds; a test lasts only a few.
                params={"start": f"{first:.3f}", "end": f"{end:.3f}"},
            )
        except Exception as error:  # the client raises its own exception, requests' or ValueError
            problems.append(f"{measurement.name}: {query_error(error, client.url)} (query: {query})")
            continue
        found, missing = samples_from_result(measurement, result, window)
        samples += found
        problems += [f"{problem} (query: {query})" for problem in missing]
    return samples, problems


def wait_for_scrape(client, after: float, timeout: float) -> bool:
    """Wait until every scrape target was scraped after ``after`` (Unix seconds): a window ending then is complete."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = client.custom_query("min(timestamp(up))")
            if result and float(result[0]["value"][1]) >= after:
                return True
        except Exception:  # an unreachable server is reported by measure, with the query that failed
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def query_error(error: Exception, url: str) -> str:
    """Prometheus' own words when it rejected the query, the reason when it could not be reached, else the client's."""
    text = str(error)
    rejected = re.search(r'"error":"((?:[^"\\]|\\.)*)"', text)
    if rejected:
        return "Prometheus rejected the query: " + json.loads(f'"{rejected.group(1)}"')
    if isinstance(error, requests.ConnectionError):
        reason = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
        return f"cannot reach Prometheus at {url}: {reason.group(1) if reason else text.splitlines()[0]}"
    return f"query failed: {text.splitlines()[0] if text else type(error).__name__}"


def scrape_interval(url: str) -> float | None:
    """The global scrape interval of the Prometheus at ``url``, from its /api/v1/status/config; None if it does not say."""
    try:
        answer = requests.get(f"{url}/api/v1/status/config", timeout=10)
        answer.raise_for_status()
        config = yaml.safe_load(answer.json()["data"]["yaml"])
        return duration_seconds(config["global"]["scrape_interval"])
    except (requests.RequestException, ValueError, KeyError, TypeError, yaml.YAMLError):
        return None


def duration_seconds(text: str) -> float:
    """A Prometheus duration such as ``30s``, ``1m30s`` or ``500ms``, in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    unit_seconds = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(int(number) * unit_seconds[unit] for number, unit in parts)


def duration_text(seconds: float) -> str:
    """A Prometheus duration: whole units only, so milliseconds."""
    return f"{round(seconds * 1000)}ms"


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%H:%M:%S.%f")[:-3]
