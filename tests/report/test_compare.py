"""``telescope compare A B``: the table, the exit code and the HTML report."""

import json
from pathlib import Path

from pytest_telescope.report.compare import main

DATA = Path(__file__).parents[1] / "data"
BASELINE = str(DATA / "rows-baseline.jsonl")
CURRENT = str(DATA / "rows-current.jsonl")
RANDREAD = "benchmarks/storage/test_fio.py::test_fio[local-randread-4k]"


def test_a_directory_of_runs_is_compared_without_the_run_being_judged(tmp_path, capsys):
    runs = {}
    for line in Path(BASELINE).read_text().splitlines() + Path(CURRENT).read_text().splitlines():
        runs.setdefault(json.loads(line)["run_id"], []).append(line)
    for run_id, lines in runs.items():
        (tmp_path / run_id).mkdir()
        (tmp_path / run_id / "results.jsonl").write_text("\n".join(lines) + "\n")
    (current_run,) = [run_id for run_id in runs if run_id in Path(CURRENT).read_text()]

    assert main([str(tmp_path), str(tmp_path / current_run)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "test", "metric", "A", "median", "B", "median", "unit", "change", "95%", "CI", "tolerance", "p", "verdict",
    ]
    assert "801 (n=3)" in [line for line in lines if "REGRESSION" in line][0]  # A is the other three runs
    assert lines[-1].startswith("34 metrics compared: 1 regression,")


def test_a_run_is_not_its_own_baseline(capsys):
    assert main([CURRENT, CURRENT]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "0 metrics compared: 0 regressions, 0 improvements, 0 changed, 0 inconclusive, 0 unchanged;"
        " 0 only in A, 34 only in B"
    )


def test_a_regression_is_shown_in_the_table_and_fails_the_command(capsys):
    assert main([BASELINE, CURRENT]) == 1
    out = capsys.readouterr().out
    # One run against three: 4941 retransmits lies further from the baseline's median than its runs spread (679 to 1433).
    (line,) = [line for line in out.splitlines() if "REGRESSION" in line]
    assert line.split() == [
        "test_iperf3[local-tcp-parallel1]", "retransmits", "801", "(n=3)", "4941", "(n=1)", "count", "+516.9%", "-", "5%",
        "-", "REGRESSION",
    ]
    (rtt,) = [line for line in out.splitlines() if "parallel4" in line and "rtt_mean" in line]
    assert rtt.split()[-2:] == ["inconclusive", "(n=1)"]  # +29.4%, but within the spread of the three runs
    assert "34 metrics compared: 1 regression, 1 improvement, 1 changed, 19 inconclusive, 12 unchanged" in out


def test_a_per_metric_tolerance_can_let_a_noisy_metric_pass(capsys):
    assert main([BASELINE, CURRENT, "--tolerance", "5%,retransmits=600%"]) == 0
    assert "REGRESSION" not in capsys.readouterr().out


def test_one_metric_made_worse_is_the_only_regression(tmp_path, capsys):
    rows = [json.loads(line) for line in Path(BASELINE).read_text().splitlines()]
    first_run = [r for r in rows if r["run_id"] == rows[0]["run_id"]]
    worse = tmp_path / "worse.jsonl"
    slower = (RANDREAD, "read_clat_p99")
    worse.write_text(
        "".join(
            json.dumps({**r, "run_id": "worse", "value": r["value"] * (5 if (r["test"], r["metric"]) == slower else 1)})
            + "\n"
            for r in first_run
        )
    )
    assert main([BASELINE, str(worse)]) == 1
    regressions = [line for line in capsys.readouterr().out.splitlines() if "REGRESSION" in line]
    assert [line.split()[:2] for line in regressions] == [["test_fio[local-randread-4k]", "read_clat_p99"]]


def test_keys_on_one_side_only_are_counted(tmp_path, capsys):
    first_test = [line for line in Path(CURRENT).read_text().splitlines() if "tcp-parallel4" in line]
    only_some = tmp_path / "some.jsonl"
    only_some.write_text("\n".join(first_test) + "\n")
    assert main([BASELINE, str(only_some)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("; 28 only in A, 0 only in B")


def test_writes_an_html_report_of_b_against_a(tmp_path, capsys):
    report = tmp_path / "out" / "report.html"
    assert main([BASELINE, CURRENT, "--html", str(report)]) == 1
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "Baseline: 102 samples from 3 runs" in text
    assert capsys.readouterr().out.splitlines()[-1] == f"report: {report}"


def test_an_unreadable_input_exits_2_naming_it(tmp_path, capsys):
    assert main([BASELINE, str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: no such file or directory" in capsys.readouterr().err


def test_a_malformed_tolerance_exits_2(capsys):
    assert main([BASELINE, CURRENT, "--tolerance", "five"]) == 2
    assert "expected a percentage" in capsys.readouterr().err
