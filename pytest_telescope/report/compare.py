"""telescope compare A B: every metric of run B against run A, and whether B regressed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from pytest_telescope.history import baseline
from pytest_telescope.history.baseline import REGRESSION, Comparison, Tolerance
from pytest_telescope.history.stats import Summary
from pytest_telescope.report import html

EXIT_REGRESSION = 1
EXIT_UNUSABLE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", type=Path, help="the baseline: a results.jsonl, or a directory of runs")
    parser.add_argument("b", type=Path, help="the run to judge: a results.jsonl, or a directory of runs")
    parser.add_argument(
        "--tolerance",
        default=f"{baseline.DEFAULT_TOLERANCE:.0%}",
        help="allowed change before B counts as worse or better: 5%%, or 5%%,read_clat_p99=20%% (default: %(default)s)",
    )
    parser.add_argument("--html", type=Path, help="also write a self-contained HTML report of B against A here")


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    """0 when B has no regression, 1 when it has, 2 when the input cannot be used."""
    try:
        tolerance = Tolerance.parse(args.tolerance)
        rows_b = baseline.load(args.b)
        runs_b = {row.get("run_id") for row in rows_b}
        # A run is never its own baseline, e.g. when A is the results directory that holds B.
        rows_a = [row for row in baseline.load(args.a) if row.get("run_id") not in runs_b]
    except (ValueError, baseline.BaselineError) as error:
        print(f"telescope compare: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    comparisons = baseline.compare(rows_b, rows_a, tolerance)
    for line in table(comparisons):
        out(line)
    keys_a, keys_b = set(baseline.group(rows_a)), set(baseline.group(rows_b))
    out(totals(comparisons, only_a=len(keys_a - keys_b), only_b=len(keys_b - keys_a)))
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(html.render(rows_b, rows_a, tolerance=tolerance), encoding="utf-8")
        out(f"report: {args.html}")
    return EXIT_REGRESSION if any(c.verdict == REGRESSION for c in comparisons) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="telescope compare", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def table(comparisons: list[Comparison]) -> list[str]:
    """One line per metric: test, metric, the medians of A and B with their n, unit, change with
    its 95% interval, tolerance, the Mann-Whitney p-value, verdict."""
    header = ("test", "metric", "A median", "B median", "unit", "change", "95% CI", "tolerance", "p", "verdict")
    body = [
        (
            c.key.short_test,
            c.key.name,
            _value(c.baseline),
            _value(c.current),
            c.unit,
            "-" if c.change is None else f"{c.change:+.1%}",
            "-" if c.interval is None else f"{c.interval[0]:+.1%} to {c.interval[1]:+.1%}",
            f"{c.tolerance:.0%}",
            "-" if c.p_value is None else f"{c.p_value:.3f}",
            (c.verdict.upper() if c.verdict == REGRESSION else c.verdict) + (" (n=1)" if _single(c) else ""),
        )
        for c in comparisons
    ]
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    right = {2, 3, 5, 6, 7, 8}
    lines = [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(cells)
        ).rstrip()
        for cells in [header, *body]
    ]
    lines.insert(1, "-" * len(lines[0]))
    return lines


def totals(comparisons: list[Comparison], *, only_a: int, only_b: int) -> str:
    counts = {verdict: 0 for verdict in baseline.VERDICTS}
    for comparison in comparisons:
        counts[comparison.verdict] += 1
    parts = [f"{count} {baseline.plural(verdict, count)}" for verdict, count in counts.items()]
    return f"{len(comparisons)} metrics compared: {', '.join(parts)}; {only_a} only in A, {only_b} only in B"


def _value(summary: Summary) -> str:
    return f"{summary.median:.6g} (n={summary.n})"


def _single(comparison: Comparison) -> bool:
    return comparison.verdict == baseline.INCONCLUSIVE and comparison.p_value is None


if __name__ == "__main__":
    sys.exit(main())
