"""Sharding a run by target: one Azure DevOps job per target, each provisioning exactly one.

``telescope matrix <pytest arguments>`` collects the tests those arguments select and
prints the job matrix of a ``strategy: matrix`` (its shape: learn.microsoft.com,
azure/devops/pipelines/yaml-schema/jobs-job-strategy): one entry per target, named
by the target's key, whose ``pytestSelection`` is the same arguments plus
``--telescope-target-key <key>``. A target's key is its state directory's name,
what makes tests share one target in a run (``provision.pool.provisioned``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
import sys
from collections import Counter

import pytest

from pytest_telescope.provision.pool import provisioned
from pytest_telescope.targets import TargetSpec

# The key of tests that run on no target (they would otherwise run in every job).
UNTARGETED = "none"


def parameter(item: pytest.Item, name: str):
    """The value ``item`` is parametrized with for ``name`` (``target``, ``case``); None if it is not."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(name) if callspec else None


def key_of(item: pytest.Item) -> str:
    spec = parameter(item, "target")
    return provisioned(spec).key if isinstance(spec, TargetSpec) else UNTARGETED


def select(config: pytest.Config, items: list[pytest.Item], key: str) -> None:
    """Keep only the tests of the target ``key`` (``--telescope-target-key``)."""
    keys = {key_of(item) for item in items}
    if key not in keys:
        raise pytest.UsageError(
            f"--telescope-target-key {key}: no selected test runs on this target "
            f"(the selection's targets: {', '.join(sorted(keys)) or 'none'}; see telescope matrix)"
        )
    config.hook.pytest_deselected(items=[item for item in items if key_of(item) != key])
    items[:] = [item for item in items if key_of(item) == key]


class _Collector:
    """Collects the selected tests' targets, in collection order; leaves out the clouds the run would skip."""

    def __init__(self):
        self.targets: dict[str, dict] = {}
        self.left_out: Counter[str] = Counter()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        telescope = session.config.pluginmanager.get_plugin("telescope-run")
        for item in session.items:
            key, spec = key_of(item), parameter(item, "target")
            cloud = spec.cloud if key != UNTARGETED else ""
            if cloud and not telescope.uses(cloud):
                self.left_out[cloud] += 1
                continue
            if key not in self.targets:
                shape = provisioned(spec).frozen if cloud else "{}"
                self.targets[key] = {"cloud": cloud, "shape": shape, "tests": 0}
            self.targets[key]["tests"] += 1


def matrix(pytest_args: list[str]) -> tuple[dict, Counter, int, str]:
    """The job matrix of the tests ``pytest_args`` select, the clouds left out, pytest's exit code and output."""
    collector = _Collector()
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = pytest.main([*pytest_args, "--collect-only", "-q", "-p", "no:cacheprovider"], plugins=[collector])
    jobs = {}
    for key, target in collector.targets.items():
        jobs[job_name(key)] = {
            "targetKey": key,
            "cloud": target["cloud"] or UNTARGETED,
            "clusterShape": target["shape"],
            "tests": str(target["tests"]),
            "pytestSelection": shlex.join([*pytest_args, "--telescope-target-key", key]),
        }
    return jobs, collector.left_out, int(code), output.getvalue()


def job_name(key: str) -> str:
    """A matrix entry's name: letters, digits and underscores, starting with a letter."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", key)
    return name if name[:1].isalpha() else f"target_{name}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="what pytest selects: paths, -m, -k...")


def run(args: argparse.Namespace) -> int:
    jobs, left_out, code, output = matrix(args.pytest_args)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        sys.stderr.write(output)
        return code
    for cloud, count in sorted(left_out.items()):
        print(f"telescope matrix: {count} tests on {cloud} left out: it runs only when asked for with -m {cloud}", file=sys.stderr)
    if not jobs:
        print(f"telescope matrix: no test selected by {shlex.join(args.pytest_args) or 'the arguments'}", file=sys.stderr)
        return pytest.ExitCode.NO_TESTS_COLLECTED
    print(json.dumps(jobs, indent=2))
    return 0
