"""clusterloader2 (CL2): build its command line and test overrides, run it (the binary, or
from a container image), read its report directory.

CL2 writes ``junit.xml`` (one testcase per measurement step, failures carry CL2's
error list) and one JSON summary per measurement, named
``<summary>_<test name>_<RFC 3339 time>.json``. ``parse`` turns both into samples.

Metric names carry what a threshold must tell apart, because a scenario threshold
cannot filter on labels: the API call scope (``api_call_latency_p99_resource`` and
``..._namespace``, ``..._cluster``, ``..._nonresource``), and the pod startup phase
(``pod_startup_p99`` is CL2's create-to-running ``pod_startup``; the other phases are
``pod_create_to_schedule_p99`` and so on). What only identifies a series is a label.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import secrets
import shutil
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import yaml

from pytest_telescope import process, units
from pytest_telescope.errors import ToolError
from pytest_telescope.samples import Sample

_PERCENTILES = {"p50": "Perc50", "p90": "Perc90", "p99": "Perc99"}
# Phases of PodStartupLatency (pkg/measurement/common/slos/pod_startup_latency.go).
POD_PHASES = ("pod_startup", "create_to_schedule", "schedule_to_run", "run_to_watch", "schedule_to_watch", "create_to_run")
JOB_PHASES = ("create_to_start", "start_to_complete")
# apiserver's scope label; non-resource URLs (/healthz, /metrics) have scope "".
API_SCOPES = {"resource": "resource", "namespace": "namespace", "cluster": "cluster", "": "nonresource"}
# GenericPrometheusQuery samples carry the unit their query declares.
PER_QUERY_UNIT = "per query"


def _pod_metric(phase: str, percentile: str) -> str:
    return f"{phase}_{percentile}" if phase == "pod_startup" else f"pod_{phase}_{percentile}"


METRICS: dict[str, str] = {
    **{_pod_metric(phase, p): "ms" for phase in POD_PHASES for p in _PERCENTILES},
    **{f"api_call_latency_{p}_{scope}": "ms" for scope in API_SCOPES.values() for p in _PERCENTILES},
    **{f"in_cluster_network_latency_{p}": "ms" for p in _PERCENTILES},
    **{f"network_programming_latency_{p}": "ms" for p in _PERCENTILES},
    **{f"job_{phase}_{p}": "ms" for phase in JOB_PHASES for p in _PERCENTILES},
    **{f"scheduling_throughput_{p}": "pods/s" for p in ("p50", "p90", "p99", "max")},
    "scheduling_throughput_prometheus_max": "pods/s",
    "container_cpu": "cores",
    "container_memory": "B",
    "prometheus_query": PER_QUERY_UNIT,
    "scale_up_nodes_time": "s",
    "scale_down_nodes_time": "s",
    "scale_up_pods_time": "s",
    "scale_down_pods_time": "s",
}

# Upstream SLOs, as CL2 enforces them (slos/api_responsiveness_prometheus.go: 1 s for
# scope=resource, 30 s for every other scope; slos/pod_startup_latency.go: 5 s), in the
# scenario's ``slo:`` format. A suite's own threshold on a metric replaces these.
DEFAULT_SLO: dict[str, dict] = {
    "api_call_latency_p99_resource": {"max": 1, "unit": "s"},
    "api_call_latency_p99_namespace": {"max": 30, "unit": "s"},
    "api_call_latency_p99_cluster": {"max": 30, "unit": "s"},
    "api_call_latency_p99_nonresource": {"max": 30, "unit": "s"},
    "pod_startup_p99": {"max": 5, "unit": "s"},
}

# Any other CL2 template parameter may be passed through under its own name.
OVERRIDE_NAME = re.compile(r"CL2_[A-Z0-9_]+")

_TIMESTAMP = re.compile(r"_\d{4}-\d{2}-\d{2}T\d{2}:?\d{2}:?\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$")
_STEP_IDENTIFIER = re.compile(r"\[\d+\] - (?P<identifier>.+)$")
# An identifier may end with a loop index, as Telescope's looped configs write them: "WaitForNodesUpPerc50 0".
_SCALE_STEP = re.compile(
    r"WaitFor(?P<what>Nodes|RunningPods)(?P<direction>Up|Down)(?:Perc(?P<percent>\d+))?(?:[ _-](?P<loop>\d+))?"
)
# Ginkgo's JUnit reporter wraps the message in code locations, which CL2 leaves empty (":0").
_CODE_LOCATION = re.compile(r"\S*:\d+")


class ClusterLoaderFailed(ToolError):
    """CL2 reported failures in junit.xml, or exited non-zero.

    ``samples`` holds what the report directory measured anyway, so a test can
    record it before failing.
    """

    def __init__(self, command: list[str] | str, problem: str, output: str = "", samples: list[Sample] | None = None):
        super().__init__(command, problem, output)
        self.samples = samples or []


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
    if not _is_int(nodes) or nodes < 0:
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
    return argv


# command()'s keyword parameters that are CL2 options; every other one is an override,
# written to the overrides file as CL2_<NAME>, where "" or 0 leaves the test config's
# own DefaultParam.
CL2_OPTIONS = ("testconfig", "provider", "nodes", "prometheus", "prometheus_scrape_kubelets", "prometheus_tear_down")
OVERRIDES = tuple(
    name
    for name, parameter in inspect.signature(command).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name not in CL2_OPTIONS
)


def render_overrides(params: dict[str, Any]) -> str:
    """The ``--testoverrides`` YAML for a case: ``CL2_<NAME>: value`` per override that is set.

    Other case parameters (``testconfig``, ``provider``...) are not overrides and are
    left out. Raises ``ValueError`` on a value CL2 could not use.
    """
    overrides: dict[str, str | int | float | bool] = {}
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
    testconfig: str = "",
    **params: Any,
) -> list[str]:
    """``command`` run in ``image`` as ``uid``:``gid``, so that the report files are the user's.

    The host's ``kubeconfig``, ``overrides_file`` and ``config_dir`` are mounted read-only
    under ``CONTAINER_DIR``, ``report_dir`` writable, and CL2's flags name them there;
    ``testconfig`` is relative to ``config_dir``. The host paths must be absolute.
    """
    config_in_container = CONTAINER_DIR / "config"
    relative_testconfig = PurePosixPath(testconfig)
    if relative_testconfig.is_absolute() or ".." in relative_testconfig.parts:
        raise ValueError(f"testconfig {testconfig!r} must be inside {config_dir}: only that directory is in the container")
    cl2_argv = command(
        image.name,
        str(CONTAINER_DIR / "kubeconfig"),
        str(CONTAINER_DIR / "report"),
        str(CONTAINER_DIR / "overrides.yaml"),
        testconfig=str(config_in_container / testconfig) if testconfig else "",
        **params,
    )
    mounts = (
        (kubeconfig, CONTAINER_DIR / "kubeconfig", ":ro"),
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
                **params,
            )
        except ValueError as error:  # a path the container cannot be given
            raise ToolError(f"{cl2.runtime} run {cl2.name}", str(error)) from None
        if not os.path.isfile(kubeconfig):
            # docker would mount a new, empty directory in its place.
            raise ToolError(argv, f"no kubeconfig file {kubeconfig} to mount in the container")
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


def parse(report_dir: Path, command: list[str] | str = "clusterloader2") -> list[Sample]:
    """Samples from a CL2 report directory.

    Raises ``ClusterLoaderFailed`` with CL2's own error text when junit.xml has a failed
    testcase, and ``ToolError`` when junit.xml is missing or a summary cannot be read.
    Files of other measurements (WaitForControlledPodsRunning...) are ignored.
    """
    junit = report_dir / "junit.xml"
    failures, durations = _read_junit(junit, command)
    samples = durations
    with os.scandir(report_dir) as entries:
        names = sorted(entry.name for entry in entries if entry.name.endswith(".json") and entry.is_file())
    for name in names:
        samples += _summary_samples(report_dir / name, command)
    if failures:
        problem = f"{junit} reports {len(failures)} failure{'s' if len(failures) > 1 else ''}:\n" + "\n".join(
            f"  {name}: {text}" for name, text in failures
        )
        raise ClusterLoaderFailed(command, problem, samples=samples)
    return samples


# junit.xml


def _read_junit(path: Path, command: list[str] | str) -> tuple[list[tuple[str, str]], list[Sample]]:
    """Failed testcases as (name, CL2's text), and the autoscaler's wait durations."""
    try:
        root = ElementTree.parse(path).getroot()
    except FileNotFoundError:
        raise ToolError(command, f"no junit.xml in {path.parent}: CL2 did not finish a test") from None
    except ElementTree.ParseError as error:
        raise ToolError(command, f"{path} is not valid XML: {error}") from None
    step_failures, overall_failures, samples = [], [], []
    for case in root.iter("testcase"):
        name = case.get("name", "")
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is not None:
            text = _failure_text(failure.text or failure.get("message", ""))
            (overall_failures if " overall (" in name else step_failures).append((name, text))
        else:
            sample = _scale_sample(name, case.get("time", ""), path, command)
            if sample is not None:
                samples.append(sample)
    # The overall testcase repeats every step's errors; it alone tells of errors outside steps.
    return step_failures or overall_failures, samples


def _failure_text(text: str) -> str:
    lines = text.strip().splitlines()
    while lines and _CODE_LOCATION.fullmatch(lines[0].strip()):
        lines.pop(0)
    while lines and _CODE_LOCATION.fullmatch(lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip()


def _scale_sample(name: str, time: str, path: Path, command: list[str] | str) -> Sample | None:
    """The duration of a passed WaitForNodesUp/Down[PercNN] or WaitForRunningPodsUp/Down step."""
    step = _STEP_IDENTIFIER.search(name)
    match = _SCALE_STEP.fullmatch(step.group("identifier")) if step else None
    if match is None:
        return None
    try:
        seconds = float(time)
    except ValueError:
        raise ToolError(command, f"{path}: testcase {name!r} has no numeric time: {time!r}") from None
    what = "nodes" if match.group("what") == "Nodes" else "pods"
    metric = f"scale_{match.group('direction').lower()}_{what}_time"
    labels = {}
    if what == "nodes":
        labels["nodes_percent"] = match.group("percent") or "100"
    if match.group("loop"):
        labels["loop"] = match.group("loop")
    return Sample(metric, seconds, METRICS[metric], labels)


# Measurement summaries; every sample is labelled with the summary it comes from
# (``measurement``), which tells apart two measurements of the same family.

Reader = Callable[[Any, dict[str, str]], list[Sample]]


def _summary_samples(path: Path, command: list[str] | str) -> list[Sample]:
    summary = _summary_name(path.name)
    family, reader = _reader(summary)
    if reader is None:
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ToolError(command, f"{path}: cannot read CL2 summary: {error}") from None
    try:
        return reader(data, {"measurement": summary})
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ToolError(command, f"{path}: not the summary CL2 writes for {family}: {error!r}") from None


def _summary_name(file_name: str) -> str:
    """``PodStartupLatency_PodStartupLatency_load_2025-05-03T17:16:07Z.json`` -> ``PodStartupLatency_PodStartupLatency``.

    The test name is the token before the time; CL2 test names have no "_".
    """
    stem = _TIMESTAMP.sub("", file_name.removesuffix(".json"))
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def _reader(summary: str) -> tuple[str, Reader | None]:
    """The measurement family of a summary and its reader; no reader for other measurements."""
    for family, reader in _READERS:
        if summary == family or summary.startswith(family + "_") or summary.startswith(family + " "):
            return family, reader
    return summary, None


def _items(data: Any) -> list[dict]:
    items = data["dataItems"]
    if not isinstance(items, list):
        raise TypeError("dataItems is not a list")
    return items or []


def _percentiles(item: dict, metric_format: str, labels: dict[str, str], **fields: str) -> list[Sample]:
    """One sample per percentile, named by ``metric_format`` with ``{percentile}`` and ``fields`` filled in."""
    samples = []
    for percentile, key in _PERCENTILES.items():
        metric = metric_format.format(percentile=percentile, **fields)
        samples.append(Sample(metric, _value(item, key, METRICS[metric]), METRICS[metric], labels))
    return samples


def _value(item: dict, key: str, unit: str) -> float:
    value = item["data"][key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"data.{key} is not a number: {value!r}")
    return units.convert(float(value), item.get("unit", unit), unit)


def _pod_startup(data: Any, labels: dict[str, str]) -> list[Sample]:
    summary = labels["measurement"]
    pods = "stateless" if summary.startswith("Stateless") else "stateful" if summary.startswith("Stateful") else "all"
    labels = {**labels, "pods": pods}
    samples = []
    for item in _items(data):
        phase = item["labels"]["Metric"]
        if phase in POD_PHASES:
            samples += _percentiles(item, _pod_metric(phase, "{percentile}"), labels)
    return samples


def _job_lifecycle(data: Any, labels: dict[str, str]) -> list[Sample]:
    samples = []
    for item in _items(data):
        phase = item["labels"]["Metric"]
        if phase in JOB_PHASES:
            samples += _percentiles(item, "job_{phase}_{percentile}", labels, phase=phase)
    return samples


def _api_responsiveness(data: Any, labels: dict[str, str]) -> list[Sample]:
    samples = []
    for item in _items(data):
        call = item["labels"]
        scope = API_SCOPES.get(call.get("Scope", ""))
        if scope is None:
            raise ValueError(f"unknown API call scope {call.get('Scope')!r}")
        call_labels = {
            **labels,
            "verb": call["Verb"],
            "resource": call.get("Resource", ""),
            "subresource": call.get("Subresource", ""),
            "scope": call.get("Scope", ""),
            "count": call.get("Count", ""),
            "slow_count": call.get("SlowCount", ""),
        }
        samples += _percentiles(item, "api_call_latency_{percentile}_{scope}", call_labels, scope=scope)
    return samples


def _latency(family: str) -> Reader:
    def read(data: Any, labels: dict[str, str]) -> list[Sample]:
        return [s for item in _items(data) for s in _percentiles(item, "{family}_{percentile}", labels, family=family)]

    return read


def _generic_query(data: Any, labels: dict[str, str]) -> list[Sample]:
    """One sample per query and set of dimensions, in the unit the measurement declares."""
    samples = []
    for item in _items(data):
        for query, value in item["data"].items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"data.{query} is not a number: {value!r}")
            query_labels = {**item.get("labels", {}), **labels, "query": query}
            samples.append(Sample("prometheus_query", float(value), item["unit"], query_labels))
    return samples


def _resource_usage(data: Any, labels: dict[str, str]) -> list[Sample]:
    """``{"99": [{"Name": "<pod or node>/<container>", "CPU": cores, "Mem": bytes}]}``."""
    samples = []
    for percentile, containers in data.items():
        for container in containers:
            container_labels = {**labels, "percentile": percentile, "container": container["Name"]}
            # Older CL2 serialized the field as "Cpu".
            cpu = container["CPU"] if "CPU" in container else container["Cpu"]
            samples.append(Sample("container_cpu", float(cpu), "cores", container_labels))
            samples.append(Sample("container_memory", float(container["Mem"]), "B", container_labels))
    return samples


def _scheduling_throughput(data: Any, labels: dict[str, str]) -> list[Sample]:
    keys = {"p50": "perc50", "p90": "perc90", "p99": "perc99", "max": "max"}
    return [Sample(f"scheduling_throughput_{p}", float(data[key]), "pods/s", labels) for p, key in keys.items()]


def _scheduling_throughput_prometheus(data: Any, labels: dict[str, str]) -> list[Sample]:
    return [Sample("scheduling_throughput_prometheus_max", float(data["max"]), "pods/s", labels)]


# Longer prefixes first: SchedulingThroughputPrometheus before SchedulingThroughput.
_READERS: tuple[tuple[str, Reader], ...] = (
    ("StatelessPodStartupLatency", _pod_startup),
    ("StatefulPodStartupLatency", _pod_startup),
    ("PodStartupLatency", _pod_startup),
    ("APIResponsivenessPrometheus", _api_responsiveness),
    ("InClusterNetworkLatency", _latency("in_cluster_network_latency")),
    ("NetworkProgrammingLatency", _latency("network_programming_latency")),
    ("GenericPrometheusQuery", _generic_query),
    ("JobLifecycleLatency", _job_lifecycle),
    ("ResourceUsageSummary", _resource_usage),
    ("NetworkPolicySoakMeasurement", _resource_usage),
    ("SchedulingThroughputPrometheus", _scheduling_throughput_prometheus),
    ("SchedulingThroughput", _scheduling_throughput),
)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
