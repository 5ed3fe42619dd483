"""The table of metrics and SLO verdicts at the end of a run."""

from __future__ import annotations

from typing import Callable

MAX_ROWS = 60


def table(rows: list[dict], results_path: str, total: int | None = None) -> list[str]:
    """Lines of a left-aligned table: test, metric, value, unit, SLO.

    ``rows`` may be only the first ``MAX_ROWS`` of a run's ``total`` rows: the table shows
    no more, so a run need not keep every row until it ends.
    """
    total = len(rows) if total is None else total
    header = ("test", "metric", "value", "unit", "SLO")
    body = [
        (
            row["test"].rsplit("::", 1)[-1],
            row["metric"] + "".join(f" {k}={v}" for k, v in sorted(row["labels"].items())),
            f"{row['value']:.6g}",
            row["unit"],
            _slo(row["slo"]),
        )
        for row in rows[:MAX_ROWS]
    ]
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    align: list[Callable[[str, int], str]] = [str.ljust, str.ljust, str.rjust, str.ljust, str.ljust]
    lines = ["  ".join(align[i](cells[i], widths[i]) for i in range(len(cells))).rstrip() for cells in [header, *body]]
    lines.insert(1, "-" * len(lines[0]))
    if total > MAX_ROWS:
        lines.append(f"... {total - MAX_ROWS} more rows in {results_path}")
    return lines


def _slo(slo: dict) -> str:
    if slo["verdict"] == "none":
        return "-"
    return f"{slo['verdict'].upper()} ({'; '.join(t.split(' ', 1)[1] for t in slo['thresholds'])})"
