"""What a test measured, and its SLO verdicts.

A ``Recorder`` lives on each benchmark test. When the test ends, its
samples and their SLO verdicts travel on the test's report (through xdist
to the controller, as plain data), and the controller turns them into rows
(``rows.py``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Collection, Iterable, Mapping, Sequence

from pytest_telescope.history import baseline
from pytest_telescope.history.baseline import BaselineRegression, Tolerance
from pytest_telescope.history.stats import median_samples
from pytest_telescope.rows import rows, utc_now
from pytest_telescope.samples import Metric, Sample
from pytest_telescope.verdict.slo import SLOViolation, Threshold, Verdict, evaluate


class Recorder:
    """Collects one test's samples and judges them against its thresholds.

    ``metrics`` declares the unit and direction of the metrics the test records
    (its scenario's: the tool's and the measurements'); ``judged`` names those a
    baseline comparison judges. A metric ``metrics`` does not know has no direction.
    """

    def __init__(
        self,
        *,
        cloud: str,
        benchmark: str,
        case: str,
        params: dict,
        thresholds: list[Threshold],
        nodeid: str = "",
        baseline_rows: Sequence[dict] = (),
        tolerance: Tolerance = Tolerance(),
        metrics: Mapping[str, Metric] | None = None,
        judged: Collection[str] = (),
    ):
        self.cloud, self.benchmark, self.case, self.params = cloud, benchmark, case, params
        self.metrics = dict(metrics or {})
        self.judged = frozenset(judged)
        self.thresholds = list(thresholds)
        self.nodeid = nodeid
        self.baseline_rows = list(baseline_rows)
        self.tolerance = tolerance
        self.repeat = 0
        self.samples: list[tuple[str, int, Sample]] = []
        self.target: dict = {}

    def __call__(self, samples: Sample | Iterable[Sample]) -> None:
        """Record one sample or many; each is stamped with the time it was recorded."""
        stamp = utc_now()
        batch = [samples] if isinstance(samples, Sample) else list(samples) if isinstance(samples, Iterable) else [samples]
        for sample in batch:
            if not isinstance(sample, Sample):
                raise TypeError(f"record_samples takes a Sample or Samples, not {type(sample).__name__}")
        self.samples += [(stamp, self.repeat, sample) for sample in batch]

    def expect(
        self, metric: str, *, min: float | None = None, max: float | None = None, unit: str, labels: dict | None = None
    ) -> None:
        """Add a threshold from the test itself, next to the scenario's; with ``labels``,
        it judges only the samples of ``metric`` whose labels have these values.
        Called again by a repeat of the test, it adds nothing new."""
        for op, limit in ((">=", min), ("<=", max)):
            threshold = Threshold(metric, op, limit, unit, labels=dict(labels or {}))
            if limit is not None and threshold not in self.thresholds:
                self.thresholds.append(threshold)

    def verdicts(self) -> list[Verdict]:
        """Thresholds judged on the median of each metric's repeats."""
        repeats = Counter(_series(sample) for _, _, sample in self.samples)
        verdicts = evaluate(self.thresholds, median_samples(sample for _, _, sample in self.samples))
        return [
            dataclasses.replace(v, n=repeats[_series(v.sample)]) if v.sample is not None else v for v in verdicts
        ]

    def check(self) -> None:
        """Raise ``SLOViolation`` naming every threshold the medians missed, else
        ``BaselineRegression`` naming every metric worse than the baseline."""
        failed = [verdict for verdict in self.verdicts() if not verdict.passed]
        if failed:
            raise SLOViolation(failed)
        if self.baseline_rows:
            current = rows("", self.nodeid, "", self.to_report())
            comparisons = baseline.compare(current, self.baseline_rows, self.tolerance)
            regressions = [c for c in comparisons if c.verdict == baseline.REGRESSION]
            if regressions:
                raise BaselineRegression(regressions)

    def to_report(self) -> dict:
        """Plain data for the test report: survives xdist's serialization."""
        verdicts = self.verdicts()
        samples = []
        for stamp, repeat, sample in self.samples:
            judged = [v for v in verdicts if v.sample is not None and _same_series(v.sample, sample)]
            row = {
                "timestamp": stamp,
                "repeat": repeat,
                "metric": sample.metric,
                "value": sample.value,
                "unit": sample.unit,
                "better": self.metrics[sample.metric].better if sample.metric in self.metrics else None,
                "judged": sample.metric in self.judged,
                "labels": dict(sample.labels),
                "slo": {
                    "verdict": "none" if not judged else "pass" if all(v.passed for v in judged) else "fail",
                    "thresholds": [str(v.threshold) for v in judged],
                },
            }
            if sample.histogram is not None:
                row["histogram"] = sample.histogram
            samples.append(row)
        return {
            "cloud": self.cloud,
            "benchmark": self.benchmark,
            "case": self.case,
            "params": self.params,
            "target": self.target,
            "samples": samples,
        }


def _same_series(one: Sample, other: Sample) -> bool:
    return _series(one) == _series(other)


def _series(sample: Sample) -> tuple:
    return sample.metric, tuple(sorted(sample.labels.items()))
