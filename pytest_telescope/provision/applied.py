"""A provisioned target's Terraform module, applied again with some of its variables changed.

A suite that measures changes to its target (the cluster CRUD suite: a node pool created,
scaled and deleted) applies the module copy, the state and the work directory the target was
provisioned with (``pool``): the run's destroy then removes whatever the changes made. The
variables of the last apply are recorded in their place, for the destroy and for the next
change; those the target was provisioned with are kept beside them, for ``restore``.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pytest_telescope.errors import ProvisionError
from pytest_telescope.progress import Progress
from pytest_telescope.provision.runs import locked
from pytest_telescope.provision.terraform import ResourceChange, TerraformRunner, check_declared, failure_text

VARIABLES_FILE = "variables.json"
PROVISIONED_FILE = "variables-provisioned.json"


@dataclass(frozen=True)
class Applied:
    """What one apply timed: Terraform's plan and apply together, and each resource it changed."""

    seconds: float
    resources: tuple[ResourceChange, ...]


class ApplyFailed(ProvisionError):
    """An apply failed; ``applied`` is what it timed until then."""

    def __init__(self, message: str, applied: Applied):
        super().__init__(message)
        self.applied = applied


def recorded_runner(directory: Path, progress: Progress) -> tuple[TerraformRunner, str]:
    """The runner of the module, variables and target that ``directory`` records."""
    module_dir = Path((directory / "module").read_text())
    variables = json.loads((directory / VARIABLES_FILE).read_text())
    what = (directory / "spec").read_text()
    return TerraformRunner(module_dir, directory / "work", variables, progress, what), what


class AppliedModule:
    """The module and state of the target kept in ``directory``. ``inputs`` names the scenario's
    inputs to the module: the plugin sets the other variables it was provisioned with (the
    cluster's name, the run id...) for every run, and no suite changes those."""

    def __init__(self, directory: Path, progress: Progress, inputs: frozenset[str]):
        self.directory = directory
        self.progress = progress
        self.inputs = inputs

    @property
    def variables(self) -> dict:
        """The variables of the last apply."""
        return json.loads((self.directory / VARIABLES_FILE).read_text())

    @property
    def provisioned(self) -> dict:
        """The variables the target was provisioned with."""
        kept = self.directory / PROVISIONED_FILE
        return json.loads((kept if kept.exists() else self.directory / VARIABLES_FILE).read_text())

    def apply(self, **changes) -> Applied:
        """Apply the module again with ``changes`` to its variables; raises ``ApplyFailed``."""
        check_declared(changes, Path((self.directory / "module").read_text()))
        owned = self.provisioned.keys() - self.inputs
        for name in changes:
            if name in owned:
                raise ProvisionError(f"{name}: set by the plugin for every run, not by a suite")
        return self._apply({**self.variables, **changes}, f"with {', '.join(sorted(changes))} changed")

    def restore(self) -> Applied | None:
        """Apply the variables the target was provisioned with, if they were changed; None if not."""
        if self.provisioned == self.variables:
            return None
        return self._apply(self.provisioned, "as it was provisioned")

    def _apply(self, variables: dict, how: str) -> Applied:
        with locked(self.directory / "lock"):  # no other process reads the outputs meanwhile
            if not (self.directory / PROVISIONED_FILE).exists():
                (self.directory / PROVISIONED_FILE).write_text((self.directory / VARIABLES_FILE).read_text())
            # Recorded before the apply: after a failure too, the state holds what these variables made.
            (self.directory / VARIABLES_FILE).write_text(json.dumps(variables))
            runner, what = recorded_runner(self.directory, self.progress)
            with self.progress.phase("apply", f"{what} {how}"):
                try:
                    runner.apply()
                except subprocess.CalledProcessError as error:
                    raise ApplyFailed(failure_text(error, runner.module_dir), _timed(runner)) from None
        return _timed(runner)


def _timed(runner: TerraformRunner) -> Applied:
    return Applied(sum(runner.seconds.get(step, 0.0) for step in ("plan", "apply")), tuple(runner.resources))
