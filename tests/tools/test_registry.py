"""Tools from outside the package: registered through the pytest hook or the entry-point
group, then validated, judged, reported and compared like the built-in ones."""

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_telescope import tools
from pytest_telescope.errors import TelescopeError
from pytest_telescope.samples import LOWER, Metric

DD_TOOL = Path(__file__).resolve().parents[1] / "data" / "outside" / "dd_tool.py"

SUITE = '''
import subprocess
import pytest
import dd_tool


@pytest.mark.scenario("dd.yaml")
def test_dd(case, record_samples, tmp_path):
    result = subprocess.run(dd_tool.command(tmp_path / "dd.dat", **case.params), capture_output=True, text=True, check=True)
    record_samples(dd_tool.parse(result.stderr))
'''

CONFTEST = '''
import dd_tool


def pytest_telescope_register_tools(register):
    register("dd", dd_tool)
'''


def a_tool(**overrides):
    attributes = {"__name__": "my_tools.ping", "command": lambda *, count=3: ["ping", "-c", str(count)],
                  "parse": lambda output: [], "METRICS": {"rtt": Metric("ms", LOWER)}}
    return SimpleNamespace(**{**attributes, **overrides})


@pytest.fixture
def registry():
    yield
    tools.forget_registered()


def test_a_registered_tool_is_looked_up_like_a_built_in(registry):
    ping = a_tool()
    tools.register("ping", ping)

    assert tools.load("ping") is ping
    assert "ping" in tools.names() and "iperf3" in tools.names()
    assert tools.case_parameters(ping) == {"count": 3}


@pytest.mark.parametrize("name, tool, problem", [
    ("fio", a_tool(), "tool 'fio' (my_tools.ping): 'fio' is a built-in tool; give yours another name"),
    ("ping", a_tool(parse=None), "tool 'ping' (my_tools.ping): has no function parse()"),
    ("ping", a_tool(METRICS=["rtt"]), "tool 'ping' (my_tools.ping): METRICS must map each metric it emits to a Metric"),
    ("ping", a_tool(METRICS={"rtt": "ms"}), "tool 'ping' (my_tools.ping): METRICS must map each metric it emits to a Metric"),
])
def test_a_tool_that_cannot_work_is_refused_by_name(registry, name, tool, problem):
    with pytest.raises(TelescopeError) as error:
        tools.register(name, tool)

    assert str(error.value).startswith(problem)


def test_two_tools_under_one_name_are_refused(registry):
    tools.register("ping", a_tool())

    with pytest.raises(TelescopeError, match="'ping' is already registered by my_tools.ping"):
        tools.register("ping", a_tool(__name__="other.ping"))


@pytest.fixture
def outside(pytester):
    """A user's repository: their own tool dd_tool.py beside a suite that uses it."""
    shutil.copy(DD_TOOL, pytester.path / "dd_tool.py")
    pytester.makeini("[pytest]\ntelescope_prometheus = off\naddopts = -p no:terraform -p no:cacheprovider\n")
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_a_tool_from_a_conftest_is_validated_judged_and_compared(outside):
    outside.makeconftest(CONFTEST)
    scenario = outside.path / "dd.yaml"
    scenario.write_text("benchmark: dd\nparams: {size: 1M}\n")
    result = outside.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*dd.yaml: params.size: unknown parameter (known: block_size, count)*"])

    scenario.write_text("benchmark: dd\nparams: {count: 4}\nslo:\n  write_throughput: {min: 1000, unit: GB/s}\n")
    result = outside.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*write_throughput = * MB/s, expected >= 1000 GB/s"])

    (run,) = [d for d in (outside.path / "results").iterdir() if (d / "results.jsonl").exists()]  # the first wrote junit.xml only
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert {(row["benchmark"], row["metric"], row["unit"]) for row in rows} == {("dd", "write_throughput", "MB/s"), ("dd", "elapsed", "s")}
    baseline = outside.path / "baseline.jsonl"  # an earlier run that took no time at all
    baseline.write_text("".join(json.dumps({**row, "value": row["value"] / 1e6}) + "\n" for row in rows if row["metric"] == "elapsed"))
    scenario.write_text("benchmark: dd\nparams: {count: 4}\n")
    result = outside.runpytest_subprocess("--telescope-baseline", str(baseline))
    result.assert_outcomes(passed=1)  # one sample against one: too few to call it a regression
    result.stdout.fnmatch_lines(["test_dd[[]default[]] *elapsed * s *inconclusive (+*%)"])


def test_a_tool_from_an_installed_distribution_s_entry_point(outside, monkeypatch):
    site = outside.mkdir("site")
    shutil.move(outside.path / "dd_tool.py", site / "dd_tool.py")
    dist_info = site / "dd_tools-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: dd-tools\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[{tools.ENTRY_POINT_GROUP}]\ndd = dd_tool\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    (outside.path / "dd.yaml").write_text("benchmark: dd\nslo:\n  elapsed: {max: 60, unit: s}\n")

    result = outside.runpytest_subprocess()

    result.assert_outcomes(passed=1)
    (run,) = (outside.path / "results").iterdir()
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert {row["metric"] for row in rows if row["benchmark"] == "dd"} == {"write_throughput", "elapsed"}
