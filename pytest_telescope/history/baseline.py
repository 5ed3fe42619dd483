"""Compare a run's metrics with a baseline: earlier rows of the same tests and parameters.

Rows are matched on ``Key``: the test's node id, its parameters, the metric
and its labels. All rows of a key are pooled, on each side: the repeats of
this run, and every repeat of every run in the baseline. Each side is then a
median with its 95% confidence interval (``stats``).

A change counts when it is larger than the tolerance (a share of the
baseline's median) and larger than the noise the samples show: the two
confidence intervals do not overlap, or, when one side is a single run, that
value falls outside the range of the other side's samples (the range of n
runs holds one more run with probability (n-1)/(n+1)). Whether a change is a
regression or an improvement depends on which way is better for the metric.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from pytest_telescope import tools, units
from pytest_telescope.errors import TelescopeError
from pytest_telescope.history.stats import Summary, summarize

DEFAULT_TOLERANCE = 0.05
REGRESSION, IMPROVEMENT, UNCHANGED, CHANGED = "regression", "improvement", "unchanged", "changed"
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


def better(benchmark: str, metric: str, unit: str) -> str | None:
    """``"higher"`` or ``"lower"``: which way the metric improves; None when neither is.

    The tool module's ``BETTER`` table decides; for metrics it leaves out, a
    rate (a unit per second: Mbit/s, MiB/s, req/s, IOPS) is better higher and a
    duration better lower.
    """
    if benchmark in tools.names():
        table = getattr(tools.load(benchmark), "BETTER", {})
        if metric in table:
            return table[metric]
    if unit == "IOPS" or unit.endswith("/s"):
        return "higher"
    if units.comparable(unit, "s"):
        return "lower"
    return None


@dataclass(frozen=True)
class Comparison:
    """One metric of one test: this run against its baseline."""

    key: Key
    unit: str
    current: Summary
    baseline: Summary
    better: str | None
    tolerance: float
    allowed: float
    verdict: str

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
    def allowed_share(self) -> float | None:
        """The allowed change as a share of the baseline: the tolerance, or the noise when larger."""
        return None if self.baseline.median == 0 else self.allowed / abs(self.baseline.median)

    @property
    def message(self) -> str:
        """E.g. ``read_iops job=telescope = 30270.8 IOPS, baseline 60541.5 IOPS: -50.0%, higher is better, tolerance 5%``."""
        change = "from 0" if self.change is None else f"{self.change:+.1%}"
        share = self.allowed_share
        if share is None and self.allowed:
            tolerance = f"tolerance {_number(self.allowed)} {self.unit} (the spread of the samples)"
        elif share is None:
            tolerance = "no tolerance: a share of a baseline of 0 is 0"
        elif self.allowed > self.tolerance * abs(self.baseline.median):
            tolerance = f"tolerance {share:.1%} (the spread of the samples; setting {_pct(self.tolerance)})"
        else:
            tolerance = f"tolerance {_pct(self.tolerance)}"
        direction = f", {self.better} is better" if self.better else ""
        return (
            f"{self.key.name} = {describe(self.current, self.unit)}, baseline {describe(self.baseline, self.unit)}: "
            f"{change}{direction}, {tolerance}"
        )


def plural(verdict: str, count: int) -> str:
    """``regressions``, ``improvements``; ``changed`` and ``unchanged`` stay as they are."""
    return verdict + "s" if count != 1 and verdict in (REGRESSION, IMPROVEMENT) else verdict


def describe(summary: Summary, unit: str) -> str:
    """``13786.4 Mbit/s``, or with repeats ``13786.4 Mbit/s (median of 3)``."""
    text = f"{_number(summary.median)} {unit}"
    return text if summary.n == 1 else f"{text} (median of {summary.n})"


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
    """Every key of ``current_rows`` that the baseline has too, judged; in the order of ``current_rows``."""
    baseline = group(baseline_rows)
    comparisons = []
    for row_key, rows in group(current_rows).items():
        if row_key not in baseline:
            continue
        unit = rows[0]["unit"]
        comparisons.append(
            judge(
                row_key,
                unit,
                summarize(row["value"] for row in rows),
                summarize(_in_unit(row, unit) for row in baseline[row_key]),
                better(rows[0]["benchmark"], row_key.metric, unit),
                tolerance.of(row_key.metric),
            )
        )
    return comparisons


def judge(
    row_key: Key, unit: str, current: Summary, baseline: Summary, better: str | None, tolerance: float
) -> Comparison:
    difference = current.median - baseline.median
    allowed = max(tolerance * abs(baseline.median), _noise(current, baseline, upward=difference > 0))
    if abs(difference) <= allowed:
        verdict = UNCHANGED
    elif better is None:
        verdict = CHANGED
    else:
        verdict = IMPROVEMENT if (difference > 0) == (better == "higher") else REGRESSION
    return Comparison(row_key, unit, current, baseline, better, tolerance, allowed, verdict)


def _noise(current: Summary, baseline: Summary, *, upward: bool) -> float:
    """How far apart noise alone may put the two medians, with the current one above (upward) or below."""
    if current.n > 1 and baseline.n > 1:
        if upward:
            return (current.median - current.low) + (baseline.high - baseline.median)
        return (current.high - current.median) + (baseline.median - baseline.low)
    if current.n > 1:
        return current.median - current.minimum if upward else current.maximum - current.median
    if baseline.n > 1:
        return baseline.maximum - baseline.median if upward else baseline.median - baseline.minimum
    return 0.0


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
