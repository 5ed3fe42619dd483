"""telescope merge: the result folders of a run's jobs as one run."""

import json
import xml.etree.ElementTree as ElementTree

from pytest_telescope import cli

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest-telescope" timestamp="{timestamp}" tests="{tests}">
<properties><property name="run_id" value="77"/></properties>
{cases}
</testsuite></testsuites>
"""


def job_folder(path, timestamp, cases: dict[str, str], rows: dict[str, float]):
    """A job's results/<run id>/: ``cases`` maps a test name to its outcome element ('' when it passed)."""
    path.mkdir(parents=True)
    body = "\n".join(f'<testcase classname="test_suite" name="{name}" time="1.5">{outcome}</testcase>' for name, outcome in cases.items())
    (path / "junit.xml").write_text(JUNIT.format(timestamp=timestamp, tests=len(cases), cases=body))
    lines = [
        {"schema_version": 1, "run_id": "77", "test": f"test_suite.py::{name}", "cloud": "local", "benchmark": "iperf3",
         "case": name, "params": {}, "outcome": "passed", "target": {}, "timestamp": timestamp, "repeat": 0,
         "metric": "throughput_received", "value": value, "unit": "Mbit/s", "better": "higher", "judged": True, "labels": {}, "slo": {"verdict": "none", "thresholds": []}}
        for name, value in rows.items()
    ]  # fmt: skip
    (path / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in lines))
    return path


def merged_cases(path) -> dict[str, list[str]]:
    suite = ElementTree.parse(path / "junit.xml").getroot().find("testsuite")
    return {case.get("name"): [child.tag for child in case] for case in suite.iter("testcase")}


def test_every_testcase_once_and_a_job_run_again_replaces_its_first_attempt(tmp_path, capsys):
    aks_1 = job_folder(tmp_path / "telescope-aks-1", "2026-11-27T01:00:00Z", {"t_a": "<error message='provision failed'/>"}, {})
    eks = job_folder(tmp_path / "telescope-eks-1", "2026-11-27T01:00:05Z", {"t_b": "<failure message='SLO'/>", "t_c": ""}, {"t_b": 1.0, "t_c": 2.0})
    aks_2 = job_folder(tmp_path / "telescope-aks-2", "2026-11-27T02:00:00Z", {"t_a": ""}, {"t_a": 3.0})

    assert cli.main(["merge", str(aks_1), str(eks), str(aks_2), "--into", str(tmp_path / "merged")]) == 0

    assert merged_cases(tmp_path / "merged") == {"t_a": [], "t_b": ["failure"], "t_c": []}
    suite = ElementTree.parse(tmp_path / "merged/junit.xml").getroot().find("testsuite")
    assert {name: suite.get(name) for name in ("tests", "failures", "errors", "skipped", "timestamp", "time")} == {
        "tests": "3", "failures": "1", "errors": "0", "skipped": "0", "timestamp": "2026-11-27T01:00:00Z", "time": "4.5",
    }  # fmt: skip
    assert [p.get("value") for p in suite.iter("property")] == ["77"]
    rows = [json.loads(line) for line in (tmp_path / "merged/results.jsonl").read_text().splitlines()]
    assert sorted((row["test"], row["value"]) for row in rows) == [
        ("test_suite.py::t_a", 3.0), ("test_suite.py::t_b", 1.0), ("test_suite.py::t_c", 2.0)
    ]
    assert all(f"<td>{name}</td>" in (tmp_path / "merged/report.html").read_text() for name in ("t_a", "t_b", "t_c"))
    out = capsys.readouterr().out
    assert "merged 3 folders into" in out and "3 tests: 2 passed, 1 failed, 0 errors, 0 skipped, 3 rows" in out
    assert "throughput_received" in out  # the terminal table


def test_merging_again_into_the_same_folder_does_not_double_the_rows(tmp_path):
    job = job_folder(tmp_path / "job", "2026-11-27T01:00:00Z", {"t_a": ""}, {"t_a": 3.0})
    for _ in range(2):
        assert cli.main(["merge", str(job), "--into", str(tmp_path / "merged")]) == 0
    assert len((tmp_path / "merged/results.jsonl").read_text().splitlines()) == 1


def test_a_job_that_left_no_results_is_named_and_the_others_still_merged(tmp_path, capsys):
    job = job_folder(tmp_path / "job", "2026-11-27T01:00:00Z", {"t_a": ""}, {"t_a": 3.0})
    (tmp_path / "crashed").mkdir()
    assert cli.main(["merge", str(job), str(tmp_path / "crashed"), "--into", str(tmp_path / "merged")]) == 1
    assert f"telescope merge: {tmp_path / 'crashed'}: no results.jsonl or junit.xml" in capsys.readouterr().err
    assert merged_cases(tmp_path / "merged") == {"t_a": []}


def test_a_blob_source_needs_its_run_id(tmp_path, capsys):
    assert cli.main(["merge", "--from", "azure-blob://benchstore/results", "--into", str(tmp_path)]) == 2
    assert "telescope merge: give result folders, or --from URL with --run-id" in capsys.readouterr().err


def test_a_folder_with_another_runs_results_is_not_merged_into(tmp_path):
    other = job_folder(tmp_path / "other", "2026-11-27T00:00:00Z", {"t1": ""}, {"t1": 1.0})
    (other / "results.jsonl").write_text((other / "results.jsonl").read_text().replace('"run_id": "77"', '"run_id": "someone-else"'))
    job = job_folder(tmp_path / "job", "2026-11-27T01:00:00Z", {"t2": ""}, {"t2": 2.0})

    assert cli.main(["merge", str(job), "--into", str(other)]) != 0
    assert '"someone-else"' in (other / "results.jsonl").read_text()
