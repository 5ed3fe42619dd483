"""Service-level objectives: thresholds on metrics, and the verdicts they give."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Iterable

from pytest_telescope import units
from pytest_telescope.samples import Sample

_OPERATORS = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Threshold:
    """``metric op limit``, in the unit the suite wrote it in; a sample is converted to it.

    ``clouds`` and ``when`` narrow where the threshold applies: to some
    clouds, and to cases whose parameters have the given values. ``labels``
    narrow what it judges: the samples of its metric whose labels have
    these values (compared as text, as sample labels are). An ``optional``
    threshold (a tool's default SLO) judges its metric only when the test
    measured it.
    """

    metric: str
    op: str
    limit: float
    unit: str
    clouds: tuple[str, ...] = ()
    when: dict = field(default_factory=dict)
    optional: bool = False
    labels: dict = field(default_factory=dict)

    def applies_to(self, cloud: str, params: dict) -> bool:
        if self.clouds and cloud not in self.clouds:
            return False
        return all(params.get(key) == value for key, value in self.when.items())

    def selects(self, sample: Sample) -> bool:
        """The sample is of this threshold's metric and has its labels."""
        return sample.metric == self.metric and all(sample.labels.get(key) == str(value) for key, value in self.labels.items())

    def holds(self, sample: Sample) -> bool:
        return _OPERATORS[self.op](units.convert(sample.value, sample.unit, self.unit), self.limit)

    def __str__(self) -> str:
        return f"{self.metric}{_labels(self.labels)} {self.op} {_number(self.limit)} {self.unit}"


@dataclass(frozen=True)
class Verdict:
    """One threshold judged against one sample (or against no sample at all);
    ``n`` > 1 when the sample is the median of that many repeats."""

    threshold: Threshold
    sample: Sample | None
    n: int = 1

    @property
    def passed(self) -> bool:
        return self.sample is not None and not self.incomparable and self.threshold.holds(self.sample)

    @property
    def incomparable(self) -> bool:
        """The sample's unit does not measure what the threshold's does."""
        return self.sample is not None and not units.comparable(self.sample.unit, self.threshold.unit)

    def __str__(self) -> str:
        t = self.threshold
        if self.sample is None:
            return f"{t.metric}{_labels(t.labels)} was not measured, expected {t.op} {_number(t.limit)} {t.unit}"
        if self.incomparable:
            return f"{t.metric} is measured in {self.sample.unit}, which cannot be compared with {t.unit}"
        median = f" (median of {self.n})" if self.n > 1 else ""
        return (
            f"{t.metric}{_labels(self.sample.labels)} = {_number(self.sample.value)} {self.sample.unit}{median}, "
            f"expected {t.op} {_number(t.limit)} {t.unit}"
        )


class SLOViolation(AssertionError):
    """A test measured what it should, and the numbers missed their objectives."""

    def __init__(self, failed: list[Verdict]):
        self.failed = failed
        # One line: pytest's short summary shows only the first, and JUnit's message joins them.
        super().__init__(f"{len(failed)} SLO violation{'s' if len(failed) > 1 else ''}: {'; '.join(map(str, failed))}")


def evaluate(thresholds: Iterable[Threshold], samples: list[Sample]) -> list[Verdict]:
    """Judge every sample each threshold selects (of its metric, with its labels); a threshold
    that selects no sample fails, unless it is optional, which then gives no verdict."""
    verdicts = []
    for threshold in thresholds:
        matching = [s for s in samples if threshold.selects(s)]
        if matching:
            verdicts += [Verdict(threshold, s) for s in matching]
        elif not threshold.optional:
            verdicts.append(Verdict(threshold, None))
    return verdicts


def _number(value: float) -> str:
    return f"{value:.6g}"


def _labels(labels: dict) -> str:
    return "".join(f" {key}={value}" for key, value in sorted(labels.items()))
