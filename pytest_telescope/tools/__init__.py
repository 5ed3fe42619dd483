"""One module per benchmark tool, and the tools a user's repository adds.

Each tool is a pure pair: ``command(...)`` builds the tool's argument list
from a case's parameters (given as keyword-only arguments), and
``parse(output)`` turns the tool's output into samples. ``METRICS`` names
every metric ``parse`` can emit, with its ``Metric`` (unit, which way is
better); optional ``DEFAULT_SLO`` holds thresholds that apply unless a
scenario replaces them, and optional ``JUDGED`` the metrics a baseline
judges when not all of them (a cloud's API call is shown, not judged).

A tool from outside this package is registered under its name through the
entry-point group ``pytest_telescope.tools`` or the pytest hook
``pytest_telescope_register_tools(register)``; from then on it is looked up
like the built-in ones.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
from importlib import metadata
from types import ModuleType

from pytest_telescope.errors import TelescopeError
from pytest_telescope.samples import Metric

ENTRY_POINT_GROUP = "pytest_telescope.tools"

_registered: dict[str, ModuleType] = {}


def builtin_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def names() -> list[str]:
    return sorted({*builtin_names(), *_entry_point_tools(), *_registered})


def load(name: str) -> ModuleType:
    """The tool called ``name``; ``LookupError`` if there is none."""
    if name in builtin_names():
        return importlib.import_module(f"{__name__}.{name}")
    outside = {**_entry_point_tools(), **_registered}
    if name not in outside:
        raise LookupError(f"unknown tool {name!r}; known: {', '.join(names())}")
    return outside[name]


def register(name: str, tool: ModuleType) -> None:
    """Add a tool from outside the package (the ``register`` of ``pytest_telescope_register_tools``)."""
    _check(name, tool, {**_entry_point_tools(), **_registered})
    _registered[name] = tool


def forget_registered() -> None:
    """Drop the tools registered through the hook: they belong to one pytest session."""
    _registered.clear()


@functools.lru_cache(maxsize=1)
def _entry_point_tools() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            tool = entry.load()
        except Exception as error:  # anything its import raises: say which entry point
            raise TelescopeError(f"entry point {ENTRY_POINT_GROUP} {entry.name} = {entry.value}: {type(error).__name__}: {error}") from None
        _check(entry.name, tool, found)
        found[entry.name] = tool
    return found


def _check(name: str, tool: object, others: dict[str, ModuleType]) -> None:
    where = f"tool {name!r} ({getattr(tool, '__name__', type(tool).__name__)})"
    if name in builtin_names():
        raise TelescopeError(f"{where}: {name!r} is a built-in tool; give yours another name")
    if others.get(name, tool) is not tool:
        raise TelescopeError(f"{where}: {name!r} is already registered by {others[name].__name__}")
    for attribute in ("command", "parse"):
        if not callable(getattr(tool, attribute, None)):
            raise TelescopeError(f"{where}: has no function {attribute}()")
    metrics = getattr(tool, "METRICS", None)
    if not isinstance(metrics, dict) or not metrics or not all(isinstance(metric, Metric) for metric in metrics.values()):
        raise TelescopeError(f"{where}: METRICS must map each metric it emits to a Metric, like {{'latency_p99': Metric('ms', LOWER)}}")


def case_parameters(tool: ModuleType) -> dict[str, object]:
    """The parameters a case may set for ``tool``, with their defaults."""
    signature = inspect.signature(tool.command)
    return {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
