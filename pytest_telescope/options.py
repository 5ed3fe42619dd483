"""The plugin's options: each ``--telescope-<name>`` and the ini key ``telescope_<name>``, and how they are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_telescope.tools import clusterloader2

# name: (default, help). Each is --telescope-<name> and the ini key telescope_<name>.
OPTIONS = {
    "results-dir": ("results", "directory for <run id>/results.jsonl and junit.xml"),
    "run-id": ("", "id of this run (default: UTC time and a random suffix); reuse one to append"),
    "state-dir": (".telescope", "private directory for Terraform state of the targets"),
    "terraform-dir": ("terraform", "directory holding one Terraform module per cloud"),
    "deletion-delay": ("2h", "after this long, `telescope cleanup` may destroy a target its run left behind"),
    "target-key": ("", "run only the tests of this target (a key `telescope matrix` prints), so that a job provisions one target"),
    "repeat": ("1", "run each benchmark case N times; its SLOs and baseline check judge the median"),
    "baseline": ("", "results.jsonl or a directory of earlier runs; a metric worse than there fails its test"),
    "tolerance": ("5%", "how far a metric may move from the baseline: 5%, or 5%,read_clat_p99=20%"),
    "html": ("", "where to write the HTML report (default: <results dir>/<run id>/report.html)"),
    "prometheus": ("local", "where measurements come from: local (start Prometheus here), off, cluster or cluster:<namespace>/<service>:<port> (a cluster target's Prometheus, port-forwarded; cluster is monitoring/prometheus-operated:9090), or a Prometheus URL"),
    "kernel": ("auto", "kernel histograms over each test (bpftrace: run-queue and block I/O latency, TCP retransmits): auto (on the local target and the nodes of the clusters the run provisions), on (a cluster of your own too: privileged pods on its nodes) or off"),
    "publish": ("", "upload the run's files to azure-blob://<account>/<container>/<prefix> (empty: no upload)"),
    "scenario": ("", "the scenario's name in published blob names (default: the run's benchmarks joined by +)"),
    "cl2-binary": ("clusterloader2", "the clusterloader2 binary: a path, or a name on PATH"),
    "cl2-image": ("", f"run clusterloader2 from this container image with docker or podman, not the binary ('{clusterloader2.PINNED}': {clusterloader2.DEFAULT_IMAGE})"),
    "kperf-binary": ("kperf", "the kperf binary: a path, or a name on PATH"),
    "runkperf-binary": ("runkperf", "the runkperf binary: a path, or a name on PATH"),
    "kwok-manifests": ("", "kwok's release manifests (a file or directory) for clusters without GitHub access (default: download the pinned release)"),
}

PREFLIGHT_MODES = ("on", "only", "off")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("telescope", "infrastructure benchmarks (pytest-telescope)")
    for name, (default, help_text) in OPTIONS.items():
        key = "telescope_" + name.replace("-", "_")
        # argparse formats help with %: a literal one ("5%") must be doubled
        group.addoption(f"--telescope-{name}", dest=key, default=None, help=f"{help_text.replace('%', '%%')} (ini: {key})")
        parser.addini(key, help_text, default=default)
    group.addoption(
        "--telescope-kubeconfig",
        dest="telescope_kubeconfig",
        nargs="?",
        const="",
        default=None,
        help="run on a cluster of your own (the existing target); without a path, $KUBECONFIG (ini: telescope_kubeconfig)",
    )
    parser.addini("telescope_kubeconfig", "the kubeconfig of a cluster of your own (the existing target)", default="")
    group.addoption(
        "--telescope-keep-target",
        dest="telescope_keep_target",
        action="store_true",
        default=None,
        help="keep the targets after the run, to rerun cases on them with --telescope-run-id (ini: telescope_keep_target)",
    )
    parser.addini("telescope_keep_target", "keep the targets after the run", type="bool", default=False)
    group.addoption(
        "--telescope-preflight",
        dest="telescope_preflight",
        nargs="?",
        const="only",
        default=None,
        choices=PREFLIGHT_MODES,
        help="check each selected suite against the cluster it declares, offline: on (default: a test whose suite does not fit "
        "fails before any apply), only (the bare option: report and stop, exit 1 on a misfit), off (ini: telescope_preflight)",
    )
    parser.addini("telescope_preflight", "on, only or off: check each suite against its declared cluster", default="on")


def setting(config: pytest.Config, name: str) -> str:
    key = "telescope_" + name.replace("-", "_")
    value = config.getoption(key)
    return value if value is not None else config.getini(key)


def path_setting(config: pytest.Config, name: str) -> Path:
    """A path option: relative to where pytest was started, or (from the ini file) to the rootdir."""
    given = config.getoption("telescope_" + name.replace("-", "_"))
    base = config.invocation_params.dir if given is not None else config.rootpath
    return base / setting(config, name)


def terraform_dir(config: pytest.Config) -> Path:
    """The directory of the user's own Terraform modules. One that was given must exist: a misspelt
    name would otherwise fall back to the shipped modules without a word (as the default, which a
    project without modules of its own lacks, and a cloud the directory has no module for do)."""
    path, value = path_setting(config, "terraform-dir"), setting(config, "terraform-dir")
    if config.getoption("telescope_terraform_dir") is not None:
        given = f"--telescope-terraform-dir {value}"
    elif value != OPTIONS["terraform-dir"][0]:
        given = f"telescope_terraform_dir = {value}"
    else:
        return path
    if not path.is_dir():
        raise pytest.UsageError(f"{given}: no such directory ({path})")
    return path


def kubeconfig(config: pytest.Config) -> str | None:
    """The kubeconfig asked for: a path, "" for $KUBECONFIG (the bare option), None when none was."""
    given = config.getoption("telescope_kubeconfig")
    return given if given is not None else (config.getini("telescope_kubeconfig") or None)
