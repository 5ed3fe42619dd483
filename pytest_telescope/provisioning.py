"""The targets' provisioning as tests of their own: ``telescope::provision[<target>]``.

Thresholds on ``provision_duration`` and its kin come from the scenarios of the suites that use a
target (collected by the process that collects); the process that uses a target writes them beside
its state, and the process that owns the run judges and publishes every target at the end, after
destroying them (``verdict/provisioning.py`` judges).
"""

from __future__ import annotations

import dataclasses

from pytest_telescope import scenario as scenarios
from pytest_telescope.provision.pool import Provisioned, TargetPool
from pytest_telescope.targets import TargetSpec
from pytest_telescope.verdict import provisioning


class ProvisioningTests:
    def __init__(self):
        self._thresholds: dict[TargetSpec, list] = {}  # from the scenarios, by target

    def add_thresholds(self, suite: scenarios.Scenario | None, specs: list[TargetSpec]) -> None:
        for spec in specs if suite else ():
            known = self._thresholds.setdefault(spec, [])
            known += [t for t in suite.provision_thresholds(spec.cloud) if t not in known]

    def record_thresholds(self, pool: TargetPool, spec: TargetSpec) -> None:
        """Beside the target's state, for the process that judges it."""
        if self._thresholds.get(spec):
            pool.add_thresholds(spec, [dataclasses.asdict(t) for t in self._thresholds[spec]])

    @staticmethod
    def publish(telescope, provisioned: list[Provisioned], timings: dict) -> bool:
        """Each target's apply and destroy in JSONL, JUnit and the report; False if one failed."""
        passed = True
        for target in provisioned:
            nodeid, samples = provisioning.nodeid(target.name), target.samples + timings.get(target.name, [])
            outcome, message, data = provisioning.judge(
                target.name, samples, target.thresholds, target.error, metrics=provisioning.METRICS,
                judged=provisioning.JUDGED, baseline_rows=telescope.baseline_by_test.get(nodeid, []), tolerance=telescope.tolerance,
            )
            telescope.ran_benchmarks = True
            telescope.publish_rows(nodeid, outcome, data)
            seconds = sum(s.value for s in samples if s.metric in provisioning.JUDGED)
            error = "ProvisionError" if target.error else None  # a target that did not provision: the infrastructure's
            telescope.junit.add_finished(nodeid, outcome, message, seconds, data["samples"], error)
            if message:
                telescope.progress.say(f"{nodeid} failed: {message}")
                passed = False
        return passed
