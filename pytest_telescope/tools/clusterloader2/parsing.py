"""Reading a clusterloader2 report directory: junit.xml and the measurement summaries.

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

import json
import os
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any, Callable

from pytest_telescope import units
from pytest_telescope.errors import ToolError
from pytest_telescope.samples import HIGHER, LOWER, NEITHER, Metric, Sample

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


# SchedulingMetrics' latencies (pkg/measurement/common/scheduler_latency.go, schedulingMetrics): key -> metric name part.
SCHEDULING_LATENCIES = {
    "e2eSchedulingLatency": "e2e",
    "schedulingLatency": "algorithm",
    "preemptionEvaluationLatency": "preemption_evaluation",
    "frameworkExtensionPointDuration": "framework_extension_point",
}
_LATENCY = Metric("ms", LOWER)
METRICS: dict[str, Metric] = {
    **{_pod_metric(phase, p): _LATENCY for phase in POD_PHASES for p in _PERCENTILES},
    **{f"api_call_latency_{p}_{scope}": _LATENCY for scope in API_SCOPES.values() for p in _PERCENTILES},
    **{f"in_cluster_network_latency_{p}": _LATENCY for p in _PERCENTILES},
    **{f"network_programming_latency_{p}": _LATENCY for p in _PERCENTILES},
    **{f"job_{phase}_{p}": _LATENCY for phase in JOB_PHASES for p in _PERCENTILES},
    **{f"scheduling_throughput_{p}": Metric("pods/s", HIGHER) for p in ("p50", "p90", "p99", "max")},
    "scheduling_throughput_prometheus_max": Metric("pods/s", HIGHER),
    "container_cpu": Metric("cores", LOWER),
    "container_memory": Metric("B", LOWER),
    # A query's meaning is the config's: its changes are shown, never judged.
    "prometheus_query": Metric(PER_QUERY_UNIT, NEITHER),
    "scale_up_nodes_time": Metric("s", LOWER),
    "scale_down_nodes_time": Metric("s", LOWER),
    "scale_up_pods_time": Metric("s", LOWER),
    "scale_down_pods_time": Metric("s", LOWER),
    **{f"scheduling_{name}_latency_{p}": _LATENCY for name in SCHEDULING_LATENCIES.values() for p in _PERCENTILES},
    "cluster_oom_kills": Metric("count", LOWER),
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

# A summary file's name ends with its RFC 3339 time, then its extension (json, txt, ... or none).
_TIMESTAMP = re.compile(r"_\d{4}-\d{2}-\d{2}T\d{2}:?\d{2}:?\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})(?:\.\w+)?$")
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


def parse(report_dir: Path, command: list[str] | str = "clusterloader2") -> list[Sample]:
    """Samples from a CL2 report directory.

    Raises ``ClusterLoaderFailed`` with CL2's own error text when junit.xml has a failed
    testcase, and naming each summary it cannot read; its ``samples`` are all the others.
    ``ToolError`` when junit.xml is missing. Files of other measurements
    (WaitForControlledPodsRunning...) are ignored.
    """
    junit = report_dir / "junit.xml"
    test, failures, durations = _read_junit(junit, command)
    samples, unreadable = durations, []
    with os.scandir(report_dir) as entries:
        names = sorted(entry.name for entry in entries if _TIMESTAMP.search(entry.name) and entry.is_file())
    for name in names:
        try:
            samples += _summary_samples(report_dir / name, test)
        except SummaryError as error:
            unreadable.append((name, str(error)))
    problems = []
    if failures:
        problems.append(f"{junit} reports {len(failures)} failure{'s' if len(failures) > 1 else ''}:")
        problems += [f"  {name}: {text}" for name, text in failures]
    if unreadable:
        problems.append(f"{len(unreadable)} summar{'ies' if len(unreadable) > 1 else 'y'} in {report_dir} unreadable, the others kept:")
        problems += [f"  {name}: {reason}" for name, reason in unreadable]
    if problems:
        raise ClusterLoaderFailed(command, "\n".join(problems), samples=samples)
    return samples


# junit.xml


def _read_junit(path: Path, command: list[str] | str) -> tuple[str, list[tuple[str, str]], list[Sample]]:
    """The test's name, failed testcases as (name, CL2's text), and the autoscaler's wait durations.

    The name is the config's ``name``, which every testcase starts with (pkg/test/simple_reporter.go:
    ``<test> overall (<config>)``, ``<test>: [step: NN] ...``).
    """
    try:
        root = ElementTree.parse(path).getroot()
    except FileNotFoundError:
        raise ToolError(command, f"no junit.xml in {path.parent}: CL2 did not finish a test") from None
    except ElementTree.ParseError as error:
        raise ToolError(command, f"{path} is not valid XML: {error}") from None
    step_failures, overall_failures, samples, test = [], [], [], ""
    for case in root.iter("testcase"):
        name = case.get("name", "")
        if " overall (" in name:
            test = name.split(" overall (", 1)[0]
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
    return test, step_failures or overall_failures, samples


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
    return Sample(metric, seconds, METRICS[metric].unit, labels)


# Measurement summaries; every sample is labelled with the summary it comes from
# (``measurement``), which tells apart two measurements of the same family.

Reader = Callable[[Any, dict[str, str]], list[Sample]]


class SummaryError(ValueError):
    """One summary file cannot be read: the others still are."""


def _summary_samples(path: Path, test: str) -> list[Sample]:
    summary = _summary_name(path.name, test)
    family, reader = _reader(summary)
    if reader is None:
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SummaryError(f"cannot read it as JSON: {error}") from None
    try:
        return reader(data, {"measurement": summary})
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise SummaryError(f"not the summary CL2 writes for {family}: {error!r}") from None


def _summary_name(file_name: str, test: str = "") -> str:
    """``PodStartupLatency_PodStartupLatency_load_2025-05-03T17:16:07Z.json`` -> ``PodStartupLatency_PodStartupLatency``.

    After the summary's name come the test's name and, when CL2 ran a test scenario with an
    identifier, ``_<identifier>`` (pkg/test/simple_test_executor.go). Without the test's name,
    the token before the time is taken for it (CL2 test names have no "_").
    """
    stem = _TIMESTAMP.sub("", file_name)
    if test and stem.endswith("_" + test):
        return stem[: -len(test) - 1]
    if test and f"_{test}_" in stem:
        return stem[: stem.rindex(f"_{test}_")]
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def _reader(summary: str) -> tuple[str, Reader | None]:
    """The measurement family of a summary and its reader; no reader for other measurements."""
    for family, reader in _READERS:
        if summary == family or summary.startswith(family + "_") or summary.startswith(family + " "):
            return family, reader
    return summary, None


def _items(data: Any) -> list[dict]:
    """The data items; ``null`` (every query of a GenericPrometheusQuery came back empty) is none."""
    items = data["dataItems"]
    if items is None:
        return []
    if not isinstance(items, list):
        raise TypeError("dataItems is not a list")
    return items


def _percentiles(item: dict, metric_format: str, labels: dict[str, str], **fields: str) -> list[Sample]:
    """One sample per percentile, named by ``metric_format`` with ``{percentile}`` and ``fields`` filled in."""
    samples = []
    for percentile, key in _PERCENTILES.items():
        metric = metric_format.format(percentile=percentile, **fields)
        unit = METRICS[metric].unit
        samples.append(Sample(metric, _value(item, key, unit), unit, labels))
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
    items = _items(data)
    # CL2 writes the Stateless and Stateful summaries even when no such pod ran: all zeros, not measurements.
    if pods != "all" and all(value == 0 for item in items for value in item["data"].values()):
        return []
    samples = []
    for item in items:
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
            # perftype.go always writes unit, but may write it empty; a quantity without one is a count.
            samples.append(Sample("prometheus_query", float(value), item.get("unit") or "count", query_labels))
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


def _scheduling_metrics(data: Any, labels: dict[str, str]) -> list[Sample]:
    """Scheduler latencies in nanoseconds (Go durations); an all-zero one is a histogram CL2 found empty."""
    latencies = [(SCHEDULING_LATENCIES[key], data[key], labels) for key in SCHEDULING_LATENCIES if key != "frameworkExtensionPointDuration"]
    points = data["frameworkExtensionPointDuration"] or {}
    latencies += [("framework_extension_point", points[point], {**labels, "extension_point": point}) for point in sorted(points)]
    samples = []
    for name, latency, latency_labels in latencies:
        if any(latency[key] for key in _PERCENTILES.values()):
            for percentile, key in _PERCENTILES.items():
                value = units.convert(float(latency[key]), "ns", "ms")
                samples.append(Sample(f"scheduling_{name}_latency_{percentile}", value, "ms", latency_labels))
    return samples


def _cluster_ooms(data: Any, labels: dict[str, str]) -> list[Sample]:
    return [Sample("cluster_oom_kills", float(len(data["ooms"] or [])), "count", labels)]


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
    ("SchedulingMetrics", _scheduling_metrics),
    ("ClusterOOMsTracker", _cluster_ooms),
)
