"""Fault injection on real runs of the local target: whatever happens, nothing is left.

Each test starts pytest on a small suite in a subprocess, waits until a
benchmark is half-way (the suite writes a marker file), does something
bad to the run, and then checks the machine: no namespace or veth of the
run, no tool process, no state, and the samples measured before the fault
are in the JSONL.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SUITE = '''
import json, os
import pytest
from pytest_telescope.tools import iperf3


def iperf3_run(target, duration):
    server, client = target.endpoints("server", "client")
    port = server.free_port()
    with server.start(iperf3.server_command(port, bind=server.address)) as process:
        server.wait_listening(process, port)
        if duration > 1:
            namespaces = [e["namespace"] for e in target.metadata["endpoints"].values()]
            marker = {"pid": os.getpid(), "port": port, "namespaces": namespaces}
            open("halfway.json", "w").write(json.dumps(marker))
        result = client.run(iperf3.command(server.address, port, duration=duration), timeout=120, check=False)
    return iperf3.parse(result.stdout, result.argv)


@pytest.mark.scenario("iperf3.yaml")
def test_long(target, case, record_samples):
    record_samples(iperf3_run(target, 1))
    record_samples(iperf3_run(target, 60))


@pytest.mark.scenario("iperf3.yaml")
def test_after(target, case, record_samples):
    record_samples(iperf3_run(target, 1))
'''

SCENARIO = "benchmark: iperf3\nclouds: [local]\n"


@pytest.fixture
def run(tmp_path):
    """Start pytest on the suite; yields the process and the suite's directory."""
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "iperf3.yaml").write_text(SCENARIO)
    (tmp_path / "pytest.ini").write_text("[pytest]\ntelescope_prometheus = off\n")
    processes = []

    def start(*args, env=None):
        command = [sys.executable, "-m", "pytest", "-p", "no:terraform", "-p", "no:cacheprovider", *args]
        process = subprocess.Popen(
            command, cwd=tmp_path, env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        processes.append(process)
        return process

    yield start, tmp_path
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_halfway(directory: Path, process: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 60
    while not (directory / "halfway.json").exists():
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "the benchmark never got half-way"
        time.sleep(0.1)
    time.sleep(0.5)
    return json.loads((directory / "halfway.json").read_text())


def wait_for_line(process: subprocess.Popen, text: str) -> str:
    """Read the run's output until a line contains ``text``; returns what was read, for ``finish``."""
    read = []
    for line in process.stdout:
        read.append(line)
        if text in line:
            return "".join(read)
    raise AssertionError(f"the run ended before printing {text!r}:\n{''.join(read)}")


def wait_for_terraform_destroy(process: subprocess.Popen) -> None:
    """Until the run's `terraform destroy` has started, in a process group of its own (a signal sent
    to the run's group between its fork and its setpgid would reach it, as in any program)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            parent, group = int(fields[1]), int(fields[2])
            if parent == process.pid and group != process.pid and b"destroy" in argv[1:2]:
                return
        time.sleep(0.01)
    raise AssertionError("terraform destroy did not start")


def finish(process: subprocess.Popen, already_read: str = "") -> str:
    output, _ = process.communicate(timeout=120)
    return already_read + output


def leftovers(directory: Path, marker: dict) -> list[str]:
    found = []
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    found += [f"namespace {ns}" for ns in marker["namespaces"] if ns in namespaces]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    name = marker["namespaces"][0].split("-")[1]
    found += [f"link {line.split(':')[1].strip()}" for line in links.splitlines() if f"ts{name}" in line]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"iperf3") and str(marker["port"]).encode() in argv:
            found.append(f"process {cmdline.parent.name}: {b' '.join(argv).decode()}")
    state = directory / ".telescope"
    found += [f"state {p.relative_to(directory)}" for p in state.rglob("*")] if state.exists() else []
    return found


def rows(directory: Path, *, provisioning: bool = False) -> list[dict]:
    """The run's rows; those of the targets' provisioning (their own tests) only when asked for."""
    (run_dir,) = (directory / "results").iterdir()
    found = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    return found if provisioning else [row for row in found if row["benchmark"] != "provision"]


def junit(directory: Path) -> str:
    (run_dir,) = (directory / "results").iterdir()
    return (run_dir / "junit.xml").read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["ctrl-c", "sigterm", "sighup"])
def test_a_signal_mid_benchmark_destroys_the_target_and_keeps_the_samples(run, signum):
    start, directory = run
    process = start("-m", "local")
    marker = wait_halfway(directory, process)

    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)  # as a terminal's Ctrl-C does: the whole foreground group
    else:
        process.send_signal(signum)  # as `kill` does: pytest alone
    output = finish(process)

    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "destroy local: done" in output, output
    assert leftovers(directory, marker) == []
    measured = rows(directory)
    assert measured and {row["outcome"] for row in measured} == {"interrupted"}
    assert {row["metric"] for row in measured} >= {"throughput_received"}
    # The apply and the destroy after the interrupt are measured too.
    assert {row["metric"] for row in rows(directory, provisioning=True)} >= {"provision_duration", "destroy_duration"}
    report = junit(directory)
    assert 'name="test_long[local-default]"' in report and "interrupted while running" in report
    assert 'name="test_after[local-default]"' in report and "not run: the session ended" in report


def test_a_killed_xdist_worker_leaves_nothing_and_the_run_goes_on(run):
    start, directory = run
    process = start("-m", "local", "-n", "2", "--max-worker-restart", "1")
    marker = wait_halfway(directory, process)

    os.kill(marker["pid"], signal.SIGKILL)
    output = finish(process)

    assert "crashed" in output, output
    assert "destroy local: done" in output, output
    assert leftovers(directory, marker) == []
    assert {row["test"].split("::")[1] for row in rows(directory)} == {"test_after[local-default]"}


def test_a_failed_apply_leaves_nothing_and_says_where_it_failed(run):
    start, directory = run
    process = start("-m", "local", env={"TELESCOPE_LOCAL_FAIL_AT": "veth"})
    output = finish(process)

    assert process.returncode == 1
    assert "failed at step 'veth'" in output, output
    assert "2 errors" in output, output
    name = re.search(r"create of target '([a-z0-9]+)'", output)[1]
    marker = {"namespaces": [f"telescope-{name}-server", f"telescope-{name}-client"], "port": 0}
    assert leftovers(directory, marker) == []


def test_a_killed_run_is_cleaned_up_by_the_janitor(run):
    start, directory = run
    process = start("-m", "local")
    marker = wait_halfway(directory, process)

    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert any(line.startswith("namespace") for line in leftovers(directory, marker))
    listed = subprocess.run(
        [sys.executable, "-m", "pytest_telescope.cli", "cleanup", "--dry-run"], cwd=directory, capture_output=True, text=True
    )
    assert "not due yet" in listed.stdout, listed.stdout + listed.stderr
    cleaned = subprocess.run(
        [sys.executable, "-m", "pytest_telescope.cli", "cleanup", "--all"], cwd=directory, capture_output=True, text=True
    )

    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert "destroy local: done" in cleaned.stdout
    assert leftovers(directory, marker) == []


def test_ctrl_c_again_during_destroy_is_acknowledged_and_the_teardown_finishes(run):
    start, directory = run
    process = start("-m", "local")
    marker = wait_halfway(directory, process)

    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: Terraform is in the foreground group too
    read = wait_for_line(process, "destroy local ...")
    wait_for_terraform_destroy(process)
    os.killpg(process.pid, signal.SIGINT)
    output = finish(process, read)

    assert "SIGINT: destroying the targets, Ctrl-C again in 5 s to abandon; `telescope cleanup --run-id" in output, output
    assert "destroy local: done" in output, output
    assert "Traceback" not in output and "Interrupt received" not in output, output
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert leftovers(directory, marker) == []
    assert "interrupted while running" in junit(directory)


def test_sigterm_during_publishing_leaves_whole_results_files(run):
    start, directory = run
    process = start("-m", "local")
    marker = wait_halfway(directory, process)

    process.send_signal(signal.SIGTERM)
    read = wait_for_line(process, "publish ")
    process.send_signal(signal.SIGTERM)
    output = finish(process, read)

    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "Traceback" not in output, output
    assert leftovers(directory, marker) == []
    (run_dir,) = (directory / "results").iterdir()
    assert sorted(path.name for path in run_dir.iterdir()) == ["junit.xml", "report.html", "results.jsonl"]
    assert junit(directory).rstrip().endswith("</testsuites>")
    assert (run_dir / "report.html").read_text().rstrip().endswith("</html>")


def test_interrupted_while_provisioning_still_writes_junit_and_leaves_nothing(run):
    start, directory = run
    process = start("-m", "local")
    read = wait_for_line(process, "provision local ...")
    time.sleep(0.5)  # Terraform's apply under way

    os.killpg(process.pid, signal.SIGINT)
    output = finish(process, read)

    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "Traceback" not in output, output
    report = junit(directory)
    assert 'name="test_long[local-default]"' in report and "interrupted while running" in report, report
    assert not (directory / ".telescope").exists() or list((directory / ".telescope").rglob("*")) == []
    assert [ns for ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split() if ns.startswith("telescope-") and ns in output] == []


def test_an_interrupted_xdist_controller_never_reports_a_running_test_as_passed(run):
    start, directory = run
    process = start("-m", "local", "-n", "2")
    marker = wait_halfway(directory, process)

    process.send_signal(signal.SIGINT)  # the controller alone
    output = finish(process)

    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert leftovers(directory, marker) == []
    report = junit(directory)
    long = report[report.index('name="test_long[local-default]"'):].split("</testcase>")[0]
    assert "interrupted while running" in long or "not run" in long, report


DISK_SUITE = '''
import os
from pathlib import Path
import pytest
from pytest_telescope import Sample


def test_one(record_samples):
    record_samples([Sample("m", float(i), "count", {"i": str(i)}) for i in range(30)])


def test_disk_fills(record_samples):
    with open(Path(os.environ["RESULTS_DISK"]) / "filler", "wb", buffering=0) as filler:
        try:
            while filler.write(b"\\0" * 4096):
                pass
        except OSError:
            pass
    record_samples(Sample("m", 1.0, "count"))


def test_three(record_samples):
    record_samples([Sample("m", float(i), "count", {"i": str(i)}) for i in range(30)])
'''


@pytest.fixture
def disk(tmp_path):
    """``disk(options)``: a small tmpfs as the run's results directory, unmounted after the test."""
    point = tmp_path / "results"
    point.mkdir()

    def mount(options):
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "telescope-test", str(point)], check=True)
        return point

    yield mount
    subprocess.run(["umount", "--lazy", str(point)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a file system needs root")
def test_a_read_only_results_directory_stops_the_run_before_anything_is_provisioned(run, disk):
    start, directory = run
    results = disk("ro,size=64k")
    process = start("-m", "local")
    output = finish(process)

    assert process.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert re.search(rf"results directory {results}/[\w.-]+ is not writable: Read-only file system", output), output
    assert "provision" not in output and not (directory / ".telescope").exists(), output


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a file system needs root")
def test_a_results_disk_full_mid_run_loses_no_sample_silently_and_leaves_no_cut_off_line(run, disk):
    start, directory = run
    (directory / "test_suite.py").write_text(DISK_SUITE)
    results = disk("size=256k")
    process = start(env={"RESULTS_DISK": str(results)})
    output = finish(process)

    assert "3 passed" in output and process.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert re.search(r"could not write 30 rows of test_suite\.py::test_three to .*results\.jsonl: No space left on device", output), output
    assert re.search(r"could not write .*junit\.xml: No space left on device", output), output
    assert "INTERNALERROR" not in output, output
    (run_dir,) = [path for path in results.iterdir() if path.is_dir()]
    lines = (run_dir / "results.jsonl").read_text().splitlines(keepends=True)
    tests = [json.loads(line)["test"] for line in lines]  # the filler may leave room for test_disk_fills' row
    assert tests[:30] == ["test_suite.py::test_one"] * 30 and "test_suite.py::test_three" not in tests
    assert all(line.endswith("\n") for line in lines)
    junit_file = run_dir / "junit.xml"
    assert not junit_file.exists() or junit_file.read_text().rstrip().endswith("</testsuites>")
