"""The table of results at the end of a run.

Per test, the metrics a baseline judges with their SLO (and baseline) verdicts
first; its context (``rows.judged``: golden signals, kernel histograms, ...)
in one line, and in full only those that failed. Beyond
``MAX_ROWS`` rows the rest is left to results.jsonl, but never a failing row.
"""

from __future__ import annotations

from typing import Callable, Iterable

from pytest_telescope.history.baseline import REGRESSION, UNCHANGED, Comparison, by_test, key
from pytest_telescope.rows import judged

MAX_ROWS = 60


class Shown:
    """What the table shows of a run, kept as its rows are written, so that a long run need not
    keep every row: the first ``MAX_ROWS`` rows a baseline judges, every row that failed its SLO,
    and per test a count of its context's samples."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.context: dict[str, list[int]] = {}  # test: [samples, failed]
        self.left_out = 0
        self.total = 0

    def add(self, written: Iterable[dict]) -> None:
        for row in written:
            self.total += 1
            failed = row["slo"]["verdict"] == "fail"
            headline = judged(row)
            if not headline:
                counts = self.context.setdefault(row["test"], [0, 0])
                counts[0] += 1
                counts[1] += failed
            if failed or (headline and len(self.rows) < MAX_ROWS):
                self.rows.append(row)
            elif headline:
                self.left_out += 1


def table(shown: Shown, results_path: str, comparisons: Iterable[Comparison] = ()) -> list[str]:
    """Lines of a left-aligned table: test, metric, value, unit, SLO (and baseline, when given)."""
    against = {c.key: c for c in comparisons}
    header = ("test", "metric", "value", "unit", "SLO", *(("baseline",) if against else ()))
    body: list[tuple[str, ...]] = []
    for test, members in by_test(shown.rows).items():
        name = test.rsplit("::", 1)[-1]
        headline = [row for row in members if judged(row)]
        body += [_cells(name, row, against) for row in headline + [row for row in members if row not in headline]]
        samples, failed = shown.context.get(test, (0, 0))
        if samples:
            verdict = f"{failed} failed (above)" if failed else "-"
            body.append((name, "context (not judged)", str(samples), "samples", verdict, *(("",) if against else ())))
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    align: list[Callable[[str, int], str]] = [str.ljust, str.ljust, str.rjust, str.ljust, str.ljust, str.ljust]
    lines = ["  ".join(align[i](cells[i], widths[i]) for i in range(len(cells))).rstrip() for cells in [header, *body]]
    lines.insert(1, "-" * len(lines[0]))
    if shown.left_out:
        lines.append(f"... {shown.left_out} more rows in {results_path}")
    return lines


def _cells(test: str, row: dict, against: dict) -> tuple[str, ...]:
    cells = (
        test,
        row["metric"] + "".join(f" {k}={v}" for k, v in sorted(row["labels"].items())),
        f"{row['value']:.6g}",
        row["unit"],
        _slo(row["slo"]),
    )
    if not against:
        return cells
    comparison = against.get(key(row))
    if comparison is None or comparison.verdict == UNCHANGED:
        return (*cells, "-" if comparison is None else UNCHANGED)
    change = "" if comparison.change is None else f" ({comparison.change:+.1%})"
    return (*cells, f"{comparison.verdict.upper() if comparison.verdict == REGRESSION else comparison.verdict}{change}")


def _slo(slo: dict) -> str:
    if slo["verdict"] == "none":
        return "-"
    return f"{slo['verdict'].upper()} ({'; '.join(t.split(' ', 1)[1] for t in slo['thresholds'])})"
