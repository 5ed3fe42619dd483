"""Azure DevOps logging commands: issues that a pipeline run shows on its summary page.

A line ``##vso[task.logissue type=error;sourcepath=...;]message`` printed by a
step becomes an error of that step. The agent unescapes property values and the
message with the table below (and ``%AZP25`` to ``%``), so both are escaped with
it here and a message of several lines stays one command.
"""

from __future__ import annotations

import os
from typing import Mapping

ISSUE_KINDS = ("error", "warning")

# Percent first, so the escapes the other replacements insert are not escaped again.
_MESSAGE_ESCAPES = (("%", "%AZP25"), ("\r", "%0D"), ("\n", "%0A"))
_PROPERTY_ESCAPES = (*_MESSAGE_ESCAPES, (";", "%3B"), ("]", "%5D"))


def in_azure_devops(environ: Mapping[str, str] = os.environ) -> bool:
    """The agent sets ``TF_BUILD=True`` in every step of a pipeline run."""
    return environ.get("TF_BUILD", "").lower() == "true"


def logissue(kind: str, message: str, source: str | None = None) -> str:
    """The logging command that reports ``message`` as an error or warning, about file ``source``."""
    if kind not in ISSUE_KINDS:
        raise ValueError(f"issue kind {kind!r}: expected one of {', '.join(ISSUE_KINDS)}")
    properties = {"type": kind, **({"sourcepath": source} if source else {})}
    listed = "".join(f"{name}={_escape(value, _PROPERTY_ESCAPES)};" for name, value in properties.items())
    return f"##vso[task.logissue {listed}]{_escape(message, _MESSAGE_ESCAPES)}"


def _escape(text: str, escapes: tuple[tuple[str, str], ...]) -> str:
    for character, replacement in escapes:
        text = text.replace(character, replacement)
    return text
