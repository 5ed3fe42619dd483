"""The results file: one JSON object per line, one line per sample."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

# Rows are trees of dicts and lists: the check for cycles only costs time.
_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
FSYNC_INTERVAL = 1.0  # seconds


class JsonlWriter:
    """Appends rows to ``path``.

    Each test's rows reach the operating system before the next test's, so they
    survive the run being killed. They are forced to disk (fsync) after a test that
    ends at least ``FSYNC_INTERVAL`` after the last fsync, and on close: as often as
    every test of a real benchmark, but not 1,000 times in a burst of short tests,
    where it cost half a second (docs/performance.md). Appending lets a re-run add to
    the same run id. Rows pass through ``scrub`` so no secret reaches the file.

    A write that fails (a full or read-only disk) is undone to the last whole line,
    and its rows are kept in ``unwritten``: they are tried again with the next
    rows, and whatever is left at the end is for the caller to report by name.
    """

    def __init__(self, path: Path, scrub: Callable[[str], str]):
        self.path = path
        self.unwritten: list[dict] = []
        self.error: OSError | None = None  # the last write's, None once a write succeeds
        self._scrub = scrub
        self._descriptor: int | None = None
        self._synced = float("-inf")

    def write(self, rows: list[dict]) -> bool:
        """Append ``rows`` (and the rows an earlier failure kept); False if they could not be written."""
        pending = self.unwritten + rows
        if not pending:
            return True
        try:
            self._append(self._scrub(jsonl_lines(pending)).encode())
        except OSError as error:
            self.unwritten, self.error = pending, error
            return False
        self.unwritten, self.error = [], None
        now = time.monotonic()
        if now - self._synced >= FSYNC_INTERVAL:
            self._sync()
            self._synced = now
        return True

    def close(self) -> None:
        if self._descriptor is not None:
            try:
                self._sync()
            finally:
                os.close(self._descriptor)
                self._descriptor = None

    def _append(self, data: bytes) -> None:
        if self._descriptor is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        whole = os.fstat(self._descriptor).st_size
        try:
            written = 0
            while written < len(data):
                written += os.write(self._descriptor, data[written:])
        except OSError:
            os.ftruncate(self._descriptor, whole)  # no cut-off line: a reader sees whole rows only
            raise

    def _sync(self) -> None:
        try:
            os.fsync(self._descriptor)
        except OSError as error:
            self.error = error


def jsonl_lines(rows: list[dict]) -> str:
    """The rows as JSON lines, encoding once what every row holds (the test, its case, its target).

    A test's rows share those values (``rows.rows``): encoding them once per row
    was two thirds of the time to write 100,000 rows (docs/performance.md).
    """
    if not rows:
        return ""
    first = rows[0]
    shared = {key: value for key, value in first.items() if all(key in row and row[key] is value for row in rows)}
    head = _encode(shared)[1:-1]
    lines = []
    for row in rows:
        own = _encode({key: value for key, value in row.items() if key not in shared})[1:-1]
        lines.append("{" + ",".join(part for part in (head, own) if part) + "}\n")
    return "".join(lines)
