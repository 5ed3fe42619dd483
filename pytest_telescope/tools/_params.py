"""The error a tool's ``check`` raises for a parameter it would not accept."""

from __future__ import annotations


class ParameterError(ValueError):
    """``name`` is the parameter at fault; the message starts with it, e.g. ``duration must be ...``."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name} {problem}")
        self.name = name
