"""Provision targets with Terraform: once per run, however many xdist workers ask.

Built on pytest-terraform's runner (init, plan, apply, destroy with an
explicit state file, destroy of a half-applied plan) and its state reader.
Its session fixtures are not used: under xdist they race at teardown, so
the lifecycle is ours. The first process to need a target applies it under
a file lock and the others load its outputs; the process that owns the run
(the xdist controller, or the only process) destroys every target of the
run at session end, whether tests passed, failed or were interrupted.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from pytest_terraform import tf

from pytest_telescope import process
from pytest_telescope.errors import ProvisionError, TelescopeError
from pytest_telescope.progress import Progress
from pytest_telescope.redact import Redactor
from pytest_telescope.targets import Connection, Target, TargetSpec, kubernetes, local

PROVIDERS = {"local": local, **kubernetes.PROVIDERS}
OWNER_FILE = "owner.json"
# A run id names a directory under the state and results directories: a name, never a path.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SHIPPED_MODULES = Path(__file__).resolve().parents[1] / "terraform"
TERRAFORM_HINT = "install Terraform >= 1.5 or OpenTofu and put it on PATH"


def check_run_id(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        raise ProvisionError(
            f"--telescope-run-id: {run_id!r} is not a run id: up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return run_id


def read_owner(run_dir: Path) -> dict:
    """Who owns a run's state directory (pid, host, deletion_due_time); empty when it is not a run's."""
    try:
        return json.loads((run_dir / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return {}


def owner_alive(owner: dict) -> bool:
    if owner.get("host") != socket.gethostname() or "pid" not in owner:
        return False
    try:
        cmdline = Path(f"/proc/{owner['pid']}/cmdline").read_bytes()
    except OSError:
        return False
    return b"pytest" in cmdline or b"python" in cmdline


def terraform_binary() -> str:
    for name in ("terraform", "tofu"):
        if shutil.which(name):
            return shutil.which(name)
    raise ProvisionError(f"terraform: not found on PATH; {TERRAFORM_HINT}")


def terraform_module(terraform_dir: Path, name: str) -> Path:
    """The module ``name`` of the user's Terraform directory, or else the one shipped with the plugin."""
    own = terraform_dir / name
    return own if own.is_dir() else SHIPPED_MODULES / name


class TerraformRunner(tf.TerraformRunner):
    """pytest-terraform's runner, fed our variables, with live output and its 0.7.0 defect fixed."""

    def __init__(self, module_dir: Path, work_dir: Path, variables: dict, progress: Progress, what: str):
        super().__init__(str(work_dir.resolve()), module_dir=str(module_dir.resolve()), tf_bin=terraform_binary())
        self.variables = variables
        self.progress = progress
        self.what = what

    def init(self):
        # pytest-terraform 0.7.0 expects `init` to create the work dir; with only
        # built-in providers it does not, and `plan` then fails on the state lock.
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)
        super().init()

    def _run_cmd(self, args, output=False):
        env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_DATA_DIR": self.work_dir, "TF_INPUT": "0"}
        env.update({f"TF_VAR_{name}": _tf_value(value) for name, value in self.variables.items()})
        step = f"terraform {args[1]}"
        completed = process.run(
            args,
            cwd=self.module_dir,
            env=env,
            check=False,
            echo=None if output else self.progress.echo,
            heartbeat=self.progress.heartbeat(step, self.what),
            die_with_us=False,
        )
        if completed.returncode != 0:
            raise subprocess.CalledProcessError(completed.returncode, args, completed.stdout, completed.stderr)
        return completed.stdout.encode()


def _tf_value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _failure(error: subprocess.CalledProcessError, module_dir: str) -> str:
    lines = (error.stderr or error.stdout or "").strip().splitlines()
    tail = "\n".join("    " + line for line in lines[-12:])
    return f"{Path(error.cmd[0]).name} {error.cmd[1]} failed (status {error.returncode}) in {module_dir}\n{tail}"


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
        provisioned = PROVIDERS[spec.cloud].provisioned(spec.settings)
        return self.run_dir / TargetSpec.of(spec.cloud, provisioned).key

    @contextlib.contextmanager
    def exclusive(self, spec: TargetSpec) -> Iterator[None]:
        """Held by a test while it measures, so tests never share a target at once."""
        with _locked(self.directory(spec) / "busy.lock"):
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
        with _locked(directory / "lock"):
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
        for directory in (self.state_root, self.run_dir):
            directory.mkdir(mode=0o700, exist_ok=True)
        owner = self.run_dir / OWNER_FILE
        with _locked(self.run_dir / "lock"):
            now = datetime.now(timezone.utc)
            record = json.loads(owner.read_text()) if owner.exists() else {
                "created": now.isoformat(),
                "deletion_due_time": (now + self.deletion_delay).isoformat(),
            }
            record.update(pid=self.owner_pid, host=socket.gethostname())
            owner.write_text(json.dumps(record))
        return record["deletion_due_time"]

    def _outputs(self, directory: Path) -> dict:
        if not (directory / "terraform.tfstate").exists():
            return {}  # nothing was provisioned: a cluster of the user's own
        state = tf.TerraformState.from_file(str(directory / "terraform.tfstate"))
        self.redactor.add_sensitive_outputs(state.outputs)
        return {name: output["value"] for name, output in state.outputs.items()}

    def _provision(self, spec: TargetSpec, provider, directory: Path, connection: Connection) -> None:
        if provider.MODULE is None:
            return
        module_dir = terraform_module(self.terraform_dir, provider.MODULE)
        name = hashlib.sha256(f"{self.run_id}/{directory.name}".encode()).hexdigest()[:8]
        inputs = provider.provisioned(spec.settings)
        what = str(TargetSpec.of(spec.cloud, inputs))
        variables = provider.variables(name, inputs, connection)
        _check_inputs(spec.cloud, inputs, variables, module_dir)
        (directory / "module").write_text(str(module_dir))
        (directory / "spec").write_text(what)
        (directory / "variables.json").write_text(json.dumps(variables))
        runner = TerraformRunner(module_dir, directory / "work", variables, self.progress, what)
        with self.progress.phase("provision", what):
            try:
                runner.init()
                runner.apply()
            except subprocess.CalledProcessError as error:
                raise ProvisionError(_failure(error, str(module_dir))) from None

    def _validate(self, spec: TargetSpec, target: Target) -> None:
        with self.progress.phase("validate", str(spec)):
            target.validate()
        self.progress.say(f"{spec}: {target.describe()}")

    def destroy_all(self) -> list[str]:
        """Destroy every target this run claimed; returns the errors, destroying the rest regardless."""
        if read_owner(self.run_dir).get("pid") != self.owner_pid:
            return []
        return destroy_run(self.run_dir, self.progress)


def _raise_if_failed_in_this_run(failure: Path, owner_pid: int) -> None:
    """The other processes of a run do not try again what failed for one of them. A later run
    that reuses the run id (to rerun on kept targets) does: the cause may be gone."""
    if failure.exists():
        record = json.loads(failure.read_text())
        if record["owner_pid"] == owner_pid:
            raise ProvisionError(record["error"])
        failure.unlink()


def _check_inputs(cloud: str, inputs: dict, variables: dict, module_dir: Path) -> None:
    """Terraform ignores a TF_VAR_ its module does not declare: a misspelt input would silently leave
    the module's default (a cluster of another shape). And the plugin's own inputs are not the scenario's."""
    declared = set(re.findall(r'^variable\s+"([^"]+)"', "\n".join(p.read_text() for p in module_dir.glob("*.tf")), re.M))
    where = f"target.{cloud}" if cloud == "local" else f"target.{cloud}.cluster"
    for name in variables:
        if name not in declared:
            raise ProvisionError(f"{where}.{name}: not a variable of {module_dir} (it has: {', '.join(sorted(declared))})")
    for name in inputs:
        if variables[name] != inputs[name]:
            raise ProvisionError(f"{where}.{name}: set by the plugin for every run, not by a scenario")


def destroy_run(run_dir: Path, progress: Progress) -> list[str]:
    """Destroy every target recorded in ``run_dir``; returns the errors, destroying the rest regardless.

    Only a directory a run created and recorded as its own (its owner file) is touched."""
    if not (run_dir / OWNER_FILE).is_file():
        return []
    errors = []
    for directory in sorted(p for p in run_dir.iterdir() if p.is_dir()):
        try:
            destroy(directory, progress)
        except TelescopeError as error:
            errors.append(str(error))
    if not errors:
        shutil.rmtree(run_dir)
    return errors


def destroy(directory: Path, progress: Progress) -> None:
    """Destroy the target recorded in ``directory`` and remove the directory.

    A cluster's namespaces go first; if the cluster is then destroyed anyway,
    failing to reach it for that is no error.
    """
    with _locked(directory / "lock"):
        provisioned = (directory / "terraform.tfstate").exists()
        try:
            if (directory / kubernetes.RECORD_FILE).exists():
                with progress.phase("destroy", f"namespaces of {directory.name}"):
                    kubernetes.teardown(directory)
        except TelescopeError as error:
            if not provisioned:
                raise ProvisionError(f"{error}\n  namespaces recorded in {directory / kubernetes.RECORD_FILE}") from None
        if provisioned:
            module_dir = Path((directory / "module").read_text())
            variables = json.loads((directory / "variables.json").read_text())
            what = (directory / "spec").read_text()
            runner = TerraformRunner(module_dir, directory / "work", variables, progress, what)
            with progress.phase("destroy", what):
                try:
                    runner.destroy()
                except subprocess.CalledProcessError as error:
                    raise ProvisionError(_failure(error, str(module_dir)) + f"\n  state kept in {directory}") from None
    shutil.rmtree(directory)


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d``, ``30s`` (as Terraform and Telescope write a deletion delay)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if match is None:
        raise ProvisionError(f"telescope_deletion_delay: {text!r} is not a duration like 90m, 2h or 1d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit: float(match[1])})


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
