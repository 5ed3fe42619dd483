"""The results file: one JSON object per line, one line per sample."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable


class JsonlWriter:
    """Appends rows to ``path``; each test's rows reach the disk before the next test's.

    Appending lets a re-run add to the same run id. Rows pass through
    ``scrub`` so no secret reaches the file.
    """

    def __init__(self, path: Path, scrub: Callable[[str], str]):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._scrub = scrub
        self._file = open(path, "a", encoding="utf-8")

    def write(self, rows: list[dict]) -> None:
        if not rows:
            return
        text = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows)
        self._file.write(self._scrub(text))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
