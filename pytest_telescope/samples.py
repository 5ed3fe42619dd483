"""The unit every tool, target and report agrees on: one measured value, and what its metric means."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pytest_telescope.errors import TelescopeError

HIGHER, LOWER, NEITHER = "higher", "lower", "neither"
DIRECTIONS = (HIGHER, LOWER, NEITHER)


@dataclass(frozen=True)
class Metric:
    """What a metric is measured in, and which way it is better.

    ``better`` is ``higher`` (a throughput), ``lower`` (a latency, an error
    count) or ``neither`` (a size of the workload, such as packets sent in a
    fixed time by a sender that is not limited): a change of such a metric is
    reported, never judged a regression.
    """

    unit: str
    better: str

    def __post_init__(self) -> None:
        if self.better not in DIRECTIONS:
            raise ValueError(f"better must be one of {', '.join(DIRECTIONS)}, got {self.better!r}")


@dataclass(frozen=True)
class Sample:
    """One measured value of a metric, with the unit it was measured in.

    ``labels`` tell apart samples of the same metric within one test
    (a fio job name, a Prometheus series). ``histogram`` carries the
    distribution a sample summarizes (``{"unit": ..., "buckets": [[low, high, count], ...]}``),
    for reports to draw.
    """

    metric: str
    value: float
    unit: str
    labels: dict[str, str] = field(default_factory=dict)
    histogram: dict | None = field(default=None, compare=False)

    def __post_init__(self):
        if isinstance(self.value, float) and not math.isfinite(self.value):
            # NaN in the JSONL is not JSON, and no threshold can judge it
            raise TelescopeError(f"sample {self.metric}: {self.value!r} is not a finite number")
