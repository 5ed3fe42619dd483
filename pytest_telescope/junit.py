"""JUnit XML for Azure DevOps' PublishTestResults task (and any other reader).

Azure DevOps reads a failure's message and text and ignores ``<properties>``,
so SLO verdicts go in the failure message, and metrics both in properties
(for other readers) and in system-out (which Azure DevOps shows on failures).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import junitparser
from junitparser import xunit2

# A failing test is a Failure; a failure around it (setup, teardown, a crashed worker) an Error.


@dataclass
class _Test:
    nodeid: str
    duration: float = 0.0
    result: junitparser.Result | None = None
    samples: list[dict] = field(default_factory=list)


class JunitReport:
    """Gathers every test's reports, then writes one suite of test cases."""

    def __init__(self, run_id: str, started: str):
        self.run_id, self.started = run_id, started
        self._tests: dict[str, _Test] = {}

    def add(self, report, samples: list[dict]) -> None:
        test = self._tests.setdefault(report.nodeid, _Test(report.nodeid))
        test.duration += report.duration
        test.samples += samples
        if test.result is not None:
            return
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            test.result = junitparser.Skipped(reason.removeprefix("Skipped: "))
        elif report.failed:
            text = report.longreprtext
            crash = getattr(report.longrepr, "reprcrash", None)
            lines = crash.message.splitlines() if crash is not None else text.strip().splitlines()
            message = "; ".join(line.strip() for line in lines if line.strip())
            kind = junitparser.Failure if report.when == "call" else junitparser.Error
            result = kind(message=message[:2000], type_=_error_type(report))
            result.text = text
            test.result = result

    def add_interrupted(self, nodeid: str, samples: list[dict]) -> None:
        test = self._tests.setdefault(nodeid, _Test(nodeid))
        test.samples += samples
        test.result = junitparser.Error(message="interrupted while running", type_="KeyboardInterrupt")

    def mark_not_run(self, nodeids: list[str], reason: str) -> None:
        for nodeid in nodeids:
            if nodeid not in self._tests:
                self._tests[nodeid] = _Test(nodeid, result=junitparser.Skipped(reason))

    def write(self, path: Path, scrub: Callable[[str], str]) -> None:
        suite = xunit2.TestSuite("pytest-telescope")
        suite.timestamp = self.started
        suite.hostname = socket.gethostname()
        suite.add_property("run_id", self.run_id)
        for test in self._tests.values():
            suite.add_testcase(_testcase(test))
        suite.update_statistics()
        document = xunit2.JUnitXml()
        document.add_testsuite(suite)
        path.parent.mkdir(parents=True, exist_ok=True)
        document.write(str(path), pretty=True)
        path.write_text(scrub(path.read_text(encoding="utf-8")), encoding="utf-8")


def _testcase(test: _Test) -> xunit2.TestCase:
    path, bracket, parameters = test.nodeid.partition("[")  # a parameter id may contain "::"
    module, _, name = path.partition("::")
    classname = module.removesuffix(".py").replace("/", ".")
    if "::" in name:
        prefix, name = name.rsplit("::", 1)
        classname += "." + prefix.replace("::", ".")
    name += bracket + parameters
    case = xunit2.TestCase(name, classname, round(test.duration, 3))
    if test.result is not None:
        case.result = [test.result]
    for sample in test.samples:
        case.add_property(_sample_name(sample), f"{sample['value']:.6g} {sample['unit']}")
    if test.samples:
        case.system_out = "\n".join(
            f"{_sample_name(s)} = {s['value']:.6g} {s['unit']} (SLO: {s['slo']['verdict']})" for s in test.samples
        )
    return case


def _sample_name(sample: dict) -> str:
    labels = ",".join(f"{k}={v}" for k, v in sorted(sample["labels"].items()))
    return f"{sample['metric']}{{{labels}}}" if labels else sample["metric"]


def _error_type(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and ":" in crash.message:
        return crash.message.split(":", 1)[0]
    return getattr(report, "telescope_error", None) or "Failure"
