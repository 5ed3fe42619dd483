"""What tools' ``check`` functions share: the error for a parameter they would not accept, and type tests."""

from __future__ import annotations


class ParameterError(ValueError):
    """``name`` is the parameter at fault; the message starts with it, e.g. ``duration must be ...``."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name} {problem}")
        self.name = name


def is_int(value: object) -> bool:
    """An integer as YAML gives one: ``true`` is a bool, not 1."""
    return isinstance(value, int) and not isinstance(value, bool)
