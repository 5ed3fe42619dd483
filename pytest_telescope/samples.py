"""The unit every tool, target and report agrees on: one measured value."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sample:
    """One measured value of a metric, with the unit it was measured in.

    ``labels`` tell apart samples of the same metric within one test
    (a fio job name, a Prometheus series).
    """

    metric: str
    value: float
    unit: str
    labels: dict[str, str] = field(default_factory=dict)
