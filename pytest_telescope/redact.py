"""Keep secrets out of everything the plugin writes: results, JUnit, terminal lines.

Secrets are the values of credential-like environment variables and of
Terraform outputs marked sensitive. Every text the plugin writes passes
through ``Redactor.scrub``.
"""

from __future__ import annotations

import json
import re
from typing import Mapping
from xml.sax.saxutils import escape

REDACTED = "[REDACTED]"
SECRET_NAME = re.compile(
    r"SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|ACCESS_KEY|CONNECTION_STRING|API_KEY|SAS_", re.I
)
MIN_LENGTH = 6  # shorter values ("1", "true") would redact ordinary text


class Redactor:
    def __init__(self):
        self._secrets: set[str] = set()
        self._pattern: re.Pattern | None = None

    def add(self, value) -> None:
        """Treat ``value`` (and, for text, each of its lines) as a secret from now on."""
        for text in _strings(value):
            text = text.strip()
            if len(text) >= MIN_LENGTH:
                # Also as it reads once written into JSON or XML, where scrubbing happens.
                self._secrets.update({text, json.dumps(text)[1:-1], escape(text, {'"': "&quot;"})})
                self._pattern = None

    def add_environment(self, environ: Mapping[str, str]) -> None:
        for name, value in environ.items():
            if SECRET_NAME.search(name):
                self.add(value)

    def add_sensitive_outputs(self, outputs: Mapping[str, dict]) -> None:
        """Terraform outputs as in its state: ``{name: {"value": ..., "sensitive": bool}}``."""
        for output in outputs.values():
            if output.get("sensitive"):
                self.add(output.get("value"))

    def scrub(self, text: str) -> str:
        if not self._secrets:
            return text
        if self._pattern is None:
            # Longest first, so a secret that contains another is replaced whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
        return self._pattern.sub(REDACTED, text)


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value, *value.splitlines()]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []
