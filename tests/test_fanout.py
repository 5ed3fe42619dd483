"""The nightly pipeline's fan-out, simulated here: the matrix of a local suite, one pytest process
per job running its shard and publishing to Azurite as the shared store, then the merge."""

import json
import os
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

import pytest
from azurite_service import AZURITE_ACCOUNT, connection_string, running_azurite

SUITE = """
import pytest


@pytest.mark.scenario("plain.yaml")
def test_plain(iperf3_run):
    iperf3_run()


@pytest.mark.scenario("shaped.yaml")
def test_shaped(iperf3_run):
    iperf3_run()
"""

PLAIN = """
benchmark: iperf3
clouds: [local]
params: {duration: 1, protocol: tcp}
include:
  - {id: tcp}
  - {id: tcp-reverse, reverse: true}
slo:
  throughput_received: {min: 1, unit: Mbit/s}
"""

SHAPED = """
benchmark: iperf3
clouds: [local]
target:
  local: {rate_mbit: 100}
params: {duration: 1, protocol: tcp}
include:
  - {id: tcp-100M-link}
slo:
  throughput_received: {max: 105, unit: Mbit/s}
"""
RUN_ID = "4242"


@pytest.fixture
def store(tmp_path_factory):
    """A blob container on Azurite, and the environment that reaches it."""
    from azure.storage.blob import BlobServiceClient

    with running_azurite(tmp_path_factory.mktemp("azurite")) as port:
        with BlobServiceClient.from_connection_string(connection_string(port)) as service:
            service.create_container("results")
        yield f"azure-blob://{AZURITE_ACCOUNT}/results/nightly", {**os.environ, "AZURE_STORAGE_CONNECTION_STRING": connection_string(port)}


def telescope(*args, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest_telescope.cli", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_two_jobs_publish_their_shards_and_the_merge_holds_every_test_once(local_suite, store):
    suite = local_suite
    suite.makepyfile(test_suite=SUITE)
    suite.path.joinpath("plain.yaml").write_text(PLAIN)
    suite.path.joinpath("shaped.yaml").write_text(SHAPED)
    url, env = store

    matrix = telescope("matrix", ".", cwd=suite.path)
    assert matrix.returncode == 0, matrix.stderr
    jobs = json.loads(matrix.stdout)
    assert sorted(job["tests"] for job in jobs.values()) == ["1", "2"]

    started = time.monotonic()
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", "pytest", *shlex.split(job["pytestSelection"]), "--telescope-run-id", RUN_ID,
             "--telescope-results-dir", f"{name}/results", "--telescope-state-dir", f"{name}/.telescope",
             "--telescope-publish", url, "--telescope-scenario", f"nightly-{job['targetKey']}"],
            cwd=suite.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for name, job in jobs.items()
    }  # fmt: skip
    try:
        outputs = {name: process.communicate(timeout=300)[0] for name, process in processes.items()}
    finally:
        for process in processes.values():  # a job that hung is ended, and with it its target's teardown runs
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
    for name, process in processes.items():
        assert process.returncode == 0, outputs[name]
    fanned_out = time.monotonic() - started
    assert all(not any((suite.path / name / ".telescope").iterdir()) for name in jobs)  # each job destroyed its target

    merged = telescope("merge", "--from", url, "--run-id", RUN_ID, "--into", "merged", cwd=suite.path, env=env)
    assert merged.returncode == 0, merged.stderr

    benchmarks = {"test_plain[local-tcp]", "test_plain[local-tcp-reverse]", "test_shaped[local-tcp-100M-link]"}
    tests = benchmarks | {f"provision[{job['targetKey']}]" for job in jobs.values()}  # each job's target's own test
    suite_element = ElementTree.parse(suite.path / "merged/junit.xml").getroot().find("testsuite")
    assert sorted(case.get("name") for case in suite_element.iter("testcase")) == sorted(tests)
    assert (suite_element.get("tests"), suite_element.get("failures"), suite_element.get("errors")) == ("5", "0", "0")
    rows = [json.loads(line) for line in (suite.path / "merged/results.jsonl").read_text().splitlines()]
    assert {row["test"].split("::")[1] for row in rows} == tests
    assert {row["run_id"] for row in rows} == {RUN_ID}
    shard_rows = sum(len((suite.path / name / "results" / RUN_ID / "results.jsonl").read_text().splitlines()) for name in jobs)
    assert len(rows) == shard_rows
    report = (suite.path / "merged/report.html").read_text()
    assert all(test in report for test in tests)
    assert f"merged 2 folders into merged: 5 tests: 5 passed, 0 failed, 0 errors, 0 skipped, {len(rows)} rows" in merged.stdout
    print(f"fan-out: {len(jobs)} jobs in {fanned_out:.1f} s, {len(rows)} rows merged")
