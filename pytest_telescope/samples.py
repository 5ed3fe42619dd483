"""The unit every tool, target and report agrees on: one measured value."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pytest_telescope.errors import TelescopeError


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

    def __post_init__(self):
        if isinstance(self.value, float) and not math.isfinite(self.value):
            # NaN in the JSONL is not JSON, and no threshold can judge it
            raise TelescopeError(f"sample {self.metric}: {self.value!r} is not a finite number")
