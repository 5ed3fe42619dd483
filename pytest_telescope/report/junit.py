"""JUnit XML for Azure DevOps' PublishTestResults task (and any other reader).

Azure DevOps reads a failure's message and text and ignores ``<properties>``,
so SLO verdicts go in the failure message, and metrics both in properties
(for other readers) and in system-out (which Azure DevOps shows on failures).

The document is built with ElementTree: junitparser (which reads it back in the
tests) recounts the whole suite on every added testcase and pretty-prints through
minidom, which took 10 s for a run of 100,000 metrics (docs/performance.md).
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pytest_telescope.report.files import write_atomically

# A testcase's outcome element, and the attribute of its suite that counts them.
OUTCOME_TAGS = {"failure": "failures", "error": "errors", "skipped": "skipped"}
# The testcase of a run whose targets could not all be destroyed.
CLEANUP_TEST = "telescope::cleanup"


@dataclass(frozen=True)
class _Result:
    """``<skipped>``, ``<failure>`` (the test failed) or ``<error>`` (setup, teardown, a crashed worker)."""

    tag: str
    message: str
    type: str | None = None
    text: str | None = None


_INTERRUPTED = _Result("error", "interrupted while running", "KeyboardInterrupt")


@dataclass
class _Test:
    nodeid: str
    duration: float = 0.0
    # Time spent waiting for the target's lock (another test was measuring on it): not the test's own.
    lock_wait: float = 0.0
    result: _Result | None = None
    finished: bool = False  # its teardown reported: a test without a result then passed
    # (name, "value unit", SLO verdict) per sample: text only, so a run's samples are
    # not kept as objects the garbage collector walks until the end of the run.
    metrics: list[tuple[str, str, str]] = field(default_factory=list)


class JunitReport:
    """Gathers every test's reports, then writes one suite of test cases."""

    def __init__(self, run_id: str, started: str):
        self.run_id, self.started = run_id, started
        self._tests: dict[str, _Test] = {}

    def add(self, report, samples: list[dict]) -> None:
        """A test's report, or a collector's that failed (a scenario's error): an error of its file."""
        test = self._tests.setdefault(report.nodeid, _Test(report.nodeid))
        wait = getattr(report, "telescope_lock_wait", 0.0)
        test.duration += getattr(report, "duration", 0.0) - wait  # a collect report has none
        test.lock_wait += wait
        test.metrics += _metrics(samples)
        test.finished |= report.when == "teardown"
        if test.result is not None:
            return
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            test.result = _Result("skipped", reason.removeprefix("Skipped: "))
        elif report.failed:
            tag = "failure" if report.when == "call" else "error"
            test.result = _Result(tag, _message(report)[:2000], _error_type(report), report.longreprtext)

    def add_finished(
        self, nodeid: str, outcome: str, message: str | None, seconds: float, samples: list[dict], error: str | None = None
    ) -> None:
        """A test the run made of itself, not pytest (a target's provisioning): passed, failed with
        ``message``, or an error of type ``error`` (the infrastructure's, not the benchmark's)."""
        test = self._tests.setdefault(nodeid, _Test(nodeid, finished=True))
        test.duration += seconds
        test.metrics += _metrics(samples)
        if outcome == "failed":
            lines = (message or "").strip().splitlines()
            summary = "; ".join(line.strip() for line in lines if line.strip())[:2000]
            test.result = _Result("error", summary, error, message) if error else _Result("failure", summary, "Failure", message)

    def add_interrupted(self, nodeid: str, samples: list[dict]) -> None:
        test = self._tests.setdefault(nodeid, _Test(nodeid))
        test.metrics += _metrics(samples)
        test.result = _INTERRUPTED

    def mark_not_run(self, nodeids: list[str], reason: str) -> None:
        """Tests without a report are skipped for ``reason``; a test that began and never finished
        (only its setup reported: an xdist worker's test when the controller was interrupted)
        was interrupted, never passed."""
        for test in self._tests.values():
            if test.result is None and not test.finished:
                test.result = _INTERRUPTED
        for nodeid in nodeids:
            if nodeid not in self._tests:
                self._tests[nodeid] = _Test(nodeid, result=_Result("skipped", reason))

    def add_cleanup_error(self, message: str) -> None:
        """Targets left behind: an error of a testcase of its own, never a benchmark's failure."""
        self._tests[CLEANUP_TEST] = _Test(CLEANUP_TEST, result=_Result("error", message, "CleanupError"))

    def errors(self) -> list[tuple[str, str]]:
        """(test, message) of each test that could not run or finish: an error, not a failure."""
        return [(t.nodeid, t.result.message) for t in self._tests.values() if t.result is not None and t.result.tag == "error"]

    def counts(self) -> dict[str, int]:
        tags = [test.result.tag if test.result is not None else "passed" for test in self._tests.values()]
        return {tag: tags.count(tag) for tag in ("passed", *OUTCOME_TAGS)}

    def write(self, path: Path, scrub: Callable[[str], str]) -> None:
        tests = list(self._tests.values())
        results = [test.result.tag for test in tests if test.result is not None]
        root = ElementTree.Element("testsuites")
        suite = ElementTree.SubElement(
            root,
            "testsuite",
            name="pytest-telescope",
            timestamp=self.started,
            hostname=socket.gethostname(),
            tests=str(len(tests)),
            **{counted: str(results.count(tag)) for tag, counted in OUTCOME_TAGS.items()},
            time=str(round(sum(round(test.duration, 3) for test in tests), 3)),
        )
        properties = ElementTree.SubElement(suite, "properties")
        ElementTree.SubElement(properties, "property", name="run_id", value=self.run_id)
        for test in tests:
            _add_testcase(suite, test, scrub)
        ElementTree.indent(root, space="\t")
        text = ElementTree.tostring(root, encoding="unicode")
        write_atomically(path, '<?xml version="1.0" encoding="utf-8"?>\n' + scrub(text) + "\n")


def summary_counts(root: ElementTree.Element) -> str:
    """``12 tests: 9 passed, 1 failed, 2 errors, 0 skipped`` of a JUnit document's suites."""
    counts = {name: sum(int(suite.get(name, 0)) for suite in root.iter("testsuite")) for name in ("tests", *OUTCOME_TAGS.values())}
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return f"{counts['tests']} tests: {passed} passed, {counts['failures']} failed, {counts['errors']} errors, {counts['skipped']} skipped"


def _add_testcase(suite: ElementTree.Element, test: _Test, scrub: Callable[[str], str]) -> None:
    """Text is scrubbed before it is escaped: in text ElementTree leaves '"' as it is,
    where the redactor looks for its escaped form. Attributes are scrubbed with the document."""
    path, bracket, parameters = test.nodeid.partition("[")  # a parameter id may contain "::"
    module, _, name = path.partition("::")
    classname = module.removesuffix(".py").replace("/", ".")
    if "::" in name:
        prefix, name = name.rsplit("::", 1)
        classname += "." + prefix.replace("::", ".")
    name = (name or module) + bracket + parameters  # a file that failed to collect is named by its path
    case = ElementTree.SubElement(suite, "testcase", name=name, classname=classname, time=str(round(test.duration, 3)))
    if test.result is not None:
        result = ElementTree.SubElement(case, test.result.tag, message=test.result.message)
        if test.result.type is not None:
            result.set("type", test.result.type)
        result.text = scrub(test.result.text) if test.result.text else None
    if test.metrics or test.lock_wait:
        properties = ElementTree.SubElement(case, "properties")
        if test.lock_wait:
            ElementTree.SubElement(properties, "property", name="target_lock_wait", value=f"{test.lock_wait:.3f} s")
        for metric, value, _ in test.metrics:
            ElementTree.SubElement(properties, "property", name=metric, value=value)
    if test.metrics:
        lines = "\n".join(f"{metric} = {value} (SLO: {verdict})" for metric, value, verdict in test.metrics)
        ElementTree.SubElement(case, "system-out").text = scrub(lines)


def _message(report) -> str:
    """The failure in one line: the exception's message, or the verdict the plugin made the longrepr.

    Not ``longreprtext``: under xdist it starts with the worker's line (``[gw1] linux -- Python ...``).
    A line ending in ":" introduces the next one (``1 SLO violation: throughput_received = ...``);
    other lines are joined with "; ".
    """
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    message = ""
    for line in filter(None, (line.strip() for line in text.splitlines())):
        message += (" " if message.endswith(":") else "; ") + line if message else line
    return message


def _metrics(samples: list[dict]) -> list[tuple[str, str, str]]:
    return [(_sample_name(s), f"{s['value']:.6g} {s['unit']}", s["slo"]["verdict"]) for s in samples]


def _sample_name(sample: dict) -> str:
    labels = ",".join(f"{k}={v}" for k, v in sorted(sample["labels"].items()))
    return f"{sample['metric']}{{{labels}}}" if labels else sample["metric"]


def _error_type(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and ":" in crash.message:
        return crash.message.split(":", 1)[0]
    return getattr(report, "telescope_error", None) or "Failure"
