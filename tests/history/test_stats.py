"""Medians of repeats and the distribution-free 95% confidence interval of the median."""

import math
import random

import pytest

from pytest_telescope.history import stats
from pytest_telescope.history.stats import median, median_interval_rank, median_samples, summarize
from pytest_telescope.samples import Sample


def test_median_of_an_odd_count_is_the_middle_value():
    assert median([3.0, 1.0, 2.0]) == 2.0


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values():
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_median_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no values"):
        median([])


@pytest.mark.parametrize(
    ("n", "rank", "coverage"),
    [
        (1, 1, 0.0),
        (2, 1, 0.5),
        (5, 1, 0.9375),
        (6, 1, 0.96875),
        (8, 1, 0.9921875),
        (9, 2, 0.9609375),
        (20, 6, 0.9586105346679688),
    ],
)
def test_interval_ranks_match_the_binomial_table(n, rank, coverage):
    assert median_interval_rank(n) == (rank, pytest.approx(coverage))


def test_interval_rank_for_100_values_is_the_textbook_40th_and_61st():
    rank, coverage = median_interval_rank(100)
    assert (rank, 101 - rank) == (40, 61)
    assert coverage == pytest.approx(0.9648, abs=1e-4)


@pytest.mark.parametrize("n", range(6, 120))
def test_interval_is_the_narrowest_that_still_reaches_95_percent(n):
    rank, coverage = median_interval_rank(n)
    assert coverage >= 0.95
    narrower = 1 - 2 * sum(math.comb(n, i) for i in range(rank + 1)) / 2**n
    assert 2 * (rank + 1) > n + 1 or narrower < 0.95


def test_one_value_is_its_own_median_and_interval():
    summary = summarize([42.0])
    assert (summary.n, summary.median, summary.low, summary.high, summary.confidence) == (1, 42.0, 42.0, 42.0, 0.0)


def test_three_values_give_their_range_at_75_percent():
    summary = summarize([14930.8, 12025.3, 15201.5])
    assert (summary.median, summary.low, summary.high) == (14930.8, 12025.3, 15201.5)
    assert summary.confidence == 0.75


def test_the_interval_leaves_out_the_extremes_once_there_are_enough_values():
    values = [100.0] * 4 + [1.0, 2.0, 3.0, 500.0, 600.0, 700.0]  # n=10: rank 2, from 2nd to 9th value
    summary = summarize(values)
    assert (summary.low, summary.high) == (2.0, 600.0)
    assert (summary.minimum, summary.maximum) == (1.0, 700.0)


def test_interval_holds_the_true_median_at_least_95_percent_of_the_time():
    rng = random.Random(20261123)
    true_median = math.log(2)  # of an exponential distribution with rate 1: skewed like latencies
    trials = 2000
    held = 0
    for _ in range(trials):
        summary = summarize(rng.expovariate(1.0) for _ in range(15))
        held += summary.low <= true_median <= summary.high
    assert held / trials >= 0.95


def test_straddles_a_limit_inside_the_interval_only():
    summary = summarize([90.0, 100.0, 110.0])
    assert summary.straddles(95.0)
    assert not summary.straddles(85.0)
    assert not summary.straddles(110.0)


def test_median_samples_give_one_sample_per_metric_and_labels():
    samples = [
        Sample("read_iops", 100.0, "IOPS", {"job": "a"}),
        Sample("read_iops", 300.0, "IOPS", {"job": "b"}),
        Sample("read_iops", 120.0, "IOPS", {"job": "a"}),
        Sample("read_iops", 110.0, "IOPS", {"job": "a"}),
        Sample("read_clat_p99", 512.0, "us", {"job": "a"}),
    ]
    assert median_samples(samples) == [
        Sample("read_iops", 110.0, "IOPS", {"job": "a"}),
        Sample("read_iops", 300.0, "IOPS", {"job": "b"}),
        Sample("read_clat_p99", 512.0, "us", {"job": "a"}),
    ]


# Two samples: the Mann-Whitney U test and the interval of the ratio of medians


def test_mann_whitney_counts_every_order_of_two_small_samples():
    # All 5 below all 5: 2 of the C(10, 5) = 252 orders are as extreme (either side).
    assert stats.mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    assert stats.mann_whitney_p([1, 2, 3], [4, 5, 6]) == pytest.approx(2 / 20)
    assert stats.mann_whitney_p([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == 1.0


def test_mann_whitney_with_ties_counts_orders_of_their_mean_ranks():
    # Ranks 1, 2.5, 2.5, 4 | 5, 6: the rank sum 10 is 4 below the expected 14. Of the 15 ways to choose
    # 4 ranks only this one is as far; 18 on the other side is out of reach (the most is 17.5).
    assert stats.mann_whitney_p([1, 2, 2, 3], [4, 5]) == pytest.approx(1 / 15)


def test_mann_whitney_s_normal_approximation_agrees_with_the_exact_count(monkeypatch):
    first = [float(x) for x in range(0, 40, 2)]  # 20 values
    second = [x + 5.0 for x in first]
    exact = stats.mann_whitney_p(first, second)
    monkeypatch.setattr(stats, "EXACT_LIMIT", 10)
    assert stats.mann_whitney_p(first, second) == pytest.approx(exact, abs=0.005)


def test_the_ratio_interval_holds_the_ratio_of_medians_and_is_the_same_every_time():
    current, baseline = [95.0, 100.0, 105.0, 98.0, 102.0], [190.0, 200.0, 210.0, 205.0, 195.0]
    low, high = stats.ratio_interval(current, baseline)
    assert low < 0.5 < high
    assert (low, high) == stats.ratio_interval(current, baseline)


def test_the_ratio_interval_has_no_scale_against_a_baseline_of_zeros():
    assert stats.ratio_interval([1.0, 2.0], [0.0, 0.0]) is None
