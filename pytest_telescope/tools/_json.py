"""Reading a tool's JSON output; every failure is a ToolError that says what was expected."""

from __future__ import annotations

import json
import math
from typing import Any

from pytest_telescope.errors import ToolError


class JsonOutput:
    """A decoded JSON object; lookups name the missing key path in their ToolError."""

    def __init__(self, data: dict[str, Any], expected: str, command: list[str] | str, output: str):
        self.data, self.expected, self.command, self.output = data, expected, command, output

    def get(self, *keys: str | int) -> Any:
        value: Any = self.data
        for depth, key in enumerate(keys):
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                raise self.error(f"no {_path(keys[: depth + 1])} in {self.expected}") from None
        return value

    def number(self, *keys: str | int) -> float:
        value = self.get(*keys)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"{_path(keys)} is not a number in {self.expected}: {value!r}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):  # Python reads NaN and Infinity, which JSON has not, and 1e999
            raise self.error(f"{_path(keys)} is not a finite number in {self.expected}: {value!r}")
        return number

    def error(self, problem: str) -> ToolError:
        return ToolError(self.command, problem, self.output)


def load(output: str, command: list[str] | str, expected: str, skip_text: bool = False) -> JsonOutput:
    """Decode the JSON object in ``output``; with ``skip_text``, what precedes the first ``{`` is ignored."""
    if not output.strip():
        raise ToolError(command, f"no output; expected {expected}", output)
    start = output.find("{") if skip_text else len(output) - len(output.lstrip())
    if start < 0:
        raise ToolError(command, f"expected {expected}, found no JSON object", output)
    try:
        data, _ = json.JSONDecoder().raw_decode(output, start)
    except json.JSONDecodeError as error:
        raise ToolError(command, f"expected {expected}, got invalid JSON: {error}", output) from None
    if not isinstance(data, dict):
        raise ToolError(command, f"expected {expected}, got JSON that is not an object", output)
    return JsonOutput(data, expected, command, output)


def _path(keys: tuple[str | int, ...]) -> str:
    """``("jobs", 0, "read")`` -> ``jobs[0].read``; keys with dots are quoted."""
    path = ""
    for key in keys:
        if isinstance(key, int):
            path += f"[{key}]"
        elif "." in key:
            path += f'["{key}"]'
        else:
            path += f".{key}" if path else key
    return path
