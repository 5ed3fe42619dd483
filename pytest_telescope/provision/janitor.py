"""Find targets that crashed runs left behind, and destroy them.

Every run records in its state directory who owns it (pid, host) and when
its targets may be destroyed (``deletion_due_time``). A run whose owner is
still running is never touched.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from pytest_telescope.progress import Progress
from pytest_telescope.provision.pool import destroy_run
from pytest_telescope.provision.runs import owner_alive, read_owner


@dataclass(frozen=True)
class Leftover:
    run_dir: Path
    targets: tuple[str, ...]
    owner_alive: bool
    due: bool

    @property
    def run_id(self) -> str:
        return self.run_dir.name


def find(state_root: Path, now: datetime | None = None) -> list[Leftover]:
    now = now or datetime.now(timezone.utc)
    found = []
    if not state_root.is_dir():
        return found
    for run_dir in sorted(p for p in state_root.iterdir() if p.is_dir()):
        owner = read_owner(run_dir)
        if not owner:
            continue  # not a run's directory: not ours to destroy
        due_time = owner.get("deletion_due_time")
        found.append(
            Leftover(
                run_dir=run_dir,
                targets=tuple(sorted(p.name for p in run_dir.iterdir() if p.is_dir())),
                owner_alive=owner_alive(owner),
                due=due_time is None or datetime.fromisoformat(due_time) <= now,
            )
        )
    return found


def cleanup(state_root: Path, progress: Progress, *, dry_run: bool, ignore_due_time: bool, run_id: str | None = None) -> int:
    """Destroy the leftovers whose run is over and whose time is due; returns the number of errors."""
    errors = 0
    leftovers = [leftover for leftover in find(state_root) if not run_id or leftover.run_id == run_id]
    if run_id and not leftovers:
        progress.say(f"{run_id}: nothing found in {state_root}")
    for leftover in leftovers:
        if leftover.owner_alive:
            progress.say(f"{leftover.run_id}: run still in progress, left alone")
        elif not (leftover.due or ignore_due_time):
            progress.say(f"{leftover.run_id}: not due yet, left alone ({', '.join(leftover.targets)}); --all to destroy now")
        elif dry_run:
            progress.say(f"{leftover.run_id}: would destroy {', '.join(leftover.targets) or 'nothing (empty)'}")
        else:
            failures = destroy_run(leftover.run_dir, progress)
            for failure in failures:
                progress.say(f"{leftover.run_id}: destroy failed: {failure}")
            errors += len(failures)
    return errors


def sweep(directories: Mapping[Path, int], what: str, progress: Progress, *, dry_run: bool) -> list[Path]:
    """Remove those of ``directories`` (each with the pid of the process that made it) whose process has ended."""
    swept = []
    for directory, pid in directories.items():
        if owner_alive({"pid": pid, "host": socket.gethostname()}):
            continue
        progress.say(f"{'would remove' if dry_run else 'removed'} {directory}: {what} of a run that ended")
        if not dry_run:
            shutil.rmtree(directory, ignore_errors=True)
        swept.append(directory)
    return swept
