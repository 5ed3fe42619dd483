"""Medians of repeated measurements, and the 95% confidence intervals of those medians.

The interval is distribution-free: two order statistics of the values,
chosen with the binomial distribution so that they hold the true median
with at least 95% probability (the interval of the sign test). It assumes
nothing about the shape of the noise, which for benchmarks is often skewed
or has outliers, and it uses no random numbers, so the same rows always
give the same interval. With fewer than 6 values no pair of order
statistics reaches 95%: the interval is then the whole range of the values,
and ``confidence`` says what it actually holds (0 for one value, 0.9375 for
five).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Iterable

from pytest_telescope.samples import Sample

LEVEL = 0.95


@dataclass(frozen=True)
class Summary:
    """The values of one metric: their median and its confidence interval [low, high]."""

    n: int
    median: float
    low: float
    high: float
    confidence: float
    minimum: float
    maximum: float

    def straddles(self, limit: float) -> bool:
        """The interval reaches both sides of ``limit``: these repeats cannot tell which side the median is on."""
        return self.low < limit < self.high


def summarize(values: Iterable[float], level: float = LEVEL) -> Summary:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("cannot summarize no values")
    rank, confidence = median_interval_rank(n, level)
    return Summary(
        n=n,
        median=median(ordered),
        low=ordered[rank - 1],
        high=ordered[n - rank],
        confidence=confidence,
        minimum=ordered[0],
        maximum=ordered[-1],
    )


def median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("the median of no values is undefined")
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def median_interval_rank(n: int, level: float = LEVEL) -> tuple[int, float]:
    """The largest rank k such that [x_(k), x_(n+1-k)] holds the median with ``level``, and its coverage.

    The coverage is P(k <= B <= n-k) for B ~ Binomial(n, 1/2). When even
    k = 1 (the range) falls short of ``level``, the range is returned anyway.
    """
    if n < 1:
        raise ValueError(f"need at least one value, got {n}")
    total = 2**n
    rank, tail = 1, 1  # tail: the outcomes with B < rank
    while 2 * (rank + 1) <= n + 1 and 1 - 2 * (tail + comb(n, rank)) / total >= level:
        rank, tail = rank + 1, tail + comb(n, rank)
    return rank, 1 - 2 * tail / total


def median_samples(samples: Iterable[Sample]) -> list[Sample]:
    """One sample per metric and labels, valued at the median of its repeats, in the order first seen."""
    groups: dict[tuple, list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.metric, tuple(sorted(sample.labels.items()))), []).append(sample)
    return [
        Sample(group[0].metric, median(s.value for s in group), group[0].unit, dict(group[0].labels))
        for group in groups.values()
    ]
