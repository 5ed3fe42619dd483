"""A run id is a name: the plugin never deletes a directory it did not create and record as its own."""

import json
import os
import socket
import subprocess
import sys

import pytest

from pytest_telescope.provision.runs import OWNER_FILE

SUITE = "def test_nothing():\n    pass\n"


@pytest.fixture
def suite(pytester):
    pytester.makepyfile(test_suite=SUITE)
    return pytester


@pytest.mark.parametrize("make_run_id", [
    lambda victim: str(victim),             # an absolute path
    lambda victim: "../" + victim.name,      # out of the state directory
    lambda victim: ".",                      # the state directory itself
    lambda victim: "..",
    lambda victim: "a/b",
    lambda victim: "x" * 65,
])
def test_a_path_as_run_id_is_refused_and_nothing_is_deleted(suite, make_run_id):
    victim = suite.path / "victim"
    (victim / "keep").mkdir(parents=True)
    state = suite.path / ".telescope"
    (state / "other-run").mkdir(parents=True)
    (state / "other-run" / OWNER_FILE).write_text("{}")

    result = suite.runpytest_subprocess("--collect-only", f"--telescope-run-id={make_run_id(victim)}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--telescope-run-id: * is not a run id: up to 64 letters, digits*"])
    assert (victim / "keep").is_dir() and (state / "other-run" / OWNER_FILE).is_file()


def test_a_run_id_in_use_by_a_live_run_is_refused(suite):
    run_dir = suite.path / ".telescope" / "busy-1"
    run_dir.mkdir(parents=True)
    # this test's own process stands for the live run
    (run_dir / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    (run_dir / "local-target").mkdir()

    result = suite.runpytest_subprocess("--telescope-run-id=busy-1")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--telescope-run-id busy-1: in use by a run still going on (pid {os.getpid()})*"])
    assert (run_dir / "local-target").is_dir()


def test_a_run_that_claimed_nothing_destroys_nothing(suite):
    """A rerun under a kept run's id that provisions nothing (here: collects only) leaves the kept targets."""
    run_dir = suite.path / ".telescope" / "kept-1"
    (run_dir / "local-target").mkdir(parents=True)
    (run_dir / OWNER_FILE).write_text(json.dumps({"pid": 1, "host": "elsewhere"}))

    suite.runpytest_subprocess("--telescope-run-id=kept-1").assert_outcomes(passed=1)

    assert (run_dir / "local-target").is_dir()


def test_cleanup_touches_only_directories_of_runs(tmp_path):
    foreign = tmp_path / "not-a-run"
    foreign.mkdir()
    (foreign / "data").write_text("mine")

    listed = subprocess.run(
        [sys.executable, "-m", "pytest_telescope.cli", "cleanup", "--state-dir", str(tmp_path), "--all"],
        capture_output=True, text=True,
    )
    refused = subprocess.run(
        [sys.executable, "-m", "pytest_telescope.cli", "cleanup", "--state-dir", str(tmp_path), "--run-id", "../x"],
        capture_output=True, text=True,
    )
    unknown = subprocess.run(
        [sys.executable, "-m", "pytest_telescope.cli", "cleanup", "--state-dir", str(tmp_path), "--run-id", "nosuch"],
        capture_output=True, text=True,
    )

    assert listed.returncode == 0 and (foreign / "data").read_text() == "mine"
    assert refused.returncode == 2 and "'../x' is not a run id" in refused.stderr
    assert unknown.returncode == 0 and "nosuch: nothing found" in unknown.stdout


TARGET_SUITE = '''
import json, pytest


@pytest.mark.scenario("noop.yaml")
def test_namespaces(target, case, record_samples):
    print("NAMESPACES " + json.dumps(sorted(e["namespace"] for e in target.metadata["endpoints"].values())))
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_one_run_id_in_two_state_directories_names_two_targets(local_suite, tmp_path):
    """A run id reused by a run elsewhere (another checkout, another CI job on the machine) must
    neither collide with nor tear down the first run's namespaces."""
    local_suite.makepyfile(test_kept=TARGET_SUITE)
    local_suite.path.joinpath("noop.yaml").write_text("benchmark: iperf3\nclouds: [local]\n")
    kept = local_suite.runpytest_subprocess("-m", "local", "-s", "--telescope-run-id=same-1", "--telescope-keep-target")
    kept.assert_outcomes(passed=1)
    first = json.loads(kept.stdout.str().split("NAMESPACES ")[1].splitlines()[0])
    try:
        again = local_suite.runpytest_subprocess(
            "-m", "local", "-s", "--telescope-run-id=same-1", f"--telescope-state-dir={tmp_path / 'other-state'}"
        )
        again.assert_outcomes(passed=1)
        second = json.loads(again.stdout.str().split("NAMESPACES ")[1].splitlines()[0])
        alive = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout

        assert set(first).isdisjoint(second)
        assert all(namespace in alive for namespace in first), alive
    finally:
        subprocess.run(
            [sys.executable, "-m", "pytest_telescope.cli", "cleanup", "--run-id", "same-1"],
            cwd=local_suite.path, capture_output=True, check=True,
        )
    assert not any(namespace in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout for namespace in first)
