"""The result rows: one per sample, as results.jsonl holds them and every report reads them."""

from __future__ import annotations

from datetime import datetime, timezone

SCHEMA_VERSION = 1
# The label every sample measured over a test's window carries (golden signals, a scenario's PromQL:
# measure/query.py), and no tool's own sample does: those are context, not the benchmark's result.
WINDOW_STATISTIC_LABEL = "statistic"


def measured_over_window(labels: dict) -> bool:
    return WINDOW_STATISTIC_LABEL in labels


def utc_now() -> str:
    """The time as rows carry it: UTC, to the millisecond, ending in Z."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rows(run_id: str, nodeid: str, outcome: str, data: dict) -> list[dict]:
    """One row per sample of a test's report data (``Recorder.to_report``).

    Schema: schema/result-row.schema.json.
    """
    common = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "test": nodeid,
        "cloud": data["cloud"],
        "benchmark": data["benchmark"],
        "case": data["case"],
        "params": data["params"],
        "outcome": outcome,
        "target": data["target"],
    }
    return [
        {
            **common,
            **({"histogram": sample["histogram"]} if "histogram" in sample else {}),
            "timestamp": sample["timestamp"],
            "repeat": sample["repeat"],
            "metric": sample["metric"],
            "value": sample["value"],
            "unit": sample["unit"],
            "better": sample["better"],
            "judged": sample["judged"],
            "labels": sample["labels"],
            "slo": sample["slo"],
        }
        for sample in data["samples"]
    ]
