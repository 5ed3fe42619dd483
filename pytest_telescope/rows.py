"""The result rows: one per sample, as results.jsonl holds them and every report reads them."""

from __future__ import annotations

from datetime import datetime, timezone

SCHEMA_VERSION = 1


def judged(row: dict) -> bool:
    """Whether a baseline judges the row's metric: the benchmark's own (its tool's ``METRICS``) and those
    its scenario opts in. The rest is the test's context: golden signals, a scenario's PromQL, kernel
    histograms, a resource's own provisioning time; so is a row written before rows said."""
    return bool(row.get("judged"))


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
