"""Sharding by target: the job matrix of the shipped suites, and the selection of one target's tests."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_telescope import scenario
from pytest_telescope.provision.pool import PROVIDERS
from pytest_telescope.shard import UNTARGETED, job_name, key_of, parameter
from pytest_telescope.targets import TargetSpec

REPO = Path(__file__).resolve().parents[1]
CLOUDS = "local or aks or eks or gke"


def telescope_matrix(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest_telescope.cli", "matrix", *args], cwd=cwd, capture_output=True, text=True
    )


def collected(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *args],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    return [line for line in result.stdout.splitlines() if "::" in line]


@pytest.fixture(scope="module")
def shipped_matrix() -> dict:
    result = telescope_matrix("benchmarks/", "-m", CLOUDS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_shipped_suites_get_one_job_per_cloud_and_cluster_shape(shipped_matrix):
    shapes = sorted((job["cloud"], job["clusterShape"]) for job in shipped_matrix.values())
    expected = set()  # what each suite of benchmarks/ provisions on each cloud asked for
    for path in REPO.glob("benchmarks/*/*.yaml"):
        suite = scenario.load(path)
        for cloud in set(suite.clouds) & set(CLOUDS.split(" or ")):
            expected.add((cloud, TargetSpec.of(cloud, PROVIDERS[cloud].provisioned(suite.target_settings(cloud))).frozen))
    assert shapes == sorted(expected)
    assert {"cloud", "clusterShape", "pytestSelection", "targetKey", "tests"} == set().union(*shipped_matrix.values())
    for name, job in shipped_matrix.items():
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,99}", name) and name == job_name(job["targetKey"])
        assert all(isinstance(value, str) for value in job.values())  # matrix variables are strings


def test_every_selected_test_is_in_exactly_one_job(shipped_matrix):
    assert sum(int(job["tests"]) for job in shipped_matrix.values()) == len(collected("benchmarks/", "-m", CLOUDS))


def test_a_jobs_selection_runs_exactly_its_targets_tests(shipped_matrix):
    (cross_zone,) = [job for job in shipped_matrix.values() if '"zones"' in job["clusterShape"]]
    selection = shlex.split(cross_zone["pytestSelection"])
    assert selection[:3] == ["benchmarks/", "-m", CLOUDS]
    tests = collected(*selection)
    assert len(tests) == int(cross_zone["tests"])
    assert all(re.search(r"test_iperf3_cross_zone\[aks-", test) for test in tests)


def test_clouds_not_asked_for_are_left_out_and_said_so():
    result = telescope_matrix("benchmarks/storage/")
    assert result.returncode == 0, result.stderr
    assert {job["cloud"] for job in json.loads(result.stdout).values()} == {"local"}
    for cloud in ("aks", "eks", "gke", "existing"):
        assert f"3 tests on {cloud} left out: it runs only when asked for with -m {cloud}" in result.stderr


def test_a_collection_error_is_shown_and_no_matrix_printed(tmp_path):
    (tmp_path / "test_broken.py").write_text("import nothing_of_this_name\n")
    result = telescope_matrix(str(tmp_path))
    assert result.returncode == pytest.ExitCode.INTERRUPTED and result.stdout == ""
    assert "nothing_of_this_name" in result.stderr


LOCAL_SUITE = """
import pytest

@pytest.mark.scenario("plain.yaml")
def test_plain(target, case):
    pass

@pytest.mark.scenario("shaped.yaml")
def test_shaped(target, case):
    pass

def test_no_target():
    pass
"""


@pytest.fixture
def two_targets(pytester):
    pytester.makepyfile(test_suite=LOCAL_SUITE)
    pytester.path.joinpath("plain.yaml").write_text("benchmark: iperf3\nclouds: [local]\ninclude: [{id: a}, {id: b}]\n")
    pytester.path.joinpath("shaped.yaml").write_text(
        "benchmark: iperf3\nclouds: [local]\ntarget: {local: {rate_mbit: 100}}\ninclude: [{id: c}]\n"
    )
    return pytester


def test_the_target_key_keeps_only_that_targets_tests(two_targets):
    keys = {"local": ["test_plain[local-a]", "test_plain[local-b]"], "none": ["test_no_target"]}
    for key, tests in keys.items():
        result = two_targets.runpytest("--collect-only", "-q", "--telescope-target-key", key)
        assert [line.split("::")[1] for line in result.outlines if "::" in line] == tests


def test_the_target_key_is_also_an_ini_setting(two_targets):
    two_targets.makeini("[pytest]\ntelescope_target_key = none\n")
    result = two_targets.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["test_suite.py::test_no_target", "1/4 tests collected (3 deselected)*"])


def test_an_unknown_target_key_names_the_selections_targets(two_targets):
    result = two_targets.runpytest("--collect-only", "--telescope-target-key", "aks-0000")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--telescope-target-key aks-0000: no selected test runs on this target (the selection's targets: local, local-*, none; see telescope matrix)"])


def test_a_test_s_target_and_case_are_its_parameters_and_its_key_the_target_s(two_targets):
    items = {item.name: item for item in two_targets.getitems(Path("test_suite.py"))}
    assert parameter(items["test_plain[local-a]"], "case").id == "a"
    assert parameter(items["test_plain[local-a]"], "target").cloud == "local"
    assert parameter(items["test_no_target"], "target") is None
    assert key_of(items["test_plain[local-a]"]) == key_of(items["test_plain[local-b]"]) == "local"
    assert key_of(items["test_shaped[local-c]"]).startswith("local-")
    assert key_of(items["test_no_target"]) == UNTARGETED
