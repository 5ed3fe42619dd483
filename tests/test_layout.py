"""The package's shape: folders follow the lifecycle, imports point down, modules stay small."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_telescope"
CORE = {"errors", "units", "samples", "rows", "process", "progress", "redact"}
# The modules a run starts from (pytest's hooks, the fixtures, the command line): nothing below imports them.
ENTRY = {"plugin", "options", "session", "ending", "provisioning", "fixtures", "interrupts", "scrubbing", "shard", "cli"}
# What a folder (or the core, or scenario.py) may not import directly, besides the entry modules.
FORBIDDEN = {
    "core": {"scenario", "validate", "provision", "targets", "tools", "measure", "verdict", "history", "report"},
    "targets": {"scenario", "validate", "provision", "tools", "measure", "verdict", "history", "report"},
    "tools": {"scenario", "validate", "provision", "targets", "measure", "verdict", "history", "report"},
    "provision": {"scenario", "validate", "tools", "measure", "verdict", "history", "report"},
    "measure": {"scenario", "validate", "provision", "tools", "verdict", "history", "report"},
    "history": {"scenario", "validate", "provision", "targets", "measure", "verdict", "report"},
    "verdict": {"scenario", "validate", "provision", "targets", "measure", "report"},
    "report": {"scenario", "validate", "provision", "targets", "tools", "measure"},
    "scenario": {"validate", "provision", "targets", "report"},
    "validate": {"measure", "verdict", "history", "report"},
}
FORBIDDEN = {room: forbidden | ENTRY for room, forbidden in FORBIDDEN.items()}
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
