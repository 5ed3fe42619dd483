"""The HTML report: one static, self-contained file that a browser opens from disk.

A summary of tests, SLO verdicts and baseline verdicts; per benchmark one
plot per metric across its cases, with the SLO thresholds drawn and the
baseline as a second series; and a table of every metric (median, 95%
confidence interval, verdicts). The plots are SVG written here; the page loads
nothing (its Content-Security-Policy forbids it), and its one small script
only adds a filter to the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Iterable

from pytest_telescope import units
from pytest_telescope.history.baseline import (
    CHANGED,
    IMPROVEMENT,
    REGRESSION,
    UNCHANGED,
    Comparison,
    Key,
    Tolerance,
    compare,
    group,
    plural,
)
from pytest_telescope.history.stats import Summary, summarize

WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 16, 34, 84
# A threshold this many times beyond the data would flatten the plot: it is named instead of drawn.
OFF_SCALE = 2.0


@dataclass(frozen=True)
class Metric:
    """One metric of one test in this run, with what the report says about it."""

    key: Key
    benchmark: str
    unit: str
    values: list[float]
    summary: Summary
    slo: str
    thresholds: list[tuple[str, float]]
    baseline_values: list[float]
    comparison: Comparison | None

    @property
    def marginal(self) -> bool:
        """The SLO passed on the median, but the confidence interval reaches past a limit."""
        return self.slo == "pass" and any(self.summary.straddles(limit) for _, limit in self.thresholds)

    @property
    def needs_attention(self) -> bool:
        return (
            self.slo == "fail"
            or self.marginal
            or (self.comparison is not None and self.comparison.verdict == REGRESSION)
        )


def render(rows: list[dict], baseline_rows: list[dict] | None = None, *, tolerance: Tolerance = Tolerance()) -> str:
    """The report of ``rows``, against ``baseline_rows`` when given."""
    metrics = _metrics(rows, baseline_rows or [], tolerance)
    benchmarks: dict[str, list[Metric]] = {}
    for metric in metrics:
        benchmarks.setdefault(metric.benchmark, []).append(metric)
    body = [
        _header(rows, baseline_rows, tolerance),
        _overview(rows, metrics, baseline_rows is not None),
        *(_benchmark(name, members) for name, members in benchmarks.items()),
        _table(metrics),
    ]
    return _PAGE.format(body="\n".join(body))


def _metrics(rows: list[dict], baseline_rows: list[dict], tolerance: Tolerance) -> list[Metric]:
    comparisons = {c.key: c for c in compare(rows, baseline_rows, tolerance)}
    baseline_groups = group(baseline_rows)
    metrics = []
    for key, members in group(rows).items():
        unit = members[0]["unit"]
        values = [row["value"] for row in members]
        verdicts = {row["slo"]["verdict"] for row in members}
        texts = dict.fromkeys(text for row in members for text in row["slo"]["thresholds"])
        metrics.append(
            Metric(
                key=key,
                benchmark=members[0]["benchmark"],
                unit=unit,
                values=values,
                summary=summarize(values),
                slo="fail" if "fail" in verdicts else "pass" if "pass" in verdicts else "none",
                thresholds=[t for t in (_threshold(text, unit) for text in texts) if t is not None],
                baseline_values=[_convert(row, unit) for row in baseline_groups.get(key, [])],
                comparison=comparisons.get(key),
            )
        )
    return metrics


def _threshold(text: str, unit: str) -> tuple[str, float] | None:
    """``("<=", 50000.0)`` from ``"read_clat_p99 <= 50000 us"``, in the metric's unit; None if not comparable."""
    _, op, limit, threshold_unit = text.split(" ", 3)
    if not units.comparable(threshold_unit, unit):
        return None
    return op, units.convert(float(limit), threshold_unit, unit)


def _convert(row: dict, unit: str) -> float:
    return units.convert(row["value"], row["unit"], unit)


# Page sections


def _header(rows: list[dict], baseline_rows: list[dict] | None, tolerance: Tolerance) -> str:
    runs = ", ".join(sorted({row["run_id"] for row in rows}))
    stamps = sorted(row["timestamp"] for row in rows)
    when = f"samples from {stamps[0]} to {stamps[-1]}" if stamps else "no samples"
    lines = ["<h1>pytest-telescope report</h1>", f"<p>Run {escape(runs or '-')}: {escape(when)}.</p>"]
    if baseline_rows is not None:
        baseline_runs = sorted({row["run_id"] for row in baseline_rows})
        lines.append(
            f"<p>Baseline: {len(baseline_rows)} samples from {len(baseline_runs)} run"
            f"{'s' if len(baseline_runs) != 1 else ''} ({escape(', '.join(baseline_runs))}); "
            f"tolerance {escape(str(tolerance))}.</p>"
        )
    return "\n".join(lines)


def _overview(rows: list[dict], metrics: list[Metric], with_baseline: bool) -> str:
    outcomes: dict[str, str] = {}
    for row in rows:
        outcomes[row["test"]] = row["outcome"]
    cards = [("Tests", _counts(outcomes.values(), ("passed", "failed", "skipped", "interrupted")))]
    slo = ["marginal" if m.marginal else m.slo for m in metrics if m.slo != "none"]
    cards.append(("SLO verdicts", _counts(slo, ("pass", "fail", "marginal"))))
    if with_baseline:
        verdicts = [m.comparison.verdict for m in metrics if m.comparison is not None]
        cards.append(("Against the baseline", _counts(verdicts, (REGRESSION, IMPROVEMENT, CHANGED, UNCHANGED))))
    items = "".join(f'<div class="card"><h2>{title}</h2>{counts}</div>' for title, counts in cards)
    return f'<section class="cards">{items}</section>'


def _counts(values: Iterable[str], order: tuple[str, ...]) -> str:
    values = list(values)
    cells = [
        f'<span class="count {name}"><b>{values.count(name)}</b> {plural(name, values.count(name))}</span>'
        for name in order
        if values.count(name) or name in order[:2]
    ]
    return "<p>" + " ".join(cells) + "</p>"


def _table(metrics: list[Metric]) -> str:
    header = "<tr><th>test</th><th>metric</th><th>median</th><th>95% CI</th><th>n</th><th>unit</th><th>SLO</th><th>baseline</th><th>change</th></tr>"
    lines = []
    for m in metrics:
        ci = "-" if m.summary.n == 1 else f"{_number(m.summary.low)} – {_number(m.summary.high)}"
        slo = "marginal" if m.marginal else m.slo
        slo_text = (
            "-" if m.slo == "none" else f"{slo} ({escape('; '.join(f'{op} {_number(v)}' for op, v in m.thresholds))})"
        )
        c = m.comparison
        base = (
            "-" if c is None else f'{_number(c.baseline.median)} <span class="verdict {c.verdict}">{c.verdict}</span>'
        )
        change = "-" if c is None or c.change is None else f"{c.change:+.1%}"
        attention = ' data-attention="1"' if m.needs_attention else ""
        title = f' title="{escape(c.message)}"' if c is not None else ""
        lines.append(
            f"<tr{attention}{title}><td>{escape(m.key.short_test)}</td><td>{escape(m.key.name)}</td>"
            f'<td class="num">{_number(m.summary.median)}</td><td class="num">{ci}</td><td class="num">{m.summary.n}</td>'
            f'<td>{escape(m.unit)}</td><td class="slo {slo}">{slo_text}</td><td class="num">{base}</td>'
            f'<td class="num">{change}</td></tr>'
        )
    control = '<label hidden><input type="checkbox" id="attention-only"> only failed SLOs, marginal ones and regressions</label>'
    return f'<h2>All metrics</h2>{control}<table id="metrics"><thead>{header}</thead><tbody>{"".join(lines)}</tbody></table>'


def _benchmark(name: str, metrics: list[Metric]) -> str:
    by_metric: dict[str, list[Metric]] = {}
    for metric in metrics:
        by_metric.setdefault(metric.key.metric, []).append(metric)
    functions = {m.key.short_test.split("[", 1)[0] for m in metrics}
    plots = "".join(
        f"<figure><figcaption>{escape(metric)} ({escape(members[0].unit)})</figcaption>"
        f"{_plot(members, shared_function=len(functions) == 1)}</figure>"
        for metric, members in by_metric.items()
    )
    return f'<section class="benchmark"><h2>{escape(name)}</h2>{_LEGEND}<div class="plots">{plots}</div></section>'


# The plot


@dataclass(frozen=True)
class _Scale:
    """Maps a metric's values to the plot's y coordinates; ``ticks`` span it."""

    ticks: list[float]

    def y(self, value: float) -> float:
        low, high = self.ticks[0], self.ticks[-1]
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value - low) / (high - low))


def _plot(metrics: list[Metric], *, shared_function: bool) -> str:
    """One metric across cases: this run's median, CI and samples, the baseline beside it, SLO limits as lines."""
    data = [v for m in metrics for v in (*m.values, m.summary.low, m.summary.high, *m.baseline_values)]
    data_high = max(*data, 0.0)
    on_scale = [limit for m in metrics for _, limit in m.thresholds if _on_scale(limit, data_high)]
    scale = _Scale(_ticks(min([0.0, *data, *on_scale]), max([data_high, *on_scale])))
    band = (WIDTH - LEFT - RIGHT) / len(metrics)
    bottom = HEIGHT - BOTTOM

    parts = []
    for tick in scale.ticks:
        parts.append(_line("grid", LEFT, WIDTH - RIGHT, scale.y(tick), scale.y(tick)))
        parts.append(_text("tick", LEFT - 6, scale.y(tick) + 4, _tick(tick), anchor="end"))
    labelled: set[tuple[str, float]] = set()
    off_scale: dict[tuple[str, float], None] = {}
    for index, m in enumerate(metrics):
        left, center = LEFT + band * index, LEFT + band * (index + 0.5)
        for op, limit in m.thresholds:
            if not _on_scale(limit, data_high):
                off_scale[(op, limit)] = None
                continue
            title = f"SLO {op} {_number(limit)} {m.unit}"
            parts.append(_line("slo", left + 3, left + band - 3, scale.y(limit), scale.y(limit), title))
            if (op, limit) not in labelled:
                labelled.add((op, limit))
                parts.append(_text("slo-label", left + 5, scale.y(limit) - 4, f"SLO {op} {_number(limit)}"))
        offset = min(12.0, band / 5) if m.baseline_values else 0.0
        if m.baseline_values:
            baseline = summarize(m.baseline_values)
            parts.append(_series(baseline, m.baseline_values, center + offset, scale, m.unit, "baseline"))
        kind = "failed" if m.slo == "fail" else "current"
        parts.append(_series(m.summary, m.values, center - offset, scale, m.unit, kind))
        c = m.comparison
        if c is not None and c.verdict != UNCHANGED:
            change = "" if c.change is None else f" {c.change:+.1%}"
            parts.append(
                _text(f"change {c.verdict}", center, TOP - 6, c.verdict + change, anchor="middle", title=c.message)
            )
        label = _category(m, shared_function)
        parts.append(
            _text("category", 0, 0, label, anchor="end", transform=f"translate({center:.1f},{bottom + 14}) rotate(-25)")
        )
    for op, limit in off_scale:
        parts.append(
            _text("slo-label", WIDTH - RIGHT, TOP - 20, f"SLO {op} {_number(limit)}: off the scale", anchor="end")
        )
    parts.append(_line("axis", LEFT, LEFT, TOP, bottom))
    parts.append(_line("axis", LEFT, WIDTH - RIGHT, bottom, bottom))
    middle = (TOP + bottom) / 2
    parts.append(
        _text("unit", 0, 0, metrics[0].unit, anchor="middle", transform=f"translate(16,{middle:.1f}) rotate(-90)")
    )
    return f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'


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
    title = (
        f"{'baseline' if kind == 'baseline' else 'this run'}: median {_number(summary.median)} {unit} of {summary.n}"
    )
    if summary.n > 1:
        title += f", 95% CI {_number(summary.low)} – {_number(summary.high)} ({summary.confidence:.0%})"
    return f'<g class="point"><title>{escape(title)}</title>{"".join(parts)}</g>'


def _line(css: str, x1: float, x2: float, y1: float, y2: float, title: str = "") -> str:
    tip = f"<title>{escape(title)}</title>" if title else ""
    return f'<line class="{css}" x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}">{tip}</line>'


def _text(
    css: str, x: float, y: float, text: str, *, anchor: str = "start", transform: str = "", title: str = ""
) -> str:
    place = f'transform="{transform}"' if transform else f'x="{x:.1f}" y="{y:.1f}"'
    tip = f"<title>{escape(title)}</title>" if title else ""
    return f'<text class="{css}" {place} text-anchor="{anchor}">{escape(text)}{tip}</text>'


def _category(metric: Metric, shared_function: bool) -> str:
    test = metric.key.short_test
    if shared_function and "[" in test:
        test = test.split("[", 1)[1].rstrip("]")
    labels = " ".join(f"{k}={v}" for k, v in metric.key.labels)
    return f"{test} {labels}".strip()


def _on_scale(limit: float, data_high: float) -> bool:
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


def _tick(value: float) -> str:
    if abs(value) >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:.6g}"


def _number(value: float) -> str:
    return f"{value:.6g}"


_LEGEND = (
    '<p class="legend"><svg width="14" height="14"><circle cx="7" cy="7" r="5" fill="#1f6feb"/></svg> this run (median; '
    "whisker: 95% CI; dots: repeats) "
    '<svg width="14" height="14"><path d="M7,1l6,6l-6,6l-6,-6z" fill="none" stroke="#8c959f" stroke-width="2"/></svg> baseline '
    '<svg width="24" height="14"><line x1="0" x2="24" y1="7" y2="7" stroke="#cf222e" stroke-width="2" stroke-dasharray="5 3"/></svg> SLO limit '
    '<svg width="14" height="14"><circle cx="7" cy="7" r="5" fill="#cf222e"/></svg> SLO failed</p>'
)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pytest-telescope report</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2328; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }} h2 {{ font-size: 17px; margin: 24px 0 8px; }}
.cards {{ display: flex; gap: 16px; flex-wrap: wrap; }}
.card {{ border: 1px solid #d0d7de; border-radius: 6px; padding: 4px 16px; min-width: 220px; }}
.card h2 {{ font-size: 14px; margin: 8px 0 0; color: #57606a; }}
.count {{ margin-right: 12px; }} .count b {{ font-size: 20px; }}
.failed b, .fail b, .regression b, .interrupted b {{ color: #cf222e; }} .passed b, .pass b, .improvement b {{ color: #1a7f37; }}
.marginal b, .changed b {{ color: #9a6700; }}
table {{ border-collapse: collapse; font-size: 13px; margin-top: 8px; }}
th, td {{ border-bottom: 1px solid #d8dee4; padding: 3px 10px; text-align: left; white-space: nowrap; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.slo.fail, .verdict.regression {{ color: #cf222e; font-weight: 600; }} td.slo.pass, .verdict.improvement {{ color: #1a7f37; }}
td.slo.marginal, .verdict.changed {{ color: #9a6700; font-weight: 600; }} .verdict.unchanged {{ color: #57606a; }}
tr[data-attention] td:first-child {{ box-shadow: inset 3px 0 #cf222e; }}
.plots {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 12px 20px; }}
figure {{ margin: 0; }} figcaption {{ font-weight: 600; }}
svg {{ max-width: 100%; height: auto; }}
svg text {{ font: 11px system-ui, sans-serif; fill: #57606a; }}
svg .grid {{ stroke: #eaeef2; }} svg .axis {{ stroke: #8c959f; }}
svg .slo {{ stroke: #cf222e; stroke-width: 2; stroke-dasharray: 6 4; }} svg .slo-label {{ fill: #cf222e; }}
svg .change {{ font-weight: 600; }} svg .change.regression {{ fill: #cf222e; }}
svg .change.improvement {{ fill: #1a7f37; }} svg .change.changed {{ fill: #9a6700; }}
svg .median.current {{ fill: #1f6feb; }} svg .median.failed {{ fill: #cf222e; }}
svg .median.baseline {{ fill: #fff; stroke: #8c959f; stroke-width: 2; }}
svg .sample.current, svg .sample.failed {{ fill: #1f6feb; opacity: .35; }} svg .sample.baseline {{ fill: #8c959f; opacity: .5; }}
svg .whisker {{ fill: none; stroke-width: 1.5; }} svg .whisker.current {{ stroke: #1f6feb; }}
svg .whisker.failed {{ stroke: #cf222e; }} svg .whisker.baseline {{ stroke: #8c959f; }}
.legend {{ color: #57606a; }} .legend svg {{ vertical-align: middle; margin-left: 8px; }}
</style>
</head>
<body>
{body}
<script>
"use strict";
const attentionOnly = document.getElementById("attention-only");
attentionOnly.parentElement.hidden = false;
attentionOnly.addEventListener("change", () => {{
  for (const row of document.querySelectorAll("#metrics tbody tr")) {{
    row.hidden = attentionOnly.checked && !row.dataset.attention;
  }}
}});
</script>
</body>
</html>
"""
