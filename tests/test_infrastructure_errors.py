"""Infrastructure failures are not benchmark failures: a target that did not provision is an error,
a missed SLO a failure, and a run whose benchmarks passed but whose targets were left says so."""

import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from doubles.own_terraform import wrapped_local_module

from pytest_telescope.ending import EXIT_CLEANUP_FAILED

REPO = Path(__file__).resolve().parents[1]

SUITE = '''
import pytest
from pytest_telescope.samples import Sample


@pytest.mark.scenario("plain.yaml")
def test_on_the_target(target, case, record_samples):
    record_samples(Sample("throughput_received", 200, "Mbit/s"))


def test_slo_missed(record_samples):
    record_samples.expect("throughput_received", min=100, unit="Mbit/s")
    record_samples(Sample("throughput_received", 95.4, "Mbit/s"))
'''
PLAIN = "benchmark: iperf3\nclouds: [local]\ninclude: [{id: tcp, protocol: tcp}]\n"

# Beside the shipped local module, a resource whose destroy is refused until allow-destroy exists.
REFUSES_DESTROY = """
resource "terraform_data" "refuses_destroy" {
  provisioner "local-exec" {
    when    = destroy
    command = "test -e %s || { echo 'AuthorizationFailed: not allowed to delete' >&2; exit 1; }"
  }
}
"""


def junit_results(pytester) -> dict[str, list[str]]:
    (run_dir,) = (pytester.path / "results").iterdir()
    suite = ElementTree.parse(run_dir / "junit.xml").getroot().find("testsuite")
    return {case.get("name"): [f"{child.tag}:{child.get('type')}" for child in case if child.tag != "properties" and child.tag != "system-out"] for case in suite.iter("testcase")}


@pytest.fixture
def suite(local_suite):
    local_suite.makepyfile(test_suite=SUITE)
    local_suite.path.joinpath("plain.yaml").write_text(PLAIN)
    return local_suite


def test_a_target_that_did_not_provision_is_an_error_and_a_missed_slo_a_failure(suite):
    broken = REPO / "tests/data/terraform-broken"
    result = suite.runpytest_subprocess(f"--telescope-terraform-dir={broken}")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert junit_results(suite) == {
        "test_on_the_target[local-tcp]": ["error:ProvisionError"],
        "test_slo_missed": ["failure:SLOViolation"],
        "provision[local]": ["error:ProvisionError"],  # the failed apply, as a test of its own
    }
    result.stdout.fnmatch_lines([
        "telescope: 0 passed, 1 failed (the benchmark: an SLO or baseline missed), "
        "2 errors (the infrastructure: a target that did not provision, validate or clean up)",
    ])  # fmt: skip
    (run_dir,) = (suite.path / "results").iterdir()
    report = (run_dir / "report.html").read_text()
    assert "Errors: the infrastructure, not the benchmarks" in report
    assert "test_suite.py::test_on_the_target[local-tcp]</code>: terraform apply failed" in report


@pytest.fixture
def refused_destroy(suite) -> tuple[Path, Path]:
    """Terraform modules whose local target refuses to be destroyed until the returned file exists."""
    allow = suite.path / "allow-destroy"
    return wrapped_local_module(suite.path / "modules", REFUSES_DESTROY % allow), allow


def test_passed_but_cleanup_failed_says_so_with_the_command_and_its_own_exit_status(suite, refused_destroy):
    modules, allow = refused_destroy

    result = suite.runpytest_subprocess("-k", "on_the_target", "--telescope-run-id", "left-1", f"--telescope-terraform-dir={modules}")

    assert result.ret == EXIT_CLEANUP_FAILED
    result.stdout.fnmatch_lines([
        "*destroy failed: terraform destroy failed (status 1)*",
        "*AuthorizationFailed: not allowed to delete*",
        "*passed, cleanup failed: targets left behind; destroy them with: telescope cleanup --state-dir .telescope --run-id left-1",
        "telescope: 2 passed, 0 failed (the benchmark*), 1 errors (the infrastructure*)",  # the test and its target's apply
    ])  # fmt: skip
    results = junit_results(suite)
    assert results["test_on_the_target[local-tcp]"] == []
    assert results["cleanup"] == ["error:CleanupError"]

    allow.touch()
    cleanup = suite.run(sys.executable, "-m", "pytest_telescope.cli", "cleanup", "--state-dir", ".telescope", "--run-id", "left-1")
    assert cleanup.ret == 0
    assert not (suite.path / ".telescope/left-1").exists()


def test_a_failed_benchmark_keeps_its_exit_status_when_cleanup_also_failed(suite, refused_destroy):
    modules, allow = refused_destroy

    result = suite.runpytest_subprocess("--telescope-run-id", "left-2", f"--telescope-terraform-dir={modules}")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*] cleanup failed: targets left behind; destroy them with: telescope cleanup*"])
    allow.touch()
    assert suite.run(sys.executable, "-m", "pytest_telescope.cli", "cleanup", "--state-dir", ".telescope", "--run-id", "left-2").ret == 0
