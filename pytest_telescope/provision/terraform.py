"""Terraform, through pytest-terraform's runner: init, apply and destroy of one module.

Built on pytest-terraform's runner (init, plan, apply, destroy with an
explicit state file, destroy of a half-applied plan) and its state reader.
Its session fixtures are not used: under xdist they race at teardown, so
the lifecycle is ours (``pool``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from pytest_terraform import tf

from pytest_telescope import process
from pytest_telescope.errors import ProvisionError
from pytest_telescope.progress import Progress
from pytest_telescope.provision import transient
from pytest_telescope.samples import Sample

TERRAFORM_HINT = "install Terraform >= 1.5 or OpenTofu and put it on PATH"
SHIPPED_MODULES = Path(__file__).resolve().parents[1] / "terraform"


def terraform_binary() -> str:
    for name in ("terraform", "tofu"):
        if shutil.which(name):
            return shutil.which(name)
    raise ProvisionError(f"terraform: not found on PATH; {TERRAFORM_HINT}")


def terraform_module(terraform_dir: Path, name: str) -> Path:
    """The module ``name`` of the user's Terraform directory, or else the one shipped with the plugin."""
    own = terraform_dir / name
    return own if own.is_dir() else SHIPPED_MODULES / name


def copy_module(module_dir: Path, into: Path) -> Path:
    """A copy of ``module_dir`` and its sibling modules (for ``../modules/<name>`` sources) under ``into``:
    Terraform runs there, so that ``init`` writes its lock file and data beside the target's state, never
    into the modules (the installed package, or the user's directory); and a destroy later uses the
    module that applied, whatever happened to the original since."""
    shutil.copytree(module_dir.parent, into, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"), dirs_exist_ok=True)
    return into / module_dir.name


class ResourceChange(NamedTuple):
    """One resource a Terraform apply or destroy changed."""

    address: str
    action: str  # create, update, delete...
    seconds: float  # from its apply_start to its apply_complete
    started: float  # its apply_start, seconds since the epoch


class TerraformRunner(tf.TerraformRunner):
    """pytest-terraform's runner, fed our variables, with live output and its 0.7.0 defect fixed."""

    def __init__(self, module_dir: Path, work_dir: Path, variables: dict, progress: Progress, what: str):
        super().__init__(str(work_dir.resolve()), module_dir=str(module_dir.resolve()), tf_bin=terraform_binary())
        self.variables = variables
        self.progress = progress
        self.what = what
        self.seconds: dict[str, float] = {}  # by command: init, plan, apply, destroy
        self.resources: list[ResourceChange] = []
        self.retries: dict[str, list[str]] = {}  # by command: the transient cause of each retry

    def init(self):
        # pytest-terraform 0.7.0 expects `init` to create the work dir; with only
        # built-in providers it does not, and `plan` then fails on the state lock.
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)
        super().init()

    def _run_cmd(self, args, output=False):
        """Runs a Terraform command; one that failed for a while only (``transient``) runs again, later."""
        for retry, delay in enumerate((*transient.RETRY_DELAYS, None), 1):
            try:
                return self._run_once(args, output)
            except subprocess.CalledProcessError as error:
                cause = transient.transient_cause(f"{error.stderr}\n{error.stdout}")
                if cause is None or delay is None:
                    raise
            self.retries.setdefault(args[1], []).append(cause)
            self.progress.say(
                f"terraform {args[1]} of {self.what}: {cause}; retry {retry} of {len(transient.RETRY_DELAYS)} in {delay:g} s"
            )
            time.sleep(delay)
            plan = os.path.join(self.work_dir, "tfplan")
            if args[1] == "apply" and plan in args:
                self.plan(plan)  # a partly applied plan is stale: plan what is left

    def _run_once(self, args, output):
        env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_DATA_DIR": self.work_dir, "TF_INPUT": "0"}
        env.update({f"TF_VAR_{name}": _tf_value(value) for name, value in self.variables.items()})
        command = args[1]
        # apply and destroy speak JSON (Terraform's machine-readable UI): each resource's start and end.
        events = command in ("apply", "destroy")
        if events:
            args = [args[0], command, "-json", *args[2:]]
        started = time.monotonic()
        completed = process.run(
            args,
            cwd=self.module_dir,
            env=env,
            check=False,
            echo=None if output else (lambda line: self.progress.echo(human(line))) if events else self.progress.echo,
            heartbeat=self.progress.heartbeat(f"terraform {command}", self.what),
            die_with_us=False,
            # A destroy, once begun, finishes: out of the terminal's group, a Ctrl-C does not stop it.
            **(process.OWN_GROUP if args[1] == "destroy" else {}),
        )
        self.seconds[command] = self.seconds.get(command, 0.0) + time.monotonic() - started
        stdout, stderr = completed.stdout, completed.stderr
        if events:
            self.resources += resource_durations(stdout)
            # In JSON, Terraform's errors come on stdout: they go last, where a failure's message looks.
            errors = [human(line) for line in stdout.splitlines() if (_event(line) or {}).get("@level") == "error"]
            stdout = "\n".join(human(line) for line in stdout.splitlines())
            stderr = "\n".join([stderr.rstrip(), *errors]).strip()
        if completed.returncode != 0:
            raise subprocess.CalledProcessError(completed.returncode, args, stdout, stderr)
        return stdout.encode()

    def samples(self, operation: str, labels: dict[str, str]) -> list[Sample]:
        """What the runner timed, as samples: ``provision`` (init, plan, apply) or ``destroy``."""
        steps = ("init", "plan", "apply") if operation == "provision" else ("destroy",)
        if not any(step in self.seconds for step in steps):
            return []
        total = Sample(f"{operation}_duration", sum(self.seconds.get(step, 0.0) for step in steps), "s", dict(labels))
        # Retries of transient errors (provision/transient.py): the infrastructure's, shown with the timings.
        causes = [cause for step in steps for cause in self.retries.get(step, [])]
        retries = [Sample(f"{operation}_retries", len(causes), "count", {**labels, "cause": causes[-1]})] if causes else []
        return [total, *retries] + [
            Sample("resource_duration", change.seconds, "s", {**labels, "address": change.address, "action": change.action})
            for change in self.resources
        ]


def resource_durations(output: str) -> list[ResourceChange]:
    """Each resource changed, from Terraform's JSON UI: its ``apply_start`` to its ``apply_complete``
    (``elapsed_seconds`` there is whole seconds; the timestamps are microseconds)."""
    started: dict[tuple[str, str], datetime] = {}
    durations = []
    for line in output.splitlines():
        event = _event(line)
        if event is None or event.get("type") not in ("apply_start", "apply_complete"):
            continue
        hook = event["hook"]
        key = (hook["resource"]["addr"], hook["action"])
        stamp = datetime.fromisoformat(event["@timestamp"].replace("Z", "+00:00"))
        if event["type"] == "apply_start":
            started[key] = stamp
        elif key in started:
            start = started.pop(key)
            durations.append(ResourceChange(*key, (stamp - start).total_seconds(), start.timestamp()))
    return durations


def human(line: str) -> str:
    """A JSON UI line as a person reads it: its message, and an error's detail."""
    event = _event(line)
    if event is None:
        return line
    diagnostic = event.get("diagnostic") or {}
    detail = diagnostic.get("detail")
    return f"{event.get('@message', '')}: {detail}" if detail else event.get("@message", line)


def _event(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _tf_value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def failure_text(error: subprocess.CalledProcessError, module_dir: str) -> str:
    lines = (error.stderr or error.stdout or "").strip().splitlines()
    tail = "\n".join("    " + line for line in lines[-12:])
    return f"{Path(error.cmd[0]).name} {error.cmd[1]} failed (status {error.returncode}) in {module_dir}\n{tail}"


def declared_variables(module_dir: Path) -> set[str]:
    return set(re.findall(r'^variable\s+"([^"]+)"', "\n".join(p.read_text() for p in module_dir.glob("*.tf")), re.M))


def check_declared(names, module_dir: Path, where: str = "") -> None:
    """Terraform ignores a TF_VAR_ its module does not declare: a misspelt input would silently leave
    the module's default (a cluster of another shape)."""
    declared = declared_variables(module_dir)
    for name in names:
        if name not in declared:
            raise ProvisionError(f"{where}{name}: not a variable of {module_dir} (it has: {', '.join(sorted(declared))})")


def check_inputs(cloud: str, inputs: dict, variables: dict, module_dir: Path) -> None:
    """The scenario's inputs are the module's variables (``check_declared``), and the plugin's own are not the scenario's."""
    where = f"target.{cloud}" if cloud == "local" else f"target.{cloud}.cluster"
    check_declared(variables, module_dir, f"{where}.")
    for name in inputs:
        if variables[name] != inputs[name]:
            raise ProvisionError(f"{where}.{name}: set by the plugin for every run, not by a scenario")
