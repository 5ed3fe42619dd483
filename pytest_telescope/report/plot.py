"""The SVG plot of one metric across a benchmark's cases, for the HTML report.

This run's median, confidence interval and repeats per case, the baseline
beside it, and the SLO limits as lines. Values an order of magnitude apart
(UDP at 200 Mbit/s beside TCP at 25 Gbit/s) get a log axis, so that no point
is flattened onto the axis. Labels are sized and turned so that none is cut
off or covers another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from pytest_telescope.history.baseline import REGRESSION, UNCHANGED, Comparison, Key
from pytest_telescope.history.stats import Summary, summarize

WIDTH, PLOT_HEIGHT = 520, 170
LEFT, RIGHT, TOP = 70, 16, 34
# About the width of a character and the height of a line of the 11px label font.
CHAR, LINE = 6.5, 14
# A threshold this many times beyond the data would flatten the plot: it is named instead of drawn.
OFF_SCALE = 2.0
# Data whose largest value is this many times its smallest goes on a log axis.
LOG_RATIO = 10.0


@dataclass(frozen=True)
class Limit:
    """One SLO threshold of a metric: ``value`` in the metric's unit, ``text`` as the suite wrote it."""

    op: str
    value: float
    text: str


@dataclass(frozen=True)
class Metric:
    """One metric of one test in this run, with what the report says about it."""

    key: Key
    benchmark: str
    unit: str
    values: list[float]
    summary: Summary
    slo: str
    limits: list[Limit]
    baseline_values: list[float]
    comparison: Comparison | None
    judged: bool  # by a baseline (rows.judged): what the report leads with

    @property
    def marginal(self) -> bool:
        """The SLO passed on the median, but the confidence interval reaches past a limit."""
        return self.slo == "pass" and any(self.summary.straddles(limit.value) for limit in self.limits)

    @property
    def needs_attention(self) -> bool:
        return (
            self.slo == "fail"
            or self.marginal
            or (self.comparison is not None and self.comparison.verdict == REGRESSION)
        )


@dataclass(frozen=True)
class _Scale:
    """Maps a metric's values to the plot's y coordinates; ``ticks`` span it."""

    ticks: list[float]
    log: bool

    def y(self, value: float) -> float:
        low, high = self.ticks[0], self.ticks[-1]
        if self.log:
            share = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
        else:
            share = (value - low) / (high - low)
        return TOP + PLOT_HEIGHT * (1 - share)


def plot(metrics: list[Metric]) -> str:
    """One metric across cases, this run beside its baseline, SLO limits as lines."""
    data = [v for m in metrics for v in (*m.values, m.summary.low, m.summary.high, *m.baseline_values)]
    data_high = max(*data, 0.0)
    log = min(data, default=0.0) > 0 and max(data) >= LOG_RATIO * min(data)
    on_scale = [limit.value for m in metrics for limit in m.limits if _on_scale(limit.value, data, log)]
    if log:
        scale = _Scale(_log_ticks(min(data + on_scale), max(data + on_scale)), log=True)
    else:
        scale = _Scale(_ticks(min([0.0, *data, *on_scale]), max([data_high, *on_scale])), log=False)
    labels = _labels(metrics)
    width = max(WIDTH, LEFT + RIGHT + LINE * len(metrics))  # room for one upright label per case
    band = (width - LEFT - RIGHT) / len(metrics)
    upright = max(len(label) for label in labels) * CHAR > band - 6
    bottom = TOP + PLOT_HEIGHT
    height = bottom + (max(len(label) for label in labels) * CHAR + 14 if upright else 24)

    parts = []
    for tick in scale.ticks:
        parts.append(_line("grid", LEFT, width - RIGHT, scale.y(tick), scale.y(tick)))
        parts.append(_text("tick", LEFT - 6, scale.y(tick) + 4, _tick(tick), anchor="end"))
    placed: list[tuple[float, float, float]] = []  # SLO labels drawn: x, y, width
    off_scale: dict[str, None] = {}
    for index, (m, label) in enumerate(zip(metrics, labels)):
        left, center = LEFT + band * index, LEFT + band * (index + 0.5)
        for limit in m.limits:
            if not _on_scale(limit.value, data, log):
                off_scale[limit.text] = None
                continue
            y = scale.y(limit.value)
            parts.append(_line("slo", left + 3, left + band - 3, y, y, f"SLO {limit.text}"))
            text = f"SLO {limit.text}"
            if not any(abs(y - py) < LINE and left + 5 < px + pw and px < left + 5 + len(text) * CHAR for px, py, pw in placed):
                placed.append((left + 5, y, len(text) * CHAR))
                parts.append(_text("slo-label", left + 5, y - 4, text))
        offset = min(12.0, band / 5) if m.baseline_values else 0.0
        if m.baseline_values:
            parts.append(_series(summarize(m.baseline_values), m.baseline_values, center + offset, scale, m.unit, "baseline"))
        parts.append(_series(m.summary, m.values, center - offset, scale, m.unit, "failed" if m.slo == "fail" else "current"))
        c = m.comparison
        if c is not None and c.verdict != UNCHANGED:
            change = c.verdict if c.change is None else f"{c.change:+.0%}"
            if len(change) * CHAR <= band:
                parts.append(_text(f"change {c.verdict}", center, TOP - 6, change, anchor="middle", title=c.message))
        if upright:
            parts.append(_text("category", 0, 0, label, anchor="end", transform=f"translate({center + 4:.1f},{bottom + 8}) rotate(-90)"))
        else:
            parts.append(_text("category", center, bottom + 16, label, anchor="middle"))
    if off_scale:
        parts.append(_text("slo-label", width - RIGHT, TOP - 20, f"SLO {', '.join(off_scale)}: off the scale", anchor="end"))
    parts.append(_line("axis", LEFT, LEFT, TOP, bottom))
    parts.append(_line("axis", LEFT, width - RIGHT, bottom, bottom))
    unit = metrics[0].unit + (", log scale" if log else "")
    parts.append(_text("unit", 0, 0, unit, anchor="middle", transform=f"translate(16,{TOP + PLOT_HEIGHT / 2:.1f}) rotate(-90)"))
    return f'<svg viewBox="0 0 {width:.0f} {height:.0f}" role="img" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'


def _series(summary: Summary, values: list[float], x: float, scale: _Scale, unit: str, kind: str) -> str:
    """Samples as dots, the median as a marker, and the CI as a whisker when there are repeats."""
    parts = []
    if summary.n > 1:
        parts += [f'<circle class="sample {kind}" cx="{x:.1f}" cy="{scale.y(v):.1f}" r="2.5"/>' for v in values]
        top, bottom = scale.y(summary.high), scale.y(summary.low)
        whisker = f"M{x:.1f},{top:.1f}V{bottom:.1f}M{x - 5:.1f},{top:.1f}h10M{x - 5:.1f},{bottom:.1f}h10"
        parts.append(f'<path class="whisker {kind}" d="{whisker}"/>')
    y = scale.y(summary.median)
    if kind == "baseline":
        parts.append(f'<path class="median baseline" d="M{x:.1f},{y - 6:.1f}l6,6l-6,6l-6,-6z"/>')
    else:
        parts.append(f'<circle class="median {kind}" cx="{x:.1f}" cy="{y:.1f}" r="5"/>')
    title = f"{'baseline' if kind == 'baseline' else 'this run'}: median {number(summary.median)} {unit} of {summary.n}"
    if summary.n > 1:
        title += f", 95% CI {number(summary.low)} – {number(summary.high)} ({summary.confidence:.0%})"
    return f'<g class="point"><title>{escape(title)}</title>{"".join(parts)}</g>'


def _line(css: str, x1: float, x2: float, y1: float, y2: float, title: str = "") -> str:
    tip = f"<title>{escape(title)}</title>" if title else ""
    return f'<line class="{css}" x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}">{tip}</line>'


def _text(css: str, x: float, y: float, text: str, *, anchor: str = "start", transform: str = "", title: str = "") -> str:
    place = f'transform="{transform}"' if transform else f'x="{x:.1f}" y="{y:.1f}"'
    tip = f"<title>{escape(title)}</title>" if title else ""
    return f'<text class="{css}" {place} text-anchor="{anchor}">{escape(text)}{tip}</text>'


def _labels(metrics: list[Metric]) -> list[str]:
    """Short names of the cases: the words of the test function's name that tell it from the
    others in the plot (test_iperf3, test_iperf3_shaped: "", "shaped"), the case id without the
    cloud when all share it, and the sample's labels."""
    tests = [m.key.short_test.partition("[") for m in metrics]
    words = [function.split("_") for function, _, _ in tests]
    common = 0
    while all(len(w) > common and w[common] == words[0][common] for w in words):
        common += 1
    ids = [case.removesuffix("]") for _, _, case in tests]
    cloud = ids[0].partition("-")[0] + "-"
    shared_cloud = len(cloud) if all(case.startswith(cloud) for case in ids) else 0
    labels = []
    for m, (function, _, _), name, case in zip(metrics, tests, words, ids):
        parts = ["_".join(name[common:]), case[shared_cloud:], *(f"{k}={v}" for k, v in m.key.labels)]
        labels.append(" ".join(part for part in parts if part) or function)
    return labels


def _on_scale(limit: float, data: list[float], log: bool) -> bool:
    if log:
        return limit > 0 and min(data) / OFF_SCALE <= limit <= OFF_SCALE * max(data)
    data_high = max(*data, 0.0)
    return limit <= OFF_SCALE * data_high or data_high <= 0


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(power * m for m in (1, 2, 5, 10) if power * m >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [i * step for i in range(first, last + 1)]


def _log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten covering [low, high]."""
    return [10.0**e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]


def _tick(value: float) -> str:
    if abs(value) >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:.6g}"


def number(value: float) -> str:
    return f"{value:.6g}"
