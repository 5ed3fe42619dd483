"""Provisioning as a benchmark: each target's apply and destroy durations, judged as a test of its own
(``provision[<target>]``) against the thresholds its suites set and the baseline."""

from __future__ import annotations

from typing import Collection, Mapping, Sequence

from pytest_telescope.history.baseline import BaselineRegression, Tolerance
from pytest_telescope.samples import LOWER, Metric, Sample
from pytest_telescope.verdict.recorder import Recorder
from pytest_telescope.verdict.slo import SLOViolation, Threshold


# What provisioning records of itself (provision/terraform.py): a scenario's SLOs may name these.
METRICS = {
    "provision_duration": Metric("s", LOWER),  # terraform init, plan and apply: what a run waits for its target
    "destroy_duration": Metric("s", LOWER),
    "resource_duration": Metric("s", LOWER),  # one resource's create, update or delete (labels address and action)
    "provision_retries": Metric("count", LOWER),  # transient errors retried (label cause: the last one's)
    "destroy_retries": Metric("count", LOWER),
}
# What a baseline judges: the totals. A resource's own time is shown, not judged: a cloud's API swings.
JUDGED = ("provision_duration", "destroy_duration")


def nodeid(target: str) -> str:
    """``telescope::provision[local]``: JUnit's test case ``provision[local]`` of the class ``telescope``."""
    return f"telescope::provision[{target}]"


def judge(
    target: str,
    samples: list[Sample],
    thresholds: list[dict],
    error: str | None,
    *,
    metrics: Mapping[str, Metric],
    judged: Collection[str],
    baseline_rows: Sequence[dict] = (),
    tolerance: Tolerance = Tolerance(),
) -> tuple[str, str | None, dict]:
    """(outcome, failure message or None, report data) of one target's provisioning. A failed apply fails
    its test with the apply's error; otherwise the thresholds and the baseline decide."""
    recorder = Recorder(
        cloud=samples[0].labels["cloud"] if samples else target.split("-", 1)[0],
        benchmark="provision",
        case=target,
        params={},
        thresholds=[Threshold(**{**fields, "clouds": tuple(fields.get("clouds", ()))}) for fields in thresholds],
        nodeid=nodeid(target),
        baseline_rows=baseline_rows,
        tolerance=tolerance,
        metrics=metrics,
        judged=judged,
    )
    recorder(samples)
    message = error
    if message is None:
        try:
            recorder.check()
        except (SLOViolation, BaselineRegression) as verdict:
            message = str(verdict)
    return ("failed" if message else "passed"), message, recorder.to_report()
