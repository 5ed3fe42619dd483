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

import random
from dataclasses import dataclass
from math import comb, erf, sqrt
from typing import Iterable, Sequence

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


# The largest pooled sample whose rank-sum distribution is counted exactly; above it, the normal approximation.
EXACT_LIMIT = 40
RESAMPLES = 2000


def mann_whitney_p(first: Sequence[float], second: Sequence[float]) -> float:
    """The two-sided p-value of the Mann-Whitney U (Wilcoxon rank-sum) test: how likely two samples
    from one distribution are to have rank sums at least this far apart.

    Ties share their mean rank. Up to ``EXACT_LIMIT`` values the p-value is exact: every way of
    choosing ``len(first)`` of the pooled ranks is counted (so with 5 values a side the smallest
    possible p is 2/252 = 0.008, with 3 a side 2/20 = 0.1: too few to tell anything at 5 %).
    """
    m, n = len(first), len(second)
    if not m or not n:
        raise ValueError("the Mann-Whitney test needs values on both sides")
    ranks = _doubled_midranks([*first, *second])
    observed = sum(ranks[:m])
    centre = m * (m + n + 1)  # the expected doubled rank sum of the first sample
    distance = abs(observed - centre)
    if m + n <= EXACT_LIMIT:
        counts = _rank_sum_counts(ranks, m)
        extreme = sum(count for total, count in counts.items() if abs(total - centre) >= distance)
        return min(1.0, extreme / comb(m + n, m))
    ties = sum(t**3 - t for t in _tie_sizes(ranks))
    total = m + n
    variance = m * n / 12 * ((total + 1) - ties / (total * (total - 1)))
    if variance == 0:
        return 1.0
    z = (distance / 2 - 0.5) / sqrt(variance)  # with the continuity correction
    return min(1.0, 2 * (1 - 0.5 * (1 + erf(max(z, 0) / sqrt(2)))))


def _doubled_midranks(values: list[float]) -> list[int]:
    """Twice the mean rank of each value (1-based), so that tied ranks stay whole numbers."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for index in order[start : end + 1]:
            ranks[index] = start + end + 2
        start = end + 1
    return ranks


def _tie_sizes(ranks: list[int]) -> list[int]:
    sizes: dict[int, int] = {}
    for rank in ranks:
        sizes[rank] = sizes.get(rank, 0) + 1
    return list(sizes.values())


def _rank_sum_counts(ranks: list[int], size: int) -> dict[int, int]:
    """How many subsets of ``size`` ranks have each sum."""
    ways: list[dict[int, int]] = [{0: 1}] + [{} for _ in range(size)]
    for rank in ranks:
        for chosen in range(size - 1, -1, -1):
            for total, count in ways[chosen].items():
                ways[chosen + 1][total + rank] = ways[chosen + 1].get(total + rank, 0) + count
    return ways[size]


def ratio_interval(
    current: Sequence[float], baseline: Sequence[float], level: float = LEVEL, resamples: int = RESAMPLES
) -> tuple[float, float] | None:
    """A bootstrap interval of median(current) / median(baseline), as (low, high); None when a
    resampled baseline median is 0. The resampling is seeded: the same values give the same interval."""
    generator = random.Random(0)
    ratios = []
    for _ in range(resamples):
        denominator = median(generator.choices(baseline, k=len(baseline)))
        if denominator == 0:
            return None
        ratios.append(median(generator.choices(current, k=len(current))) / denominator)
    ratios.sort()
    tail = (1 - level) / 2
    return ratios[int(tail * resamples)], ratios[min(resamples - 1, int((1 - tail) * resamples))]
