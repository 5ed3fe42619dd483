"""JUnit XML from real pytest reports, read back the way Azure DevOps and junitparser read it."""

import xml.etree.ElementTree as ET

import pytest
from junitparser import Error, Failure, Skipped
from junitparser.xunit2 import JUnitXml

from pytest_telescope.redact import Redactor
from pytest_telescope.report.junit import JunitReport
from pytest_telescope.samples import Sample
from pytest_telescope.verdict.recorder import Recorder
from pytest_telescope.verdict.slo import SLOViolation, Threshold

RUN_ID = "20261123T122404Z-a59049"
STARTED = "2026-11-23T12:24:04.000Z"


def unchanged(text: str) -> str:
    return text

PASSED = "benchmarks/network/test_iperf3.py::test_iperf3[local-tcp-parallel1]"
SLO_FAILED = "benchmarks/network/test_iperf3.py::test_iperf3[local-tcp-parallel4]"
SKIPPED = "benchmarks/storage/test_fio.py::test_fio[aks-randread-4k]"
SETUP_ERROR = "benchmarks/storage/test_fio.py::TestDisks::test_fio[eks-randread-4k]"
NOT_RUN = "benchmarks/storage/test_fio.py::test_fio[gke-randread-4k]"


def report(nodeid, when, outcome, longrepr=None, duration=0.5, **extra) -> pytest.TestReport:
    path = nodeid.split("::")[0]
    made = pytest.TestReport(
        nodeid=nodeid,
        location=(path, 10, nodeid.split("::")[-1]),
        keywords={},
        outcome=outcome,
        longrepr=longrepr,
        when=when,
        duration=duration,
    )
    for name, value in extra.items():
        setattr(made, name, value)
    return made


def crash_repr(error: BaseException):
    """The longrepr pytest makes of an exception (an ExceptionChainRepr with a reprcrash)."""
    try:
        raise error
    except BaseException as raised:  # noqa: BLE001 - any exception, as pytest does
        return pytest.ExceptionInfo.from_exception(raised).getrepr()


def samples_of(recorder: Recorder) -> list[dict]:
    return recorder.to_report()["samples"]


def passing_samples() -> list[dict]:
    rec = Recorder(cloud="local", benchmark="iperf3", case="tcp-parallel1", params={}, thresholds=[])
    rec.expect("throughput_received", min=500, unit="Mbit/s")
    rec([Sample("throughput_received", 940.25, "Mbit/s"), Sample("retransmits", 3, "count")])
    return samples_of(rec)


def failing_recorder() -> Recorder:
    rec = Recorder(
        cloud="local",
        benchmark="iperf3",
        case="tcp-parallel4",
        params={},
        thresholds=[Threshold("throughput_received", ">=", 500, "Mbit/s")],
    )
    rec([Sample("throughput_received", 412.5, "Mbit/s"), Sample("cpu_local", 7.5, "%", {"host": "client"})])
    return rec


def slo_message(rec: Recorder) -> str:
    with pytest.raises(SLOViolation) as raised:
        rec.check()
    return str(raised.value)


@pytest.fixture
def written(tmp_path):
    """A run of five tests, written to junit.xml; returns (path, SLO message)."""
    junit = JunitReport(RUN_ID, STARTED)
    for when in ("setup", "call", "teardown"):
        junit.add(report(PASSED, when, "passed"), passing_samples() if when == "call" else [])

    rec = failing_recorder()
    message = slo_message(rec)
    junit.add(report(SLO_FAILED, "setup", "passed"), [])
    # What the plugin's pytest_runtest_makereport sets for an SLOViolation: a plain string.
    junit.add(report(SLO_FAILED, "call", "failed", message, telescope_error="SLOViolation"), samples_of(rec))
    junit.add(report(SLO_FAILED, "teardown", "passed"), [])

    skip = (SKIPPED.split("::")[0], 12, "Skipped: no aks credentials")
    junit.add(report(SKIPPED, "setup", "skipped", skip), [])
    junit.add(report(SKIPPED, "teardown", "passed"), [])

    junit.add(report(SETUP_ERROR, "setup", "failed", crash_repr(RuntimeError("cluster is not ready"))), [])
    junit.add(report(SETUP_ERROR, "teardown", "passed"), [])

    junit.mark_not_run([PASSED, NOT_RUN], "not run: the session was interrupted")

    path = tmp_path / "results" / "junit.xml"
    junit.write(path, unchanged)
    return path, message


def cases_by_name(path) -> dict:
    (suite,) = list(JUnitXml.fromfile(str(path)))
    return {f"{case.classname}::{case.name}": case for case in suite}


def test_suite_counts(written):
    path, _ = written
    xml = JUnitXml.fromfile(str(path))
    (suite,) = list(xml)
    assert suite.name == "pytest-telescope"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 1, 1, 2)
    assert suite.timestamp == STARTED
    assert {prop.name: prop.value for prop in suite.properties()} == {"run_id": RUN_ID}


def test_classname_and_name_come_from_the_nodeid(written):
    path, _ = written
    assert sorted(cases_by_name(path)) == sorted(
        [
            "benchmarks.network.test_iperf3::test_iperf3[local-tcp-parallel1]",
            "benchmarks.network.test_iperf3::test_iperf3[local-tcp-parallel4]",
            "benchmarks.storage.test_fio::test_fio[aks-randread-4k]",
            "benchmarks.storage.test_fio.TestDisks::test_fio[eks-randread-4k]",
            "benchmarks.storage.test_fio::test_fio[gke-randread-4k]",
        ]
    )


def test_passed_test_has_no_result_and_sums_its_phases(written):
    path, _ = written
    case = cases_by_name(path)["benchmarks.network.test_iperf3::test_iperf3[local-tcp-parallel1]"]
    assert case.result == []
    assert case.time == pytest.approx(1.5)


def test_slo_failure_message_carries_the_slo_text(written):
    path, message = written
    case = cases_by_name(path)["benchmarks.network.test_iperf3::test_iperf3[local-tcp-parallel4]"]
    (failure,) = case.result
    assert isinstance(failure, Failure)
    assert failure.type == "SLOViolation"
    assert "1 SLO violation" in failure.message
    assert "throughput_received = 412.5 Mbit/s, expected >= 500 Mbit/s" in failure.message
    assert failure.text.strip() == message


def test_metrics_are_properties_and_system_out(written):
    path, _ = written
    cases = cases_by_name(path)
    failed = cases["benchmarks.network.test_iperf3::test_iperf3[local-tcp-parallel4]"]
    assert {prop.name: prop.value for prop in failed.properties()} == {
        "throughput_received": "412.5 Mbit/s",
        "cpu_local{host=client}": "7.5 %",
    }
    assert failed.system_out.splitlines() == [
        "throughput_received = 412.5 Mbit/s (SLO: fail)",
        "cpu_local{host=client} = 7.5 % (SLO: none)",
    ]
    passed = cases["benchmarks.network.test_iperf3::test_iperf3[local-tcp-parallel1]"]
    assert "throughput_received = 940.25 Mbit/s (SLO: pass)" in passed.system_out


def test_skipped_test_keeps_the_reason(written):
    path, _ = written
    (skipped,) = cases_by_name(path)["benchmarks.storage.test_fio::test_fio[aks-randread-4k]"].result
    assert isinstance(skipped, Skipped)
    assert skipped.message == "no aks credentials"


def test_setup_failure_is_an_error_typed_by_the_exception(written):
    path, _ = written
    case = cases_by_name(path)["benchmarks.storage.test_fio.TestDisks::test_fio[eks-randread-4k]"]
    (error,) = case.result
    assert isinstance(error, Error)
    assert error.type == "RuntimeError"
    assert "RuntimeError: cluster is not ready" in error.text
    assert case.system_out is None


def test_mark_not_run_skips_only_tests_without_a_report(written):
    path, _ = written
    cases = cases_by_name(path)
    (skipped,) = cases["benchmarks.storage.test_fio::test_fio[gke-randread-4k]"].result
    assert isinstance(skipped, Skipped)
    assert skipped.message == "not run: the session was interrupted"
    assert cases["benchmarks.network.test_iperf3::test_iperf3[local-tcp-parallel1]"].result == []


def test_file_is_plain_xml_with_a_testsuites_root(written):
    path, _ = written
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("timestamp") == STARTED
    assert suite.get("hostname")
    testcases = suite.findall("testcase")
    assert len(testcases) == 5
    assert all(case.get("name") and case.get("classname") for case in testcases)
    (failure,) = suite.iter("failure")
    assert "expected >= 500 Mbit/s" in failure.get("message")
    assert failure.text.strip().startswith("1 SLO violation:")
    assert len(list(suite.iter("error"))) == 1
    assert len(list(suite.iter("skipped"))) == 2


def test_teardown_error_after_a_passed_call_is_an_error(tmp_path):
    junit = JunitReport(RUN_ID, STARTED)
    nodeid = "benchmarks/network/test_iperf3.py::test_iperf3[local-tcp-reverse]"
    junit.add(report(nodeid, "setup", "passed"), [])
    junit.add(report(nodeid, "call", "passed"), passing_samples())
    junit.add(report(nodeid, "teardown", "failed", "destroy failed: terraform exited 1", telescope_error="ProvisionError"), [])
    junit.write(tmp_path / "junit.xml", unchanged)
    (case,) = cases_by_name(tmp_path / "junit.xml").values()
    (error,) = case.result
    assert isinstance(error, Error)
    assert error.type == "ProvisionError"
    assert error.message == "destroy failed: terraform exited 1"


def test_error_message_names_the_exception_of_a_long_traceback(tmp_path):
    def long_setup():
        steps = []
        steps.append(1)
        steps.append(2)
        steps.append(3)
        steps.append(4)
        steps.append(5)
        steps.append(6)
        steps.append(7)
        steps.append(8)
        steps.append(9)
        steps.append(10)
        steps.append(11)
        steps.append(12)
        steps.append(13)
        steps.append(14)
        steps.append(15)
        steps.append(16)
        steps.append(17)
        steps.append(18)
        steps.append(19)
        steps.append(20)
        raise RuntimeError(f"cluster is not ready after {len(steps)} steps")

    try:
        long_setup()
    except RuntimeError as raised:
        longrepr = pytest.ExceptionInfo.from_exception(raised).getrepr()
    junit = JunitReport(RUN_ID, STARTED)
    junit.add(report(SETUP_ERROR, "setup", "failed", longrepr), [])
    junit.write(tmp_path / "junit.xml", unchanged)
    (case,) = cases_by_name(tmp_path / "junit.xml").values()
    (error,) = case.result
    assert error.type == "RuntimeError"
    assert "RuntimeError: cluster is not ready after 20 steps" in error.message


def test_parameter_id_with_double_colon_stays_in_the_name(tmp_path):
    nodeid = "benchmarks/network/test_iperf3.py::test_iperf3[local-fd00::1]"
    junit = JunitReport(RUN_ID, STARTED)
    junit.add(report(nodeid, "call", "passed"), [])
    junit.write(tmp_path / "junit.xml", unchanged)
    (suite,) = list(JUnitXml.fromfile(str(tmp_path / "junit.xml")))
    (case,) = list(suite)
    assert (case.classname, case.name) == ("benchmarks.network.test_iperf3", "test_iperf3[local-fd00::1]")


def test_interrupted_test_is_an_error_that_keeps_its_samples(tmp_path):
    nodeid = "benchmarks/network/test_iperf3.py::test_iperf3[local-tcp-reverse]"
    junit = JunitReport(RUN_ID, STARTED)
    junit.add(report(nodeid, "setup", "passed"), [])
    junit.add_interrupted(nodeid, passing_samples())
    junit.mark_not_run([nodeid], "not run: the session ended before this test")
    junit.write(tmp_path / "junit.xml", unchanged)
    (suite,) = list(JUnitXml.fromfile(str(tmp_path / "junit.xml")))
    assert (suite.tests, suite.errors, suite.skipped) == (1, 1, 0)
    (case,) = list(suite)
    (error,) = case.result
    assert isinstance(error, Error)
    assert (error.type, error.message) == ("KeyboardInterrupt", "interrupted while running")
    assert "throughput_received = 940.25 Mbit/s (SLO: pass)" in case.system_out


def test_write_passes_the_file_through_scrub(tmp_path):
    redactor = Redactor()
    redactor.add("hunter2-token-value")
    junit = JunitReport(RUN_ID, STARTED)
    junit.add(report(SETUP_ERROR, "setup", "failed", "login refused for hunter2-token-value"), [])
    path = tmp_path / "junit.xml"
    junit.write(path, redactor.scrub)
    text = path.read_text(encoding="utf-8")
    assert "hunter2-token-value" not in text
    (error,) = ET.parse(path).getroot().iter("error")
    assert error.get("message") == "login refused for [REDACTED]"


def test_secret_with_xml_special_characters_is_scrubbed(tmp_path):
    secret = 'pa&ss<wo"rd-42'
    redactor = Redactor()
    redactor.add(secret)
    junit = JunitReport(RUN_ID, STARTED)
    junit.add(report(SETUP_ERROR, "setup", "failed", f"login refused for {secret}"), [])
    path = tmp_path / "junit.xml"
    junit.write(path, redactor.scrub)
    (error,) = ET.parse(path).getroot().iter("error")
    assert secret not in error.get("message")
    assert secret not in error.text


def test_a_test_that_began_and_never_finished_is_interrupted_never_passed(tmp_path):
    """Under xdist, an interrupted controller has only the setup report of the tests its workers were running."""
    running = "benchmarks/network/test_iperf3.py::test_iperf3[local-tcp-reverse]"
    junit = JunitReport(RUN_ID, STARTED)
    for when in ("setup", "call", "teardown"):
        junit.add(report(PASSED, when, "passed"), [])
    junit.add(report(running, "setup", "passed"), [])
    junit.mark_not_run([PASSED, running, NOT_RUN], "not run: the session ended before this test")
    junit.write(tmp_path / "junit.xml", unchanged)

    cases = cases_by_name(tmp_path / "junit.xml")
    (error,) = cases["benchmarks.network.test_iperf3::test_iperf3[local-tcp-reverse]"].result
    assert isinstance(error, Error) and error.message == "interrupted while running"
    assert cases["benchmarks.network.test_iperf3::test_iperf3[local-tcp-parallel1]"].result == []
    (skipped,) = cases["benchmarks.storage.test_fio::test_fio[gke-randread-4k]"].result
    assert isinstance(skipped, Skipped)


class WorkerDouble:
    """What xdist puts on a report that came from a worker: the controller's handle of the worker."""

    _workerinfocache = "[gw1] linux -- Python 3.11.7 /opt/venv/bin/python"


def test_under_xdist_the_message_starts_with_the_verdict_and_has_no_colon_semicolon(tmp_path):
    rec = failing_recorder()
    message = slo_message(rec)
    failed = report(SLO_FAILED, "call", "failed", message, telescope_error="SLOViolation", node=WorkerDouble())
    assert failed.longreprtext.startswith("[gw1] linux -- Python")  # what the message used to start with
    junit = JunitReport(RUN_ID, STARTED)
    junit.add(failed, samples_of(rec))
    path = tmp_path / "junit.xml"
    junit.write(path, unchanged)
    (failure,) = cases_by_name(path)["benchmarks.network.test_iperf3::test_iperf3[local-tcp-parallel4]"].result
    assert failure.message == "1 SLO violation: throughput_received = 412.5 Mbit/s, expected >= 500 Mbit/s"


def test_several_lines_of_a_verdict_join_into_one_message(tmp_path):
    text = "2 SLO violations:\n  a = 1 s, expected <= 0.5 s\n  b = 2 %, expected <= 1 %"
    junit = JunitReport(RUN_ID, STARTED)
    junit.add(report(SLO_FAILED, "call", "failed", text, telescope_error="SLOViolation"), [])
    path = tmp_path / "junit.xml"
    junit.write(path, unchanged)
    (failure,) = cases_by_name(path)["benchmarks.network.test_iperf3::test_iperf3[local-tcp-parallel4]"].result
    assert failure.message == "2 SLO violations: a = 1 s, expected <= 0.5 s; b = 2 %, expected <= 1 %"


def test_time_is_the_test_s_own_and_the_wait_for_the_target_is_a_property(tmp_path):
    junit = JunitReport(RUN_ID, STARTED)
    junit.add(report(PASSED, "setup", "passed", duration=0.5), [])
    junit.add(report(PASSED, "call", "passed", duration=42.0, telescope_lock_wait=30.0), passing_samples())
    junit.add(report(PASSED, "teardown", "passed", duration=0.5), [])
    path = tmp_path / "junit.xml"
    junit.write(path, unchanged)
    case = cases_by_name(path)["benchmarks.network.test_iperf3::test_iperf3[local-tcp-parallel1]"]
    assert case.time == pytest.approx(13.0)
    assert {prop.name: prop.value for prop in case.properties()}["target_lock_wait"] == "30.000 s"


def test_a_file_that_failed_to_collect_is_an_error_named_by_its_path(tmp_path):
    junit = JunitReport(RUN_ID, STARTED)
    collected = pytest.CollectReport("benchmarks/test_x.py", "failed", "benchmarks/x.yaml: slo.thruput: unknown metric", [])
    junit.add(collected, [])
    junit.write(tmp_path / "junit.xml", unchanged)

    (case,) = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    assert (case.get("classname"), case.get("name")) == ("benchmarks.test_x", "benchmarks/test_x.py")
    (error,) = case.iter("error")
    assert error.get("message") == "benchmarks/x.yaml: slo.thruput: unknown metric"
