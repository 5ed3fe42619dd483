"""Results files are written whole or not at all, in a directory checked to be writable first."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from pytest_telescope.errors import TelescopeError


class ResultsDirectoryError(TelescopeError):
    """The results directory cannot be written: read-only, full, or not a directory."""


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary name beside ``path``, force it to disk, then rename it over ``path``.

    A reader, or a run killed while writing, sees the earlier file or the new one, never part of
    one; a full disk leaves the earlier file (or none) and raises ``OSError``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; results are for everyone who reads the run
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def check_writable(directory: Path) -> None:
    """Write and remove a small file where ``directory`` is (or will be created), so that a read-only
    or full disk stops the run before anything is provisioned. Raises ``ResultsDirectoryError``."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ResultsDirectoryError(f"results directory {directory}: {existing} is not a directory")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".telescope-probe-") as probe:
            probe.write(b"\n" * 4096)  # a byte may fit in a full file system's last block; a page does not
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise ResultsDirectoryError(f"results directory {directory} is not writable: {error.strerror}") from None
