"""A run's records in the state directory: its id, who owns it, its locks, its deletion time."""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import socket
from datetime import timedelta
from pathlib import Path
from typing import Iterator

from pytest_telescope.errors import ProvisionError

OWNER_FILE = "owner.json"
# A run id names a directory under the state and results directories: a name, never a path.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


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


MAX_DELETION_DELAY = timedelta(days=3650)  # a due time far enough to mean "keep", near enough to compute


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d``, ``30s`` (as Terraform and Telescope write a deletion delay)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if match is None:
        raise ProvisionError(f"telescope_deletion_delay: {text!r} is not a duration like 90m, 2h or 1d")
    seconds = float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    if seconds > MAX_DELETION_DELAY.total_seconds():  # a longer one overflows the due time (or is inf)
        raise ProvisionError(f"telescope_deletion_delay: longer than {MAX_DELETION_DELAY.days} days")
    return timedelta(seconds=seconds)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
