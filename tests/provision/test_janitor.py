"""`telescope cleanup` sweeps what killed runs left outside their state directory."""

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_telescope.measure.server import TEMP_PREFIX, directories_left
from pytest_telescope.progress import Progress
from pytest_telescope.provision import janitor
from pytest_telescope.redact import Redactor

REPO = Path(__file__).resolve().parents[2]


def test_prometheus_directories_of_ended_runs_are_swept_those_of_live_runs_kept(tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f"{TEMP_PREFIX}{ended.stdout.strip()}-abc123"
    live = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-def456"
    unknown = tmp_path / f"{TEMP_PREFIX}xyz"  # not named by a run: not ours to judge
    for directory in (dead, live, unknown):
        (directory / "data").mkdir(parents=True)
    said = []
    progress = Progress(said.append, Redactor())

    found = directories_left(tmp_path)
    assert found == {dead: int(ended.stdout), live: os.getpid()}
    assert janitor.sweep(found, "the Prometheus data", progress, dry_run=True) == [dead] and dead.exists()
    assert janitor.sweep(found, "the Prometheus data", progress, dry_run=False) == [dead]

    assert not dead.exists() and live.exists() and unknown.exists()
    assert said[-1] == f"[telescope] removed {dead}: the Prometheus data of a run that ended"


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_a_target_whose_terraform_died_before_writing_state_is_found_and_destroyed(tmp_path):
    """The run was killed while Terraform applied: the namespaces exist, no state records them."""
    name = secrets.token_hex(4)
    run_dir = tmp_path / ".telescope" / "killed-run"
    target_dir = run_dir / "local"
    target_dir.mkdir(parents=True)
    (run_dir / "owner.json").write_text(json.dumps({"pid": 0, "host": socket.gethostname(), "deletion_due_time": None}))
    (target_dir / "module").write_text(str(REPO / "pytest_telescope/terraform/local"))
    (target_dir / "spec").write_text("local")
    (target_dir / "variables.json").write_text(json.dumps({"name": name, "mode": "netns", "state_dir": str(target_dir / "target")}))
    namespaces = [f"telescope-{name}-server", f"telescope-{name}-client"]
    for namespace in namespaces:
        subprocess.run(["ip", "netns", "add", namespace], check=True)
    said = []

    try:
        errors = janitor.cleanup(tmp_path / ".telescope", Progress(said.append, Redactor()), dry_run=False, ignore_due_time=True)
    finally:
        left = [ns for ns in namespaces if ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout]
        for namespace in left:
            subprocess.run(["ip", "netns", "delete", namespace], check=False)

    assert errors == 0, said
    assert left == [], said
    assert "[telescope] recover local (Terraform ended before it wrote its state) ..." in said
    assert not run_dir.exists()
