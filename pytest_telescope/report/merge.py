"""telescope merge: the result folders of a run's jobs (one per target) as one run's results.

Each folder is a ``results/<run id>/`` a job left (``results.jsonl``, ``junit.xml``),
or, with ``--from azure-blob://...``, what the jobs published of ``--run-id``. The
merged folder holds every row, a JUnit with every testcase once, and one HTML
report. A test found in several folders (a job run again) is taken from the last.
"""

from __future__ import annotations

import argparse
import os
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from pytest_telescope.history import baseline
from pytest_telescope.report import html, publish
from pytest_telescope.report.files import write_atomically
from pytest_telescope.report.jsonl import jsonl_lines
from pytest_telescope.report.junit import OUTCOME_TAGS, summary_counts
from pytest_telescope.report.table import Shown, table

EXIT_INCOMPLETE = 1  # merged, but a folder held no results
EXIT_UNUSABLE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="*", type=Path, help="result folders (results/<run id>/ of each job), in order")
    parser.add_argument("--from", dest="source", metavar="URL", help="also the run's files the jobs published to azure-blob://<account>/<container>/<prefix>")
    parser.add_argument("--run-id", help="with --from: the run whose files to merge")
    parser.add_argument("--into", type=Path, required=True, help="the merged folder: results.jsonl, junit.xml, report.html")


def run(args: argparse.Namespace) -> int:
    if bool(args.source) != bool(args.run_id) or not (args.folders or args.source):
        print("telescope merge: give result folders, or --from URL with --run-id", file=sys.stderr)
        return EXIT_UNUSABLE
    if args.source:
        try:
            destination = publish.BlobDestination.parse(args.source)
            downloaded = publish.download_run(destination, args.run_id, args.into / "jobs", os.environ)
        except publish.PublishError as error:
            print(f"telescope merge: {error}", file=sys.stderr)
            return EXIT_UNUSABLE
        if not downloaded:
            print(f"telescope merge: {args.source}: no files of run {args.run_id}", file=sys.stderr)
            return EXIT_UNUSABLE
        args.folders += downloaded
    empty = [folder for folder in args.folders if not _files(folder)]
    for folder in empty:
        print(f"telescope merge: {folder}: no results.jsonl or junit.xml (its job wrote no results)", file=sys.stderr)
    folders = [folder for folder in args.folders if folder not in empty]
    try:
        rows = merge_rows(folder / "results.jsonl" for folder in folders)
        junit = merge_junit(folder / "junit.xml" for folder in folders)
    except (baseline.BaselineError, ElementTree.ParseError, OSError) as error:
        print(f"telescope merge: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    if _other_runs(args.into / "results.jsonl", {row["run_id"] for row in rows}):
        print(f"telescope merge: {args.into} holds another run's results; merge into a new folder", file=sys.stderr)
        return EXIT_UNUSABLE
    errors = [
        (f"{case.get('classname')}::{case.get('name')}", error.get("message", ""))
        for case in junit.getroot().iter("testcase")
        for error in case.iter("error")
    ]
    try:
        write_atomically(args.into / "results.jsonl", jsonl_lines(rows))
        write_atomically(args.into / "junit.xml", ElementTree.tostring(junit.getroot(), encoding="unicode", xml_declaration=True))
        write_atomically(args.into / "report.html", html.render(rows, errors=errors))
    except OSError as error:
        print(f"telescope merge: cannot write the merged run into {args.into}: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    shown = Shown()
    shown.add(rows)
    for line in table(shown, str(args.into / "results.jsonl")):
        print(line)
    print(f"merged {len(folders)} folders into {args.into}: {summary_counts(junit.getroot())}, {len(rows)} rows")
    return EXIT_INCOMPLETE if empty else 0


def _other_runs(path: Path, merged: set[str]) -> bool:
    """Whether ``path`` holds rows of runs other than the merged ones (merging again in place is fine)."""
    try:
        return path.is_file() and not {row["run_id"] for row in baseline.read_rows(path)} <= merged
    except baseline.BaselineError:
        return True


def _files(folder: Path) -> bool:
    return (folder / "results.jsonl").is_file() or (folder / "junit.xml").is_file()


def merge_rows(paths) -> list[dict]:
    """Every row, each test's from the last file that has rows of it."""
    by_test: dict[str, list[dict]] = {}
    for path in paths:
        if not path.is_file():
            continue
        mine: dict[str, list[dict]] = {}
        for row in baseline.read_rows(path):
            mine.setdefault(row["test"], []).append(row)
        by_test.update(mine)
    return [row for rows in by_test.values() for row in rows]


def merge_junit(paths) -> ElementTree.ElementTree:
    """One suite of every testcase, each from the last file that has it, counted anew."""
    cases: dict[tuple[str, str], ElementTree.Element] = {}
    suites = []
    for path in paths:
        if not path.is_file():
            continue
        for suite in ElementTree.parse(path).getroot().iter("testsuite"):
            suites.append(suite)
            for case in suite.iter("testcase"):
                cases[(case.get("classname", ""), case.get("name", ""))] = case
    root = ElementTree.Element("testsuites")
    merged = ElementTree.SubElement(root, "testsuite", name="pytest-telescope")
    if suites:
        merged.set("timestamp", min(suite.get("timestamp", "") for suite in suites))
    outcomes = [_outcome(case) for case in cases.values()]
    merged.set("tests", str(len(cases)))
    for tag in OUTCOME_TAGS:
        merged.set(OUTCOME_TAGS[tag], str(outcomes.count(tag)))
    merged.set("time", str(round(sum(float(case.get("time", 0)) for case in cases.values()), 3)))
    properties = ElementTree.SubElement(merged, "properties")
    run_ids = sorted({p.get("value") for s in suites for p in s.iter("property") if p.get("name") == "run_id"} - {None})
    for run_id in run_ids:
        ElementTree.SubElement(properties, "property", name="run_id", value=run_id)
    merged.extend(cases.values())
    ElementTree.indent(root, space="\t")
    return ElementTree.ElementTree(root)


def _outcome(case: ElementTree.Element) -> str | None:
    return next((child.tag for child in case if child.tag in OUTCOME_TAGS), None)
