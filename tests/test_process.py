"""A tool ended by a timeout, Ctrl-C or the end of its test ends with every process it started."""

import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from pytest_telescope import process
from pytest_telescope.errors import ToolError
from pytest_telescope.targets.kubernetes.pod_exec import KILL_SCRIPT, PIDFILE_WRAPPER, STOP_SECONDS
from pytest_telescope.targets.local import LocalEndpoint


@pytest.fixture
def fio():
    """A real ``fio --numjobs=2`` (a parent and two job processes), named so that its processes can be found."""
    name = f"spin-{secrets.token_hex(4)}"
    argv = ["fio", f"--name={name}", "--ioengine=null", "--size=1g", "--time_based", "--runtime=60", "--numjobs=2"]
    yield argv, name
    for pid in processes_named(name):  # a failed test's leftovers
        os.kill(pid, 9)


def processes_named(name: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"--name={name}".encode() in cmdline.read_bytes().split(b"\0"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


@pytest.fixture
def namespace():
    name = f"telescope-test-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield name
    subprocess.run(["ip", "netns", "delete", name], check=True)


def test_a_timeout_kills_the_jobs_a_tool_forked(fio):
    argv, name = fio
    with pytest.raises(ToolError, match="did not finish within 1 s"):
        process.run(argv, timeout=1)

    assert processes_named(name) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_in_a_namespace_a_timeout_or_the_end_of_a_background_tool_kills_its_jobs(fio, namespace):
    argv, name = fio
    endpoint = LocalEndpoint("client", "127.0.0.1", namespace, "/tmp", echo=None)

    with pytest.raises(ToolError, match="did not finish within 1 s"):
        endpoint.run(argv, timeout=1)
    assert processes_named(name) == []

    with endpoint.start(argv) as background:
        while len(processes_named(name)) < 3 and background.running():
            time.sleep(0.05)
    assert processes_named(name) == []


def test_in_a_pod_the_kill_script_ends_a_tool_and_the_processes_it_put_in_sessions_of_their_own(tmp_path):
    """The scripts a Kubernetes endpoint runs in the pod's container, run here with sh: the tool ignores
    SIGTERM and its child is in a session of its own, out of reach of the tool's group."""
    pidfile, name = tmp_path / "pid", f"spin-{secrets.token_hex(4)}"
    sleeper = f'python3 -c "import time; time.sleep(300)" --name={name}'
    tool = ["sh", "-c", f'trap "" TERM; setsid {sleeper} & {sleeper}; wait']
    started = subprocess.Popen(["sh", "-c", PIDFILE_WRAPPER, "sh", str(pidfile), *tool])
    deadline = time.monotonic() + 10
    while len(processes_named(name)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)

    try:
        subprocess.run(["sh", "-c", KILL_SCRIPT, "sh", str(pidfile)], check=True, timeout=STOP_SECONDS)
        assert started.wait(timeout=5) == 128 + 9  # the wrapper's status: its tool's, killed
        assert processes_named(name) == []
    finally:
        for pid in processes_named(name):  # a failed test's leftovers
            os.kill(pid, 9)
