"""Running clusterloader2: its command line and ``--testoverrides`` file for a case, the binary
or its container image, and a run's report directory read into samples (``parsing``).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import yaml

from pytest_telescope import process
from pytest_telescope.errors import ToolError
from pytest_telescope.samples import Sample
from pytest_telescope.tools._params import is_int
from pytest_telescope.tools._token_kubeconfig import KUBECONFIG_FILE, TokenKubeconfig, uses_exec_plugin
from pytest_telescope.tools.clusterloader2.parsing import ClusterLoaderFailed, parse

# Any other CL2 template parameter may be passed through under its own name.
OVERRIDE_NAME = re.compile(r"CL2_[A-Z0-9_]+")


def command(
    binary: str,
    kubeconfig: str,
    report_dir: str,
    overrides_file: str,
    *,
    testconfig: str = "",
    provider: str = "aks",
    nodes: int = 0,
    prometheus: bool = False,
    prometheus_scrape_kubelets: bool = False,
    prometheus_tear_down: bool = True,
    prometheus_storage_class: str = "",
    pods_per_node: int = 0,
    load_test_throughput: float = 0.0,
    pod_startup_latency_threshold: str = "",
    operation_timeout: str = "",
    resource_consume_cpu: int = 0,
    resource_consume_memory: int = 0,
    load_type: str = "",
    pod_count: int = 0,
    pod_cpu_request: str = "",
    nodes_after_scale_up: int = 0,
    nodes_after_scale_down: int = 0,
    scale_up_timeout: str = "",
    scale_down_timeout: str = "",
    jobs: int = 0,
    pods_per_job: int = 0,
    namespaces: int = 0,
    **cl2_overrides: str | int | float | bool,
) -> list[str]:
    """One CL2 run of ``testconfig`` with the overrides file ``render_overrides`` wrote.

    The override parameters (``OVERRIDES`` and ``CL2_*`` names) are case parameters
    too, so they are accepted here, but they reach CL2 through ``overrides_file``, not
    the command line. ``nodes`` 0 lets CL2 count the schedulable nodes itself.
    """
    if not testconfig:
        raise ValueError("testconfig must name a CL2 test config file")
    if not provider:
        raise ValueError("provider must name a CL2 provider (aks, eks, gke, ...)")
    if not is_int(nodes) or nodes < 0:
        raise ValueError(f"nodes must be an integer >= 0, got {nodes!r}")
    for name in cl2_overrides:
        if not OVERRIDE_NAME.fullmatch(name):
            raise ValueError(f"unknown parameter {name!r}: not a CL2 option, an override of OVERRIDES, nor a CL2_* name")
    argv = [
        binary,
        f"--testconfig={testconfig}",
        f"--testoverrides={overrides_file}",
        f"--provider={provider}",
        f"--kubeconfig={kubeconfig}",
        f"--report-dir={report_dir}",
        "--v=2",
        "--enable-exec-service=false",
    ]
    if nodes:
        argv.append(f"--nodes={nodes}")
    if prometheus:
        argv += [
            "--enable-prometheus-server=true",
            f"--tear-down-prometheus-server={_flag(prometheus_tear_down)}",
            f"--prometheus-scrape-kubelets={_flag(prometheus_scrape_kubelets)}",
        ]
        storage_class = prometheus_storage_class or PROMETHEUS_STORAGE_CLASSES.get(provider, "")
        if storage_class:
            argv.append(f"--prometheus-pvc-storage-class={storage_class}")
    return argv


# CL2's Prometheus keeps its data on a volume claimed from StorageClass "ssd", which CL2 creates
# with provisioner kubernetes.io/gce-pd: nothing provisions it on AKS or EKS, and Prometheus
# never becomes ready (perf-tests clusterloader2/pkg/prometheus: manifests/0ssd-storage-class.yaml,
# prometheus-prometheus.yaml). The class is a flag, --prometheus-pvc-storage-class, not an
# override: CL2 sets its template value from the flag after reading the overrides (prometheus.go,
# NewController). Per CL2 provider, the class to claim from:
PROMETHEUS_STORAGE_CLASSES = {
    "aks": "managed-csi",  # AKS's built-in class (disk.csi.azure.com, StandardSSD_LRS)
    "eks": "ebs-csi-default-sc",  # made by the aws module's aws-ebs-csi-driver add-on (gp3)
    "gke": "ssd",  # CL2's own: kubernetes.io/gce-pd pd-ssd, served on GKE by its PD CSI driver
}
# On another provider, with no prometheus_storage_class given, CL2's Prometheus keeps its data in
# the pod (an emptyDir) rather than wait for a volume nothing provisions, as Telescope's
# CL2_PROMETHEUS_TOLERATE_MASTER does in effect (CL2_PROMETHEUS_PVC_ENABLED defaults to its negation).
PROMETHEUS_WITHOUT_VOLUME = {"CL2_PROMETHEUS_PVC_ENABLED": False}
# EKS's kube-proxy serves its metrics on 127.0.0.1:10249 and its pods are labelled k8s-app, not
# CL2's component=kube-proxy: nothing can scrape it, and NetworkProgrammingLatency would gather no
# sample. As upstream's testing/prometheus/not-scrape-kube-proxy.yaml, an override (read before
# the provider's default, prometheus.go NewController), which also leaves the measurement out.
PROMETHEUS_PROVIDER_OVERRIDES = {"eks": {"PROMETHEUS_SCRAPE_KUBE_PROXY": False}}

# What each parameter of command() means, for docs/tools.md. Overrides (all but CL2_OPTIONS) reach
# the test config as CL2_<NAME>; "" or 0 leaves the config's own default.
PARAMETERS: dict[str, str] = {
    "testconfig": "the CL2 test config file, relative to the suite's directory",
    "provider": "CL2's --provider: aks, eks, gke, kind, ...",
    "nodes": "CL2's --nodes; 0 lets CL2 count the schedulable nodes",
    "prometheus": "let CL2 deploy its own Prometheus (--enable-prometheus-server)",
    "prometheus_scrape_kubelets": "its Prometheus scrapes the kubelets too",
    "prometheus_tear_down": "remove its Prometheus at the end",
    "prometheus_storage_class": "the StorageClass its Prometheus claims a volume from; \"\" picks the provider's (PROMETHEUS_STORAGE_CLASSES)",
    "pods_per_node": "override CL2_PODS_PER_NODE",
    "load_test_throughput": "override CL2_LOAD_TEST_THROUGHPUT: pods created per second",
    "pod_startup_latency_threshold": "override CL2_POD_STARTUP_LATENCY_THRESHOLD, e.g. 5s",
    "operation_timeout": "override CL2_OPERATION_TIMEOUT, e.g. 15m",
    "resource_consume_cpu": "override CL2_RESOURCE_CONSUME_CPU: millicores each pod burns",
    "resource_consume_memory": "override CL2_RESOURCE_CONSUME_MEMORY: MiB each pod holds",
    "load_type": "override CL2_LOAD_TYPE",
    "pod_count": "override CL2_POD_COUNT",
    "pod_cpu_request": "override CL2_POD_CPU_REQUEST, e.g. 100m",
    "nodes_after_scale_up": "override CL2_NODES_AFTER_SCALE_UP",
    "nodes_after_scale_down": "override CL2_NODES_AFTER_SCALE_DOWN",
    "scale_up_timeout": "override CL2_SCALE_UP_TIMEOUT",
    "scale_down_timeout": "override CL2_SCALE_DOWN_TIMEOUT",
    "jobs": "override CL2_JOBS",
    "pods_per_job": "override CL2_PODS_PER_JOB",
    "namespaces": "override CL2_NAMESPACES",
}

# command()'s keyword parameters that are CL2 options; every other one is an override,
# written to the overrides file as CL2_<NAME>, where "" or 0 leaves the test config's
# own DefaultParam.
CL2_OPTIONS = (
    "testconfig", "provider", "nodes", "prometheus", "prometheus_scrape_kubelets", "prometheus_tear_down", "prometheus_storage_class",
)  # fmt: skip
OVERRIDES = tuple(
    name
    for name, parameter in inspect.signature(command).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name not in CL2_OPTIONS
)


def render_overrides(params: dict[str, Any]) -> str:
    """The ``--testoverrides`` YAML for a case: ``CL2_<NAME>: value`` per override that is set,
    and with ``prometheus`` what CL2's Prometheus needs on the case's ``provider``.

    Other case parameters (``testconfig``, ``provider``...) are not overrides and are
    left out. Raises ``ValueError`` on a value CL2 could not use.
    """
    overrides: dict[str, str | int | float | bool] = {}
    if params.get("prometheus"):
        provider = params.get("provider", inspect.signature(command).parameters["provider"].default)
        if not (params.get("prometheus_storage_class") or provider in PROMETHEUS_STORAGE_CLASSES):
            overrides.update(PROMETHEUS_WITHOUT_VOLUME)
        overrides.update(PROMETHEUS_PROVIDER_OVERRIDES.get(provider, {}))
    for name, value in params.items():
        if name in OVERRIDES:
            if value in ("", 0) and not isinstance(value, bool):
                continue
            key = "CL2_" + name.upper()
        elif OVERRIDE_NAME.fullmatch(name):
            key = name
        elif name.upper().startswith("CL2_"):
            raise ValueError(f"{name}: a CL2 override is written in capitals, like CL2_NODES_PER_NAMESPACE")
        else:
            continue
        if isinstance(value, (list, dict, tuple)) or value is None:
            raise ValueError(f"{name}: an override must be a string, number or boolean, got {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
        overrides[key] = value
    return yaml.safe_dump(overrides, sort_keys=True, default_flow_style=False) if overrides else ""


# Running CL2 from a container image

# The image Azure/telescope runs CL2 from, at the tag its pipelines pin
# (modules/python/clusterloader2/utils.py, run_cl2_command): its entrypoint is clusterloader2,
# its arguments are CL2's flags.
DEFAULT_IMAGE = "ghcr.io/azure/clusterloader2:v20250513"
# The image setting that stands for DEFAULT_IMAGE.
PINNED = "pinned"
# Tried in this order; both take docker's command line.
CONTAINER_RUNTIMES = ("docker", "podman")
# Where a run's files are in the container: not under /root, which the user CL2 runs as cannot enter.
CONTAINER_DIR = PurePosixPath("/cl2")
# Where a TokenKubeconfig's directory is, when the kubeconfig's user is an exec plugin.
AUTH_DIR = CONTAINER_DIR / "auth"


@dataclass(frozen=True)
class Image:
    """CL2 from the container image ``name``, started by ``runtime`` (the path of docker or podman)."""

    name: str
    runtime: str


def image(name: str = PINNED, hint: str = "") -> Image:
    """The image ``name`` (``pinned``: ``DEFAULT_IMAGE``) with docker, or podman where docker is missing.

    Raises ``ToolError`` when neither is on PATH; ``hint`` tells what to do instead.
    """
    name = DEFAULT_IMAGE if name == PINNED else name
    for runtime in CONTAINER_RUNTIMES:
        path = shutil.which(runtime)
        if path is not None:
            return Image(name, path)
    problem = f"not found on PATH: install Docker or Podman to run clusterloader2 from {name}"
    raise ToolError(" or ".join(CONTAINER_RUNTIMES), problem + (f"; {hint}" if hint else ""))


def container_command(
    image: Image,
    kubeconfig: str,
    report_dir: str,
    overrides_file: str,
    *,
    config_dir: str,
    uid: int,
    gid: int,
    container_name: str,
    auth_dir: str = "",
    testconfig: str = "",
    **params: Any,
) -> list[str]:
    """``command`` run in ``image`` as ``uid``:``gid``, so that the report files are the user's.

    The host's ``kubeconfig``, ``overrides_file`` and ``config_dir`` are mounted read-only
    under ``CONTAINER_DIR``, ``report_dir`` writable, and CL2's flags name them there;
    ``testconfig`` is relative to ``config_dir``. With ``auth_dir`` (a ``TokenKubeconfig``'s
    directory) that directory is mounted in place of ``kubeconfig``, and CL2 uses its kubeconfig.
    The host paths must be absolute.
    """
    config_in_container = CONTAINER_DIR / "config"
    relative_testconfig = PurePosixPath(testconfig)
    if relative_testconfig.is_absolute() or ".." in relative_testconfig.parts:
        raise ValueError(f"testconfig {testconfig!r} must be inside {config_dir}: only that directory is in the container")
    kubeconfig_mount = (auth_dir, AUTH_DIR, ":ro") if auth_dir else (kubeconfig, CONTAINER_DIR / "kubeconfig", ":ro")
    cl2_argv = command(
        image.name,
        str(AUTH_DIR / KUBECONFIG_FILE if auth_dir else CONTAINER_DIR / "kubeconfig"),
        str(CONTAINER_DIR / "report"),
        str(CONTAINER_DIR / "overrides.yaml"),
        testconfig=str(config_in_container / testconfig) if testconfig else "",
        **params,
    )
    mounts = (
        kubeconfig_mount,
        (overrides_file, CONTAINER_DIR / "overrides.yaml", ":ro"),
        (config_dir, config_in_container, ":ro"),
        (report_dir, CONTAINER_DIR / "report", ""),
    )
    argv = [image.runtime, "run", "--rm", "--network", "host", "--name", container_name, "--user", f"{uid}:{gid}"]
    if os.path.basename(image.runtime) == "podman" and uid != 0:
        # Rootless podman maps the container's users to subordinate ids; keep-id keeps the user's own.
        argv.append("--userns=keep-id")
    for source, target, mode in mounts:
        if not os.path.isabs(source) or ":" in source:
            raise ValueError(f"cannot mount {source!r} in the container: the path must be absolute and without ':'")
        argv += ["--volume", f"{source}:{target}{mode}"]
    return argv + cl2_argv


def run(
    cl2: str | Image,
    kubeconfig: str,
    work_dir: Path,
    params: dict[str, Any],
    *,
    config_dir: Path,
    timeout: float,
    echo: Callable[[str], None] | None = None,
) -> list[Sample]:
    """Run CL2 for one case, with the binary ``cl2`` or from an ``Image``, and return its samples.

    Writes ``overrides.yaml`` and ``report/`` under ``work_dir``; ``testconfig`` is
    relative to ``config_dir``. Raises ``ClusterLoaderFailed`` (carrying the samples the
    report holds) when junit.xml reports a failure or CL2 exits non-zero.
    """
    report_dir = work_dir / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    overrides_file = work_dir / "overrides.yaml"
    overrides_file.write_text(render_overrides(params))
    if isinstance(cl2, Image):
        container_name = f"clusterloader2-{secrets.token_hex(4)}"
        auth_dir = work_dir.absolute() / "auth"
        # The image has neither the kubeconfig's exec plugin nor the cloud credentials behind it.
        needs_token = os.path.isfile(kubeconfig) and uses_exec_plugin(Path(kubeconfig))
        try:
            argv = container_command(
                cl2,
                os.path.abspath(kubeconfig),
                str(report_dir.absolute()),
                str(overrides_file.absolute()),
                config_dir=str(config_dir.absolute()),
                uid=os.getuid(),
                gid=os.getgid(),
                container_name=container_name,
                auth_dir=str(auth_dir) if needs_token else "",
                **params,
            )
        except ValueError as error:  # a path the container cannot be given
            raise ToolError(f"{cl2.runtime} run {cl2.name}", str(error)) from None
        if not os.path.isfile(kubeconfig):
            # docker would mount a new, empty directory in its place.
            raise ToolError(argv, f"no kubeconfig file {kubeconfig} to mount in the container")
        with TokenKubeconfig(Path(kubeconfig), auth_dir, AUTH_DIR, echo=echo) if needs_token else contextlib.nullcontext():
            completed = _run_container(argv, cl2.runtime, container_name, timeout=timeout, echo=echo)
    else:
        testconfig = str(config_dir / params["testconfig"]) if params.get("testconfig") else ""
        argv = command(cl2, kubeconfig, str(report_dir), str(overrides_file), **{**params, "testconfig": testconfig})
        completed = process.run(argv, timeout=timeout, check=False, echo=echo)
    tail = "\n".join(completed.output.splitlines()[-ToolError.HEAD_LINES :])
    try:
        samples = parse(report_dir, argv)
    except ClusterLoaderFailed as failed:
        problem = f"exited with status {completed.returncode}; {failed.problem}"
        raise ClusterLoaderFailed(argv, problem, tail, failed.samples) from None
    except ToolError as error:
        if completed.returncode == 0:
            raise
        raise ClusterLoaderFailed(argv, f"exited with status {completed.returncode} ({error.problem})", tail) from None
    if completed.returncode != 0:
        problem = f"exited with status {completed.returncode} although junit.xml reports no failure"
        raise ClusterLoaderFailed(argv, problem, tail, samples)
    return samples


def _run_container(
    argv: list[str], runtime: str, container_name: str, *, timeout: float, echo: Callable[[str], None] | None
) -> process.Completed:
    try:
        return process.run(argv, timeout=timeout, check=False, echo=echo)
    except BaseException:
        # Killing the docker client on a timeout or Ctrl-C leaves the container, and CL2 in it, running.
        process.run([runtime, "rm", "--force", container_name], timeout=60, check=False)
        raise


def _flag(value: bool) -> str:
    return "true" if value else "false"
