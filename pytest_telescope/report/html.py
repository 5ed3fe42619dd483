"""The HTML report: one static, self-contained file that a browser opens from disk.

A summary of tests, SLO verdicts and baseline verdicts; per benchmark the
plots of the metrics a baseline judges, those with thresholds first
(report/plot.py), and its kernel histograms (report/histogram.py), with the
tests' context (``rows.judged``: golden signals, ...) folded away below them;
and a table of every metric (median, 95% confidence interval, verdicts). The page loads nothing (its
Content-Security-Policy forbids it), and its one small script only adds a
filter to the tables.
"""

from __future__ import annotations

import re
from html import escape
from typing import Iterable

from pytest_telescope import units
from pytest_telescope.history.baseline import (
    VERDICTS,
    Tolerance,
    compare,
    group,
    plural,
)
from pytest_telescope.history.stats import summarize
from pytest_telescope.report.plot import Limit, Metric, number, plot
from pytest_telescope.rows import judged
from pytest_telescope.report import histogram

# The limit and unit of a threshold's text, as the suite wrote them: "read_clat_p99 <= 50 ms".
_THRESHOLD = re.compile(r" (?P<op>[<>]=) (?P<limit>\S+) (?P<unit>.+)$")


def render(
    rows: list[dict],
    baseline_rows: list[dict] | None = None,
    *,
    tolerance: Tolerance = Tolerance(),
    errors: Iterable[tuple[str, str]] = (),
) -> str:
    """The report of ``rows``, against ``baseline_rows`` when given; ``errors``: (test, message) of
    the tests that could not run or finish, apart from the benchmarks that failed."""
    errors = list(errors)
    metrics = _metrics(rows, baseline_rows or [], tolerance)
    benchmarks: dict[str, list[Metric]] = {}
    for metric in metrics:
        benchmarks.setdefault(metric.benchmark, []).append(metric)
    headline = [m for m in metrics if m.judged]
    context = [m for m in metrics if not m.judged]
    body = [
        _header(rows, baseline_rows, tolerance),
        _overview(rows, metrics, baseline_rows is not None, errors),
        _errors(errors),
        *(_benchmark(name, members, [r for r in rows if r["benchmark"] == name], baseline_rows is not None) for name, members in benchmarks.items()),
        '<h2>All metrics</h2><label hidden><input type="checkbox" id="attention-only"> only failed SLOs, marginal ones and regressions</label>',
        _table(headline, baseline_rows is not None),
        _folded(f"Context (not judged): {len(context)} metric{'s' if len(context) != 1 else ''}", _table(context, baseline_rows is not None), context) if context else "",
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
                limits=[limit for limit in (_limit(text, unit) for text in texts) if limit is not None],
                baseline_values=[_convert(row, unit) for row in baseline_groups.get(key, [])],
                comparison=comparisons.get(key),
                judged=judged(members[0]),
            )
        )
    return metrics


def _limit(text: str, unit: str) -> Limit | None:
    """The limit of ``"read_clat_p99 <= 50 ms"`` in the metric's unit; None if not comparable."""
    found = _THRESHOLD.search(text)
    if found is None or not units.comparable(found["unit"], unit):
        return None
    value = units.convert(float(found["limit"]), found["unit"], unit)
    return Limit(found["op"], value, f"{found['op']} {found['limit']} {found['unit']}")


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


def _overview(rows: list[dict], metrics: list[Metric], with_baseline: bool, errors: list[tuple[str, str]]) -> str:
    outcomes: dict[str, str] = {}
    for row in rows:
        outcomes[row["test"]] = row["outcome"]
    outcomes.update((test, "error") for test, _ in errors)
    cards = [("Tests", _counts(outcomes.values(), ("passed", "failed", "error", "skipped", "interrupted")))]
    slo = ["marginal" if m.marginal else m.slo for m in metrics if m.slo != "none"]
    cards.append(("SLO verdicts", _counts(slo, ("pass", "fail", "marginal"))))
    if with_baseline:
        verdicts = [m.comparison.verdict for m in metrics if m.comparison is not None]
        cards.append(("Against the baseline", _counts(verdicts, VERDICTS)))
    items = "".join(f'<div class="card"><h2>{title}</h2>{counts}</div>' for title, counts in cards)
    return f'<section class="cards">{items}</section>'


def _errors(errors: list[tuple[str, str]]) -> str:
    if not errors:
        return ""
    items = "".join(f"<li><code>{escape(test)}</code>: {escape(message)}</li>" for test, message in errors)
    return (
        '<section class="errors"><h2>Errors: the infrastructure, not the benchmarks</h2>'
        f"<p>These could not run or finish (a target that did not provision, validate or clean up):</p><ul>{items}</ul></section>"
    )


def _counts(values: Iterable[str], order: tuple[str, ...]) -> str:
    values = list(values)
    cells = [
        f'<span class="count {name}"><b>{values.count(name)}</b> {plural(name, values.count(name))}</span>'
        for name in order
        if values.count(name) or name in order[:2]
    ]
    return "<p>" + " ".join(cells) + "</p>"


def _table(metrics: list[Metric], with_baseline: bool) -> str:
    header = "<tr><th>test</th><th>metric</th><th>median</th><th>95% CI</th><th>n</th><th>unit</th><th>SLO</th>"
    header += (
        "<th>baseline median</th><th>change (95% CI)</th><th>tolerance</th><th>against the baseline</th></tr>"
        if with_baseline
        else "</tr>"
    )
    lines = []
    for m in metrics:
        ci = "-" if m.summary.n == 1 else f"{number(m.summary.low)} – {number(m.summary.high)}"
        slo = "marginal" if m.marginal else m.slo
        slo_text = "-" if m.slo == "none" else f"{slo} ({escape('; '.join(limit.text for limit in m.limits))})"
        c = m.comparison
        base = "-" if c is None else f"{number(c.baseline.median)} (n={c.baseline.n})"
        change = "-" if c is None else escape(c.change_text)
        tolerance = "-" if c is None else f"{c.tolerance:.0%}"
        verdict = "-" if c is None else f'<span class="verdict {c.verdict}">{c.verdict}</span> ({escape(c.reason)})'
        attention = ' data-attention="1"' if m.needs_attention else ""
        title = f' title="{escape(c.message)}"' if c is not None else ""
        lines.append(
            f"<tr{attention}{title}><td>{escape(m.key.short_test)}</td><td>{escape(m.key.name)}</td>"
            f'<td class="num">{number(m.summary.median)}</td><td class="num">{ci}</td><td class="num">{m.summary.n}</td>'
            f'<td>{escape(m.unit)}</td><td class="slo {slo}">{slo_text}</td>'
            + (
                f'<td class="num">{base}</td><td class="num">{change}</td><td class="num">{tolerance}</td><td>{verdict}</td>'
                if with_baseline
                else ""
            )
            + "</tr>"
        )
    return f'<table class="metrics"><thead>{header}</thead><tbody>{"".join(lines)}</tbody></table>'


def _benchmark(name: str, metrics: list[Metric], rows: list[dict], with_baseline: bool) -> str:
    """The plots of the judged metrics, those with thresholds first, and the histograms its rows carry;
    then its context folded."""
    by_metric: dict[str, list[Metric]] = {}
    for metric in sorted(metrics, key=lambda m: not m.limits):
        by_metric.setdefault(metric.key.metric, []).append(metric)
    figures = {
        metric: f"<figure><figcaption>{escape(metric)} ({escape(members[0].unit)})</figcaption>"
        f"{plot(members)}</figure>"
        for metric, members in by_metric.items()
    }
    headline = "".join(figure for metric, figure in figures.items() if by_metric[metric][0].judged)
    context = [m for m in metrics if not m.judged]
    folded = "".join(figure for metric, figure in figures.items() if not by_metric[metric][0].judged)
    return (
        f'<section class="benchmark"><h2>{escape(name)}</h2>{_legend(with_baseline)}<div class="plots">{headline}{histogram.figures(rows)}</div>'
        + (_folded(f"Context of {name} (not judged)", f'<div class="plots">{folded}</div>', context) if context else "")
        + "</section>"
    )


def _folded(title: str, content: str, metrics: list[Metric]) -> str:
    """Folded away, unless one of its metrics needs attention."""
    attention = sum(m.needs_attention for m in metrics)
    summary = escape(title) + (f": {attention} need{'s' if attention == 1 else ''} attention" if attention else "")
    return f'<details{" open" if attention else ""}><summary>{summary}</summary>{content}</details>'


def _legend(with_baseline: bool) -> str:
    baseline = (
        '<svg width="14" height="14"><path d="M7,1l6,6l-6,6l-6,-6z" fill="none" stroke="#8c959f" stroke-width="2"/></svg> baseline '
        if with_baseline
        else ""
    )
    return (
        '<p class="legend"><svg width="14" height="14"><circle cx="7" cy="7" r="5" fill="#1f6feb"/></svg> this run (median; '
        f"whisker: 95% CI; dots: repeats) {baseline}"
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
td.slo.marginal, .verdict.changed {{ color: #9a6700; font-weight: 600; }} .verdict.unchanged, .verdict.inconclusive {{ color: #57606a; }}
tr[data-attention] td:first-child {{ box-shadow: inset 3px 0 #cf222e; }}
.plots {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px 20px; }}
details {{ margin: 12px 0; }} summary {{ cursor: pointer; font-weight: 600; color: #57606a; }}
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
svg .bar {{ fill: #1f6feb; }} svg .bar:hover {{ fill: #0a3069; }}
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
  for (const row of document.querySelectorAll("table.metrics tbody tr")) {{
    row.hidden = attentionOnly.checked && !row.dataset.attention;
  }}
}});
</script>
</body>
</html>
"""
