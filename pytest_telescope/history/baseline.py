"""Compare a run's metrics with a baseline: earlier rows of the same tests and parameters.

Rows are matched on ``Key``: the test's node id, its parameters, the metric
and its labels. All rows of a key are pooled, on each side: the repeats of
this run, and every repeat of every run in the baseline. Only rows marked
``judged`` count: the benchmark's own metrics (its tool's ``METRICS``) and
those its scenario opts in, never the golden signals by default.

A change counts when it is larger than the tolerance (a share of the
baseline's median) and larger than the noise (``judge``). Whether it is a
regression or an improvement depends on the metric's ``better`` direction,
which each row carries from its tool's or measurement's declaration.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from pytest_telescope import units
from pytest_telescope.errors import TelescopeError
from pytest_telescope.history.stats import Summary, mann_whitney_p, median, ratio_interval, summarize
from pytest_telescope.rows import judged
from pytest_telescope.samples import HIGHER, LOWER

DEFAULT_TOLERANCE = 0.05
# The Mann-Whitney U test's significance level.
ALPHA = 0.05
REGRESSION, IMPROVEMENT, UNCHANGED, CHANGED = "regression", "improvement", "unchanged", "changed"
INCONCLUSIVE = "inconclusive"
VERDICTS = (REGRESSION, IMPROVEMENT, CHANGED, INCONCLUSIVE, UNCHANGED)
_REQUIRED = ("test", "benchmark", "params", "metric", "labels", "value", "unit")


class BaselineError(TelescopeError):
    """A baseline file cannot be read: names the file and the line."""


@dataclass(frozen=True)
class Key:
    """What makes two rows measurements of the same thing."""

    test: str
    params: tuple[tuple[str, object], ...]
    metric: str
    labels: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        """The metric with its labels, e.g. ``read_iops job=telescope``."""
        return self.metric + "".join(f" {k}={v}" for k, v in self.labels)

    @property
    def short_test(self) -> str:
        return self.test.rsplit("::", 1)[-1]


def key(row: dict) -> Key:
    return Key(row["test"], tuple(sorted(row["params"].items())), row["metric"], tuple(sorted(row["labels"].items())))


def group(rows: Iterable[dict]) -> dict[Key, list[dict]]:
    """Rows by key, in the order each key first appears."""
    groups: dict[Key, list[dict]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return groups


def by_test(rows: Iterable[dict]) -> dict[str, list[dict]]:
    tests: dict[str, list[dict]] = {}
    for row in rows:
        tests.setdefault(row["test"], []).append(row)
    return tests


def load(path: Path, exclude_run: str | None = None) -> list[dict]:
    """Rows from a results JSONL file, or from every ``*.jsonl`` under a directory of runs.

    Rows of ``exclude_run`` (the run being made, when its results directory
    is the baseline) and rows of interrupted tests (partial measurements)
    are left out. Raises ``BaselineError``.
    """
    if path.is_dir():
        files = sorted(path.rglob("*.jsonl"))
        if not files:
            raise BaselineError(f"{path}: no *.jsonl file in this directory or below it")
    elif path.is_file():
        files = [path]
    else:
        raise BaselineError(f"{path}: no such file or directory")
    rows = [row for file in files for row in read_rows(file)]
    return [row for row in rows if row.get("run_id") != exclude_run and row.get("outcome") != "interrupted"]


def read_rows(path: Path) -> list[dict]:
    """Every row of one results JSONL file. Raises ``BaselineError`` naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise BaselineError(f"{path}: cannot read: {error}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise BaselineError(f"{path}:{number}: not JSON: {error.msg}") from None
        if not isinstance(row, dict):
            raise BaselineError(f"{path}:{number}: not a result row (a JSON object)")
        missing = [name for name in _REQUIRED if name not in row]
        if missing:
            raise BaselineError(f"{path}:{number}: not a result row, it has no {', '.join(missing)}")
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move from its baseline, as a share of the baseline: 0.05 is 5%."""

    default: float = DEFAULT_TOLERANCE
    per_metric: dict[str, float] = field(default_factory=dict)

    def of(self, metric: str) -> float:
        return self.per_metric.get(metric, self.default)

    @classmethod
    def parse(cls, text: str) -> Tolerance:
        """``5%``, or ``5%,read_clat_p99=20%,rtt_mean=50%``: a default and per-metric tolerances."""
        default, per_metric = DEFAULT_TOLERANCE, {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            metric, _, percent = item.rpartition("=")
            value = _percent(percent.strip(), item)
            if metric:
                per_metric[metric.strip()] = value
            else:
                default = value
        return cls(default, per_metric)

    def __str__(self) -> str:
        return ",".join([_pct(self.default)] + [f"{metric}={_pct(value)}" for metric, value in self.per_metric.items()])


def _percent(text: str, item: str) -> float:
    try:
        value = float(text.removesuffix("%"))
    except ValueError:
        value = -1
    if not text.endswith("%") or not 0 <= value < math.inf:  # also nan%
        raise ValueError(f"tolerance {item!r}: expected a percentage such as 5% or metric=5%")
    return value / 100


@dataclass(frozen=True)
class Comparison:
    """One metric of one test: this run against its baseline, and how that was decided.

    ``interval`` is the 95% bootstrap interval of the change (as shares, like
    ``change``) and ``p_value`` the Mann-Whitney U test's, when both sides have
    repeats; ``reason`` says in words why the verdict is what it is.
    """

    key: Key
    unit: str
    current: Summary
    baseline: Summary
    better: str | None
    tolerance: float
    verdict: str
    reason: str
    interval: tuple[float, float] | None = None
    p_value: float | None = None

    @property
    def change(self) -> float | None:
        """(current - baseline) / baseline; None when the baseline is 0."""
        if self.baseline.median == 0:
            return None
        return (self.current.median - self.baseline.median) / abs(self.baseline.median)

    @property
    def ratio(self) -> float | None:
        return None if self.baseline.median == 0 else self.current.median / self.baseline.median

    @property
    def change_text(self) -> str:
        """``-50.0% (95% CI -55.1% to -45.3%)``, or ``from 0``."""
        if self.change is None:
            return "from 0"
        if self.interval is None:
            return f"{self.change:+.1%}"
        return f"{self.change:+.1%} (95% CI {self.interval[0]:+.1%} to {self.interval[1]:+.1%})"

    @property
    def message(self) -> str:
        """E.g. ``read_iops job=telescope = 30270.8 IOPS (median of 5), baseline 60541.5 IOPS (median of 5):
        -50.0% (95% CI -55.1% to -45.3%), tolerance 5%, higher is better: regression (Mann-Whitney U p = 0.008)``."""
        direction = f", {self.better} is better" if self.better else ""
        return (
            f"{self.key.name} = {describe(self.current, self.unit)}, baseline {describe(self.baseline, self.unit)}: "
            f"{self.change_text}, tolerance {_pct(self.tolerance)}{direction}: {self.verdict} ({self.reason})"
        )


def plural(verdict: str, count: int) -> str:
    """``regressions``, ``improvements``; ``changed``, ``unchanged`` and ``inconclusive`` stay as they are."""
    return verdict + "s" if count != 1 and verdict in (REGRESSION, IMPROVEMENT) else verdict


def describe(summary: Summary, unit: str) -> str:
    """``13786.4 Mbit/s (n=1)``, or with repeats ``13786.4 Mbit/s (median of 3)``."""
    text = f"{_number(summary.median)} {unit}"
    return f"{text} (n=1)" if summary.n == 1 else f"{text} (median of {summary.n})"


class BaselineRegression(AssertionError):
    """A test's metrics are worse than the baseline's by more than the tolerance."""

    def __init__(self, regressions: list[Comparison]):
        self.regressions = regressions
        lines = [f"{len(regressions)} regression{'s' if len(regressions) > 1 else ''} against the baseline:"]
        lines += [f"  {comparison.message}" for comparison in regressions]
        super().__init__("\n".join(lines))


def compare(
    current_rows: Iterable[dict], baseline_rows: Iterable[dict], tolerance: Tolerance = Tolerance()
) -> list[Comparison]:
    """Every judged key of ``current_rows`` that the baseline has too; in the order of ``current_rows``."""
    baseline = group(baseline_rows)
    comparisons = []
    for row_key, rows in group(filter(judged, current_rows)).items():
        if row_key not in baseline:
            continue
        unit = rows[0]["unit"]
        runs: dict[str, list[float]] = {}
        for row in baseline[row_key]:
            runs.setdefault(row.get("run_id", ""), []).append(_in_unit(row, unit))
        comparisons.append(
            judge(
                row_key,
                unit,
                [row["value"] for row in rows],
                [value for values in runs.values() for value in values],
                rows[0].get("better"),
                tolerance.of(row_key.metric),
                run_medians=[median(values) for values in runs.values()],
            )
        )
    return comparisons


def judge(
    row_key: Key,
    unit: str,
    current: list[float],
    baseline: list[float],
    better: str | None,
    tolerance: float,
    *,
    run_medians: Sequence[float] = (),
) -> Comparison:
    """Regression, improvement, changed (a metric better neither way), unchanged or inconclusive.

    Within the tolerance it is unchanged. Beyond it, with repeats on both sides
    the change counts when the Mann-Whitney U test finds the two samples
    different (p < 0.05, as ``asv compare`` decides) and the whole 95% bootstrap
    interval of the change lies beyond the tolerance, so that a shift of the
    machine a little past the tolerance is not a regression on its own. When the
    baseline holds several runs (``run_medians``, one per run), the change must
    also be beyond the spread of their medians: repeats taken one after the other
    share the machine's state, and only runs apart show how far it drifts. With
    one value a side, only a change beyond the spread (max - min) the baseline's
    history shows counts. Otherwise it is inconclusive.
    """
    now, then = summarize(current), summarize(baseline)
    difference = now.median - then.median
    interval = p_value = None
    if now.n > 1 and then.n > 1:
        p_value = mann_whitney_p(current, baseline)
        ratios = ratio_interval(current, baseline)
        interval = None if ratios is None else (ratios[0] - 1, ratios[1] - 1)
    if abs(difference) <= tolerance * abs(then.median):
        verdict, reason = UNCHANGED, "within the tolerance"
    elif p_value is not None:
        reason = f"Mann-Whitney U p = {p_value:.3f}"
        # Without a relative scale (a baseline of 0) the test alone decides.
        beyond = interval is None or interval[0] > tolerance or interval[1] < -tolerance
        if p_value >= ALPHA:
            verdict, reason = INCONCLUSIVE, f"{reason} >= {ALPHA}: may be noise"
        elif not beyond:
            verdict, reason = INCONCLUSIVE, f"{reason}, but the 95% CI of the change reaches within the tolerance"
        elif len(run_medians) > 1 and abs(difference) <= max(run_medians) - min(run_medians):
            verdict = INCONCLUSIVE
            reason += (
                f", but within the spread of the baseline's {len(run_medians)} runs' medians"
                f" ({_number(min(run_medians))} to {_number(max(run_medians))} {unit})"
            )
        else:
            verdict = _direction(difference, better)
    elif then.n > 1 and then.median != 0 and abs(difference) > then.maximum - then.minimum:
        verdict = _direction(difference, better)
        reason = f"n=1, beyond the baseline's spread ({_number(then.minimum)} to {_number(then.maximum)} {unit})"
    elif then.median == 0:
        verdict, reason = INCONCLUSIVE, "n=1, and a baseline of 0 gives the tolerance no scale"
    elif then.n > 1:
        verdict = INCONCLUSIVE
        reason = f"n=1, within the baseline's spread ({_number(then.minimum)} to {_number(then.maximum)} {unit})"
    else:
        verdict, reason = INCONCLUSIVE, "n=1, and the baseline has no history to show its spread"
    return Comparison(row_key, unit, now, then, better, tolerance, verdict, reason, interval, p_value)


def _direction(difference: float, better: str | None) -> str:
    if better not in (HIGHER, LOWER):
        return CHANGED
    return IMPROVEMENT if (difference > 0) == (better == HIGHER) else REGRESSION


def _in_unit(row: dict, unit: str) -> float:
    try:
        return units.convert(row["value"], row["unit"], unit)
    except ValueError:
        raise BaselineError(
            f"{row['test']} {row['metric']}: the baseline measured it in {row['unit']}, this run in {unit}"
        ) from None


def _number(value: float) -> str:
    return f"{value:.6g}"


def _pct(share: float) -> str:
    return f"{share * 100:g}%"
