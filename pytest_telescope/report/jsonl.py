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
    """

    def __init__(self, path: Path, scrub: Callable[[str], str]):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._scrub = scrub
        self._file = open(path, "a", encoding="utf-8")
        self._synced = float("-inf")

    def write(self, rows: list[dict]) -> None:
        if not rows:
            return
        self._file.write(self._scrub(_lines(rows)))
        self._file.flush()
        now = time.monotonic()
        if now - self._synced >= FSYNC_INTERVAL:
            os.fsync(self._file.fileno())
            self._synced = now

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
        self._file.close()


def _lines(rows: list[dict]) -> str:
    """The rows as JSON lines, encoding once what every row holds (the test, its case, its target).

    A test's rows share those values (``results.rows``): encoding them once per row
    was two thirds of the time to write 100,000 rows (docs/performance.md).
    """
    first = rows[0]
    shared = {key: value for key, value in first.items() if all(key in row and row[key] is value for row in rows)}
    head = _encode(shared)[1:-1]
    lines = []
    for row in rows:
        own = _encode({key: value for key, value in row.items() if key not in shared})[1:-1]
        lines.append("{" + ",".join(part for part in (head, own) if part) + "}\n")
    return "".join(lines)
