"""The plugin end to end on the real local target: Terraform, iperf3, fio, reports."""

import json
import os
import re
import secrets
import subprocess
from pathlib import Path

import jsonschema
import pytest
from junitparser import xunit2

from pytest_telescope.measure import kernel

REPO = Path(__file__).resolve().parents[1]

SUITE = '''
import pytest
from pytest_telescope.tools import fio


@pytest.mark.scenario("iperf3.yaml")
def test_iperf3(iperf3_run):
    iperf3_run()


@pytest.mark.scenario("fio.yaml")
def test_fio(target, case, record_samples):
    (host,) = target.endpoints("client")
    result = host.run(fio.command(host.scratch_dir + "/fio.dat", **case.params), timeout=120)
    record_samples(fio.parse(result.stdout, result.argv))
'''

IPERF3 = """
benchmark: iperf3
params: {duration: 1}
include:
  - {id: tcp, protocol: tcp}
slo:
  throughput_received: {min: %s, unit: Mbit/s}
"""

FIO = """
benchmark: fio
params: {size: 16M, runtime: 1, rw: randread}
slo:
  read_iops: {min: 10}
  provision_duration: {max: 2, unit: min}
"""


@pytest.fixture
def suite(local_suite):
    """A small benchmark suite of iperf3 and fio."""
    pytester = local_suite
    pytester.makepyfile(test_suite=SUITE)
    pytester.path.joinpath("fio.yaml").write_text(FIO)
    pytester.path.joinpath("iperf3.yaml").write_text(IPERF3 % 1)
    return pytester


def run_dir(pytester) -> Path:
    (directory,) = (pytester.path / "results").iterdir()
    return directory


def read_rows(pytester, *, provisioning: bool = False) -> list[dict]:
    """The run's rows; those of the targets' provisioning (their own tests) only when asked for."""
    rows = [json.loads(line) for line in (run_dir(pytester) / "results.jsonl").read_text().splitlines()]
    return rows if provisioning else [row for row in rows if row["benchmark"] != "provision"]


def leftovers(pytester) -> list[str]:
    """Namespaces of the run's targets that still exist, and files left in the state dir."""
    existing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    ours = {e["namespace"] for row in read_rows(pytester, provisioning=True) for e in row["target"].get("endpoints", {}).values()}
    state = pytester.path / ".telescope"
    return sorted(ours & set(existing)) + [str(p) for p in state.rglob("*")] if state.exists() else sorted(ours & set(existing))


def test_local_run_writes_rows_and_junit(suite):
    # Long enough windows for rate() over 1 s scrapes: golden signals need two scrapes inside the test.
    suite.path.joinpath("iperf3.yaml").write_text((IPERF3 % 1).replace("duration: 1", "duration: 4"))
    suite.path.joinpath("fio.yaml").write_text(FIO.replace("runtime: 1", "runtime: 4"))

    result = suite.runpytest("-m", "local", "--telescope-prometheus", "local")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*provision local: done in *", "*destroy local: done in *", "*telescope: * samples*"])
    assert result.stdout.str().count("test_suite.py") == 1  # the file's name once, however many lines we print
    result.stdout.fnmatch_lines(["*prometheus: starting, with node-exporter*", "*prometheus http://*: first scrape after *"])
    result.stdout.fnmatch_lines(["test_iperf3[[]local-tcp[]] *throughput_received *", "test_iperf3[[]local-tcp[]] *context (not judged) * samples  -"])
    rows = read_rows(suite, provisioning=True)
    schema = json.loads((REPO / "pytest_telescope/schema/result-row.schema.json").read_text())
    for row in rows:
        jsonschema.validate(row, schema)
    assert {row["benchmark"] for row in rows} == {"iperf3", "fio", "provision"}
    assert {row["run_id"] for row in rows} == {run_dir(suite).name}
    received = next(row for row in rows if row["metric"] == "throughput_received")
    assert received["value"] > 1 and received["unit"] == "Mbit/s"
    assert received["slo"] == {"verdict": "pass", "thresholds": ["throughput_received >= 1 Mbit/s"]}
    assert received["target"]["cloud"] == "local"
    assert received["target"]["fingerprint"]["cpus"] >= 1
    golden = {(row["benchmark"], row["metric"], row["labels"]["role"]): row["value"] for row in rows if "role" in row["labels"]}
    assert golden[("fio", "disk_io_utilization", "host")] > 0, sorted(golden)
    assert golden[("iperf3", "network_receive_throughput", "server")] > 1, sorted(golden)
    suite_xml = next(iter(xunit2.JUnitXml.fromfile(str(run_dir(suite) / "junit.xml"))))
    cases = {case.name: case for case in suite_xml}
    assert set(cases) == {"test_iperf3[local-tcp]", "test_fio[local-default]", "provision[local]"}
    assert all(case.is_passed for case in cases.values()), [(name, case.result) for name, case in cases.items()]
    provisioned = {row["metric"]: row for row in rows if row["test"] == "telescope::provision[local]" and row["metric"] != "resource_duration"}
    assert provisioned["provision_duration"]["slo"] == {"verdict": "pass", "thresholds": ["provision_duration <= 2 min"]}
    assert provisioned["destroy_duration"]["value"] > 0
    assert {p.name for p in cases["provision[local]"].properties()} >= {"provision_duration{cloud=local,module=local}"}
    assert any(p.name == "throughput_received" for p in cases["test_iperf3[local-tcp]"].properties())
    assert leftovers(suite) == []


def test_kernel_histograms_reach_rows_junit_and_report_and_take_slos(suite):
    why = kernel.unavailable()
    if why is not None:
        pytest.skip(why)
    suite.path.joinpath("fio.yaml").write_text(
        FIO + "  runqueue_latency_p99: {max: 10, unit: s}\n  block_io_latency_count: {min: 1}\n"
        "kernel: [runqueue_latency, block_io_latency]\n"
    )

    result = suite.runpytest("-m", "local", "-k", "fio", "--telescope-kernel", "on")

    result.assert_outcomes(passed=1)
    rows = {row["metric"]: row for row in read_rows(suite)}
    assert rows["runqueue_latency_p99"]["slo"] == {"verdict": "pass", "thresholds": ["runqueue_latency_p99 <= 10 s"]}
    assert rows["block_io_latency_count"]["value"] >= 1
    assert rows["block_io_latency_count"]["histogram"]["unit"] == "us"
    assert "tcp_retransmits" not in rows  # not chosen by the scenario
    (case,) = [case for case in next(iter(xunit2.JUnitXml.fromfile(str(run_dir(suite) / "junit.xml")))) if case.classname == "test_suite"]
    assert {"runqueue_latency_p99", "block_io_latency_count"} <= {p.name for p in case.properties()}
    assert "block io latency of test_fio[local-default]" in (run_dir(suite) / "report.html").read_text()
    assert leftovers(suite) == []


def test_slo_out_of_reach_fails_with_numbers_and_keeps_samples(suite):
    suite.path.joinpath("iperf3.yaml").write_text(IPERF3 % 10**9)

    result = suite.runpytest("-m", "local", "-k", "iperf3")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*1 SLO violation: throughput_received = * Mbit/s, expected >= 1e+09 Mbit/s"])
    assert "Traceback" not in result.stdout.str()
    rows = read_rows(suite)
    assert rows and {row["outcome"] for row in rows} == {"failed"}
    assert next(r for r in rows if r["metric"] == "throughput_received")["slo"]["verdict"] == "fail"
    (case,) = [case for case in next(iter(xunit2.JUnitXml.fromfile(str(run_dir(suite) / "junit.xml")))) if case.classname == "test_suite"]
    assert "expected >= 1e+09 Mbit/s" in case.result[0].message
    assert leftovers(suite) == []


def test_provisioning_out_of_its_slo_fails_the_run_as_its_own_test(suite):
    suite.path.joinpath("fio.yaml").write_text(FIO.replace("provision_duration: {max: 2, unit: min}", "provision_duration: {max: 1, unit: ms}"))

    result = suite.runpytest("-m", "local", "-k", "fio")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*provision[[]local[]] failed: 1 SLO violation:*"])
    cases = {case.name: case for case in next(iter(xunit2.JUnitXml.fromfile(str(run_dir(suite) / "junit.xml"))))}
    assert "expected <= 1 ms" in cases["provision[local]"].result[0].message
    assert cases["test_fio[local-default]"].is_passed
    assert leftovers(suite) == []


def test_k_selects_only_matching_cases(suite):
    result = suite.runpytest("-m", "local", "-k", "fio")

    result.assert_outcomes(passed=1, deselected=9)
    assert {row["benchmark"] for row in read_rows(suite)} == {"fio"}


def test_each_cloud_is_a_marked_parameter(suite):
    result = suite.runpytest("--collect-only", "-q", "-m", "eks")

    result.stdout.fnmatch_lines(["*test_iperf3[[]eks-tcp[]]", "*test_fio[[]eks-default[]]", "*2/10 tests collected*"])


def test_under_xdist_all_samples_reach_one_jsonl_and_the_target_is_applied_once(suite, tmp_path, monkeypatch):
    shim = tmp_path / "bin"
    shim.mkdir()
    calls = tmp_path / "terraform-calls"
    real = subprocess.run(["which", "terraform"], capture_output=True, text=True).stdout.strip()
    (shim / "terraform").write_text(f'#!/bin/sh\necho "$1" >> {calls}\nexec {real} "$@"\n')
    (shim / "terraform").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    result = suite.runpytest_subprocess("-m", "local", "-n", "2")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["[[]telescope[]] provision local ...", "[[]telescope[]] provision local: done in *"])
    rows = read_rows(suite, provisioning=True)
    assert {row["benchmark"] for row in rows} == {"iperf3", "fio", "provision"}
    assert {row["metric"] for row in rows if row["benchmark"] == "provision"} >= {"provision_duration", "destroy_duration"}
    # The two tests share the target; the time each waited for the other's turn on it is apart from its own time.
    (suite_xml,) = xunit2.JUnitXml.fromfile(str(run_dir(suite) / "junit.xml"))
    waits = {case.name: [p.value for p in case.properties() if p.name == "target_lock_wait"] for case in suite_xml if case.classname != "telescope"}
    assert all(len(values) == 1 and values[0].endswith(" s") for values in waits.values()), waits
    assert calls.read_text().split().count("apply") == 1
    assert calls.read_text().split().count("destroy") == 1
    assert leftovers(suite) == []


SHAPED = """
benchmark: iperf3
clouds: [local]
target:
  local: {rate_mbit: %d}
params: {duration: 1}
include:
  - {id: tcp, protocol: tcp}
"""

UDP = """
benchmark: iperf3
clouds: [local]
params: {duration: 1}
include:
  - {id: udp-10M, protocol: udp, bandwidth: 10M}
"""

TWO_LINKS = '''
import pytest


@pytest.mark.scenario("shaped.yaml")
def test_shaped(iperf3_run):
    iperf3_run()


@pytest.mark.scenario("udp.yaml")
def test_udp(iperf3_run):
    iperf3_run()
'''


def test_a_metric_worse_than_the_baseline_fails_exactly_its_test(local_suite):
    pytester = local_suite
    pytester.makepyfile(test_two_links=TWO_LINKS)
    pytester.path.joinpath("udp.yaml").write_text(UDP)
    pytester.path.joinpath("shaped.yaml").write_text(SHAPED % 200)
    # Round trips and jitter over loopback swing more than any useful tolerance; throughput does not.
    # Four repeats a side is the fewest with which the Mann-Whitney U test can reach p < 0.05 (2/70).
    options = ["-m", "local", "--telescope-repeat=4", "--telescope-tolerance=5%,rtt_mean=1000%,jitter=1000%"]
    # Run ids name the target's namespaces: unique ones keep two copies of this test on one machine apart.
    before, after = (f"{when}-{secrets.token_hex(3)}" for when in ("before", "after"))
    pytester.runpytest_subprocess(*options, f"--telescope-run-id={before}").assert_outcomes(passed=2)

    pytester.path.joinpath("shaped.yaml").write_text(SHAPED % 50)
    result = pytester.runpytest_subprocess(*options, f"--telescope-run-id={after}", "--telescope-baseline=results")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_shaped[[]local-tcp[]] _*",
            "? regressions against the baseline:",
            "  throughput_sent = * Mbit/s (median of 4), baseline * Mbit/s (median of 4): -*% (95% CI -*% to -*%),"
            " tolerance 5%, higher is better: regression (Mann-Whitney U p = 0.029)",
            "  throughput_received = * Mbit/s (median of 4), baseline * Mbit/s (median of 4): -7*% (95% CI -*% to -*%),"
            " tolerance 5%, higher is better: regression (Mann-Whitney U p = 0.029)",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED test_two_links.py::test_shaped[[]local-tcp[]]*"])
    rows = [json.loads(line) for line in (pytester.path / "results" / after / "results.jsonl").read_text().splitlines()]
    assert sorted({row["repeat"] for row in rows}) == [0, 1, 2, 3]
    report = (pytester.path / "results" / after / "report.html").read_text()
    assert re.search(r'<text class="change regression"[^>]*>-7\d%<title>', report)


def test_help_lists_every_option(pytester):
    result = pytester.runpytest("--help")

    assert result.ret == 0
    result.stdout.fnmatch_lines(["*--telescope-tolerance*", "*5%*", "*--telescope-kwok-manifests*", "*--telescope-keep-target*"])


def test_a_scenario_typo_still_writes_junit_with_the_error(suite):
    suite.path.joinpath("iperf3.yaml").write_text("benchmark: iperf3\nslo:\n  thruput: {min: 1}\n")

    result = suite.runpytest_subprocess("-m", "local")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    (junit,) = (suite.path / "results").glob("*/junit.xml")
    (testsuite,) = xunit2.JUnitXml.fromfile(str(junit))
    (case,) = list(testsuite)
    (error,) = case.result
    assert case.name == "test_suite.py"
    assert "iperf3.yaml: slo.thruput: unknown metric" in error.message
