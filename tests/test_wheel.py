"""The plugin as a user gets it: the built wheel, installed in a fresh virtualenv, runs a
suite of their own, with a tool of their own, in a folder outside this checkout, with no
configuration file: the Terraform module of the local target comes from the package."""

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTSIDE = REPO / "tests" / "data" / "outside"  # a user's own suite and tool

DD_SUITE = '''
import pytest
import dd_tool


@pytest.mark.scenario("dd.yaml")
def test_dd(target, case, record_samples):
    (host,) = target.endpoints("client")
    result = host.run(dd_tool.command(host.scratch_dir + "/dd.dat", **case.params), timeout=60)
    record_samples(dd_tool.parse(result.stderr, result.argv))
'''

CONFTEST = '''
import dd_tool


def pytest_telescope_register_tools(register):
    register("dd", dd_tool)
'''


def run(*argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)


def test_the_wheel_in_a_fresh_virtualenv_runs_a_suite_of_its_own_on_the_local_target(tmp_path):
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    source = tmp_path / "source"  # setuptools writes its egg-info beside the sources
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "results", "__pycache__", "*.egg-info", "build"))
    offline = ("--no-deps", "--no-index", "--quiet")  # setuptools from the test extra, no download
    built = run(sys.executable, "-m", "pip", "wheel", *offline, "--no-build-isolation", "-w", str(tmp_path / "dist"), str(source), env=env)
    assert built.returncode == 0, built.stderr
    assert not built.stderr.replace("\n", ""), f"building the wheel warned:\n{built.stderr}"
    (wheel,) = (tmp_path / "dist").glob("pytest_telescope-*.whl")

    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", str(venv)).returncode == 0
    python = venv / "bin" / "python"
    installed = run(sys.executable, "-m", "pip", "--python", str(python), "install", *offline, str(wheel), env=env)
    assert installed.returncode == 0, installed.stderr
    # The dependencies from this virtualenv's site-packages, as --system-site-packages would
    # give them, so that the test needs no download; the plugin itself only from the wheel.
    (own_site,) = run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.split()
    Path(own_site, "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    user = tmp_path / "their-benchmarks"
    user.mkdir()
    shutil.copy(OUTSIDE / "network_suite.py", user / "test_network.py")
    (user / "iperf3.yaml").write_text("benchmark: iperf3\nparams: {duration: 1, protocol: tcp}\n")
    (user / "test_storage.py").write_text(DD_SUITE)
    (user / "dd.yaml").write_text("benchmark: dd\nparams: {count: 8}\nslo:\n  write_throughput: {min: 1, unit: MB/s}\n")
    (user / "conftest.py").write_text(CONFTEST)
    shutil.copy(OUTSIDE / "dd_tool.py", user / "dd_tool.py")

    where = run(str(python), "-c", "import pytest_telescope; print(pytest_telescope.__file__)", cwd=user, env=env)
    assert where.stdout.startswith(own_site), where.stdout + where.stderr
    result = run(str(python), "-m", "pytest", "-m", "local", "-p", "no:cacheprovider", "--telescope-prometheus", "off", cwd=user, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout, result.stdout
    (run_dir,) = (user / "results").iterdir()
    rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    rows = [row for row in rows if row["benchmark"] != "provision"]  # provisioning's own timings
    assert {row["benchmark"] for row in rows} == {"iperf3", "dd"}
    assert {row["target"]["endpoints"]["client"]["namespace"] for row in rows if row["benchmark"] == "dd"}
    assert (run_dir / "junit.xml").is_file()
    assert not (user / "terraform").exists()
    namespaces = run("ip", "netns", "list").stdout
    assert not {e["namespace"] for row in rows for e in row["target"]["endpoints"].values()} & set(namespaces.split())
