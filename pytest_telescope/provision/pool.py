"""The targets of one run: provisioned once, however many xdist workers ask, destroyed at the end.

The first process to need a target applies it under a file lock and the
others load its outputs; the process that owns the run (the xdist
controller, or the only process) destroys every target of the run at
session end, whether tests passed, failed or were interrupted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import socket
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from pytest_terraform import tf

from pytest_telescope.errors import ProvisionError, TelescopeError
from pytest_telescope.progress import Progress
from pytest_telescope.provision.applied import VARIABLES_FILE, AppliedModule, recorded_runner
from pytest_telescope.provision.runs import OWNER_FILE, check_run_id, locked, owner_alive, read_owner
from pytest_telescope.provision.terraform import (
    SHIPPED_MODULES,
    TerraformRunner,
    check_inputs,
    copy_module,
    failure_text,
    terraform_module,
)
from pytest_telescope.redact import Redactor
from pytest_telescope.samples import Sample
from pytest_telescope.targets import Connection, Target, TargetSpec, kubernetes, local

PROVIDERS = {"local": local, **kubernetes.PROVIDERS}
TIMINGS_FILE = "provisioning.json"  # what the apply measured, for the process that reports it
SLO_FILE = "provisioning-slo.json"


class TargetPool:
    """The targets of one run, kept in ``<state_root>/<run_id>/<target>/``.

    Each target directory holds the Terraform state, the variables it was
    applied with, and ``ready`` or ``failed``: all that a later destroy,
    another worker, or the janitor needs. Directories are private (0700):
    state can hold credentials. Scenarios whose settings need the same
    provisioning (a cluster of the same shape) share one directory, one
    target, and its lock.
    """

    def __init__(
        self,
        state_root: Path,
        run_id: str,
        terraform_dir: Path,
        progress: Progress,
        redactor: Redactor,
        deletion_delay: timedelta,
        owner_pid: int,
        kubeconfig: str | None = None,
    ):
        self.state_root = state_root
        self.run_dir = state_root / check_run_id(run_id)
        self.run_id = run_id
        self.terraform_dir = terraform_dir
        self.progress = progress
        self.redactor = redactor
        self.deletion_delay = deletion_delay
        self.owner_pid = owner_pid
        self.kubeconfig = kubeconfig
        self._targets: dict[TargetSpec, Target] = {}

    def refuse_if_in_use(self) -> None:
        """Two live runs under one id would destroy each other's targets."""
        owner = read_owner(self.run_dir)
        if owner.get("pid") != self.owner_pid and owner_alive(owner):
            raise ProvisionError(
                f"--telescope-run-id {self.run_id}: in use by a run still going on (pid {owner['pid']}); "
                "wait for it to end or choose another run id"
            )

    def get(self, spec: TargetSpec) -> Target:
        if spec not in self._targets:
            self._targets[spec] = self._load_or_provision(spec)
        return self._targets[spec]

    def directory(self, spec: TargetSpec) -> Path:
        """Where the target of ``spec`` is kept: named by what its provider provisions."""
        return self.run_dir / provisioned(spec).key

    @contextlib.contextmanager
    def exclusive(self, spec: TargetSpec) -> Iterator[None]:
        """Held by a test while it measures, so tests never share a target at once."""
        with locked(self.directory(spec) / "busy.lock"):
            yield

    def _load_or_provision(self, spec: TargetSpec) -> Target:
        provider = PROVIDERS[spec.cloud]
        due = self._claim_run_dir()
        directory = self.directory(spec)
        directory.mkdir(mode=0o700, exist_ok=True)
        connection = Connection(
            self.run_id, directory, self.deletion_delay, due, self.progress.echo, self.progress.say, self.kubeconfig
        )
        failures = (directory / "failed", directory / f"failed-{spec.key}")
        with locked(directory / "lock"):
            for failure in failures:
                _raise_if_failed_in_this_run(failure, self.owner_pid)
            try:
                if not (directory / "ready").exists():
                    self._provision(spec, provider, directory, connection)
                    (directory / "ready").touch()
                target = provider.connect(self._outputs(directory), spec.settings, connection)
                if not (directory / f"validated-{spec.key}").exists():
                    self._validate(spec, target)
                    (directory / f"validated-{spec.key}").touch()
            except TelescopeError as error:
                failure = failures[0] if not (directory / "ready").exists() else failures[1]
                failure.write_text(json.dumps({"owner_pid": self.owner_pid, "error": str(error)}))
                raise
        if getattr(target, "kubeconfig", None):
            self.redactor.add_kubeconfig(Path(target.kubeconfig).read_text())
        return target

    def _claim_run_dir(self) -> str:
        """Create the run's private directory and record who owns it, for the janitor.

        Returns the time after which the janitor may destroy what the run left.
        A run id reused to rerun on kept targets keeps its deletion time; the
        owner is the run that uses it now.
        """
        self.state_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.run_dir.mkdir(mode=0o700, exist_ok=True)
        owner = self.run_dir / OWNER_FILE
        with locked(self.run_dir / "lock"):
            now = datetime.now(timezone.utc)
            record = json.loads(owner.read_text()) if owner.exists() else {
                "created": now.isoformat(),
                "deletion_due_time": (now + self.deletion_delay).isoformat(),
            }
            record.update(pid=self.owner_pid, host=socket.gethostname())
            owner.write_text(json.dumps(record))
        return record["deletion_due_time"]

    def ships_module(self, cloud: str) -> bool:
        """Whether ``cloud``'s target is made by a module shipped with the plugin (not one of the user's)."""
        module = PROVIDERS[cloud].MODULE
        return module is not None and terraform_module(self.terraform_dir, module) == SHIPPED_MODULES / module

    def _outputs(self, directory: Path) -> dict:
        if not (directory / "terraform.tfstate").exists():
            return {}  # nothing was provisioned: a cluster of the user's own
        state = tf.TerraformState.from_file(str(directory / "terraform.tfstate"))
        self.redactor.add_sensitive_outputs(state.outputs)
        return {name: output["value"] for name, output in state.outputs.items()}

    def _provision(self, spec: TargetSpec, provider, directory: Path, connection: Connection) -> None:
        if provider.MODULE is None:
            return
        module_dir = copy_module(terraform_module(self.terraform_dir, provider.MODULE), directory / "terraform")
        # Unique per state directory too: a run id reused elsewhere must not name the same namespaces.
        name = hashlib.sha256(f"{directory.resolve()}".encode()).hexdigest()[:8]
        inputs = provider.provisioned(spec.settings)
        what = str(TargetSpec.of(spec.cloud, inputs))
        variables = provider.variables(name, inputs, connection)
        check_inputs(spec.cloud, inputs, variables, module_dir)
        (directory / "module").write_text(str(module_dir))
        (directory / "spec").write_text(what)
        (directory / VARIABLES_FILE).write_text(json.dumps(variables))
        runner = TerraformRunner(module_dir, directory / "work", variables, self.progress, what)
        with self.progress.phase("provision", what):
            try:
                runner.init()
                runner.apply()
            except subprocess.CalledProcessError as error:
                raise ProvisionError(failure_text(error, str(module_dir))) from None
            finally:  # a failed apply's durations are measurements too
                labels = {"cloud": spec.cloud, "module": module_dir.name}
                _write_samples(directory / TIMINGS_FILE, runner.samples("provision", labels))

    def _validate(self, spec: TargetSpec, target: Target) -> None:
        with self.progress.phase("validate", str(spec)):
            target.validate()
        self.progress.say(f"{spec}: {target.describe()}")

    def destroy_all(self, timings: dict[str, list[Sample]] | None = None) -> list[str]:
        """Destroy every target this run claimed; returns the errors, destroying the rest regardless.
        ``timings`` receives each target's destroy samples by its directory's name."""
        if read_owner(self.run_dir).get("pid") != self.owner_pid:
            return []
        return destroy_run(self.run_dir, self.progress, timings)

    def provisioned(self) -> list[Provisioned]:
        """The targets this run provisioned, whichever process did, with what their provisioning measured."""
        if not self.run_dir.is_dir():
            return []
        found = []
        for directory in sorted(p for p in self.run_dir.iterdir() if (p / TIMINGS_FILE).is_file()):
            thresholds = json.loads((directory / SLO_FILE).read_text()) if (directory / SLO_FILE).is_file() else []
            failure = directory / "failed"
            error = json.loads(failure.read_text())["error"] if failure.is_file() else None
            found.append(Provisioned(directory.name, _read_samples(directory / TIMINGS_FILE), thresholds, error))
        return found

    def applied_module(self, spec: TargetSpec) -> AppliedModule:
        """The Terraform module and state ``spec``'s target was applied with, to apply again with some of
        the scenario's inputs changed."""
        directory = self.directory(spec)
        if not (directory / "module").exists():
            raise ProvisionError(f"{spec}: not made by a Terraform module of this run (a cluster of your own): nothing to apply again")
        inputs = PROVIDERS[spec.cloud].provisioned(spec.settings)
        return AppliedModule(directory, self.progress, frozenset(inputs))

    def add_thresholds(self, spec: TargetSpec, thresholds: list[dict]) -> None:
        """Record thresholds on a target's provisioning (plain data: the controller judges them)."""
        path = self.directory(spec) / SLO_FILE
        with locked(self.directory(spec) / "lock"):
            known = json.loads(path.read_text()) if path.is_file() else []
            path.write_text(json.dumps(known + [t for t in thresholds if t not in known]))


def provisioned(spec: TargetSpec) -> TargetSpec:
    """What ``spec``'s provider provisions for it: tests whose specs provision the same share one target."""
    return TargetSpec.of(spec.cloud, PROVIDERS[spec.cloud].provisioned(spec.settings))


def _raise_if_failed_in_this_run(failure: Path, owner_pid: int) -> None:
    """The other processes of a run do not try again what failed for one of them. A later run
    that reuses the run id (to rerun on kept targets) does: the cause may be gone."""
    if failure.exists():
        record = json.loads(failure.read_text())
        if record["owner_pid"] == owner_pid:
            raise ProvisionError(record["error"])
        failure.unlink()


def destroy_run(run_dir: Path, progress: Progress, timings: dict[str, list[Sample]] | None = None) -> list[str]:
    """Destroy every target recorded in ``run_dir``; returns the errors, destroying the rest regardless.

    Only a directory a run created and recorded as its own (its owner file) is touched."""
    if not (run_dir / OWNER_FILE).is_file():
        return []
    errors = []
    for directory in sorted(p for p in run_dir.iterdir() if p.is_dir()):
        try:
            samples = destroy(directory, progress)
            if timings is not None:
                timings[directory.name] = samples
        except TelescopeError as error:
            errors.append(str(error))
    if not errors:
        shutil.rmtree(run_dir)
    return errors


def destroy(directory: Path, progress: Progress) -> list[Sample]:
    """Destroy the target recorded in ``directory`` and remove the directory; returns what the
    destroy measured (nothing for a target without Terraform state).

    A cluster's namespaces go first; if the cluster is then destroyed anyway,
    failing to reach it for that is no error.
    """
    samples = []
    with locked(directory / "lock"):
        provisioned = (directory / "terraform.tfstate").exists()
        try:
            if (directory / kubernetes.RECORD_FILE).exists():
                with progress.phase("destroy", f"namespaces of {directory.name}"):
                    kubernetes.teardown(directory)
        except TelescopeError as error:
            if not provisioned:
                raise ProvisionError(f"{error}\n  namespaces recorded in {directory / kubernetes.RECORD_FILE}") from None
        if not provisioned and (directory / VARIABLES_FILE).exists():
            provisioned = _recover(directory, progress)
        if provisioned:
            # A failure's text may quote the state's credentials, also when the janitor destroys.
            progress.hide(tf.TerraformState.from_file(str(directory / "terraform.tfstate")).outputs)
            runner, what = recorded_runner(directory, progress)
            with progress.phase("destroy", what):
                try:
                    runner.destroy()
                except subprocess.CalledProcessError as error:
                    raise ProvisionError(failure_text(error, runner.module_dir) + f"\n  state kept in {directory}") from None
            labels = {"cloud": what.split(" ", 1)[0], "module": Path(runner.module_dir).name}
            samples = runner.samples("destroy", labels)
    shutil.rmtree(directory)
    return samples


@dataclass(frozen=True)
class Provisioned:
    """A target as its provisioning left it: the samples it measured, thresholds on them, its error."""

    name: str
    samples: list[Sample]
    thresholds: list[dict]
    error: str | None


def _write_samples(path: Path, samples: list[Sample]) -> None:
    path.write_text(json.dumps([{"metric": s.metric, "value": s.value, "unit": s.unit, "labels": s.labels} for s in samples]))


def _read_samples(path: Path) -> list[Sample]:
    return [Sample(**fields) for fields in json.loads(path.read_text())]


def _recover(directory: Path, progress: Progress) -> bool:
    """An apply began (its variables are recorded) and Terraform died before it wrote any state:
    what it made is recorded nowhere. Applying again records it (a step that finds its resource
    already made may fail, the state keeps the rest), for the destroy that follows; returns
    whether there is state now."""
    runner, what = recorded_runner(directory, progress)
    with progress.phase("recover", f"{what} (Terraform ended before it wrote its state)"):
        try:
            runner.init()
            runner.apply()
        except subprocess.CalledProcessError:
            pass  # what it could not make again is in the state all the same, tainted
    return (directory / "terraform.tfstate").exists()
