"""One module per benchmark tool.

Each module is a pure pair: ``command(...)`` builds the tool's argument list
from a case's parameters (given as keyword-only arguments), and
``parse(output)`` turns the tool's JSON output into samples. ``METRICS``
names every metric ``parse`` can emit, with its unit.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load(name: str) -> ModuleType:
    """The tool module called ``name``; ``LookupError`` if there is none."""
    if name not in names():
        raise LookupError(f"unknown tool {name!r}; known: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}")


def case_parameters(tool: ModuleType) -> dict[str, object]:
    """The parameters a case may set for ``tool``, with their defaults."""
    signature = inspect.signature(tool.command)
    return {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
