"""The package's shape: folders follow the lifecycle, imports point down, modules stay small."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_telescope"
CORE = {"errors", "units", "samples", "rows", "process", "progress", "redact"}
# A folder (or core module) may not import these.
FORBIDDEN = {
    "core": {"scenario", "validate", "provision", "targets", "tools", "measure", "verdict", "history", "report", "plugin", "session", "fixtures", "shard", "cli"},
    "targets": {"validate", "provision", "tools", "measure", "verdict", "history", "report", "plugin", "session", "fixtures", "shard"},
    "tools": {"validate", "provision", "targets", "measure", "verdict", "history", "report", "plugin", "session", "fixtures", "shard"},
    "provision": {"validate", "tools", "measure", "verdict", "history", "report", "plugin", "session", "fixtures", "shard"},
    "measure": {"validate", "provision", "tools", "verdict", "history", "report", "plugin", "session", "fixtures", "shard"},
    "history": {"validate", "provision", "targets", "measure", "verdict", "report", "plugin", "session", "fixtures", "shard"},
    "verdict": {"validate", "provision", "targets", "measure", "report", "plugin", "session", "fixtures", "shard"},
    "report": {"provision", "validate", "targets", "tools", "measure", "plugin", "session", "fixtures", "shard"},
    "validate": {"measure", "verdict", "history", "report", "plugin", "session", "fixtures", "shard"},
}
MAX_LINES = 450


def modules():
    return sorted(PACKAGE.rglob("*.py"))


def room(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return "core" if parts[0] in CORE else parts[0]


def imported_rooms(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pytest_telescope"):
            parts = node.module.split(".")[1:]
            found.update([parts[0]] if parts else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("pytest_telescope."))
    return {"core" if name in CORE else name for name in found}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    forbidden = FORBIDDEN.get(room(path), set()) & imported_rooms(path)
    assert not forbidden, f"{path.relative_to(PACKAGE)} ({room(path)}) imports {sorted(forbidden)}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines: split it by concern"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_class_defines_a_method_twice(path):
    """A second hook of the same name replaces the first without a word."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            names = [
                f.name for f in node.body
                if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                and not any(isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter") for d in f.decorator_list)
            ]
            twice = sorted({name for name in names if names.count(name) > 1})
            assert not twice, f"{path.relative_to(PACKAGE)}: {node.name} defines {twice} twice"
