"""CL2 test configs checked before they run: every measurement carries the parameters CL2
requires of it.

A CL2 config is a Go template. For the check, lines that are only template actions
(``{{if ...}}``, ``{{end}}``, ``{{$x := ...}}``) are dropped, so both branches of an ``if`` are
kept, and every other action becomes the text ``TEMPLATED``: a parameter given by a template
expression counts as given.
"""

from __future__ import annotations

import re

import yaml

# Parameters CL2 reads without a default (util.GetString, GetInt, GetDuration on the measurement's
# Params), so a step that leaves one out fails: per method, per action ("" for every call). From
# kubernetes/perf-tests, clusterloader2/pkg/measurement/common/:
REQUIRED_PARAMS: dict[str, dict[str, tuple[str, ...]]] = {
    # prometheus_measurement.go (Execute); no other parameter is required of it
    "APIResponsivenessPrometheus": {"": ("action",)},
    "SchedulingThroughputPrometheus": {"": ("action",)},
    # prometheus_measurement.go, and slos/network_programming.go (Configure, on start): a duration
    "NetworkProgrammingLatency": {"": ("action",), "start": ("threshold",)},
    # probes/probes.go (initialize, on start)
    "InClusterNetworkLatency": {"": ("action",), "start": ("replicasPerProbe",)},
    # slos/pod_startup_latency.go
    "PodStartupLatency": {"": ("action",)},
    # scheduling_throughput.go
    "SchedulingThroughput": {"": ("action",)},
    # wait_for_controlled_pods.go
    "WaitForControlledPodsRunning": {"": ("action",), "start": ("apiVersion", "kind")},
    # wait_for_pods.go (no action: every call waits)
    "WaitForRunningPods": {"": ("desiredPodCount",)},
    # wait_for_nodes.go (no action: every call waits)
    "WaitForNodes": {"": ("minDesiredNodeCount", "maxDesiredNodeCount")},
    # resource_usage.go
    "ResourceUsageSummary": {"": ("action",)},
    # job_lifecycle_latency.go
    "JobLifecycleLatency": {"": ("action",)},
    # wait_for_jobs.go
    "WaitForFinishedJobs": {"": ("action",)},
}

TEMPLATED = "TEMPLATED"
_ACTIONS_ONLY = re.compile(r"\s*(\{\{.*?\}\}\s*)+")
_ACTION = re.compile(r"\{\{.*?\}\}")


def problems(config_text: str, name: str = "config") -> list[str]:
    """What each measurement of the config lacks, one line each; [] when nothing does.

    ``name`` (the config's path) starts each line. A method missing from ``REQUIRED_PARAMS``
    is a problem too, so that the table grows with the configs.
    """
    found = []
    for step, measurement in _measurements(config_text):
        method = measurement.get("Method", "")
        where = f"{name}: step {step!r}, measurement {measurement.get('Identifier', method)!r}"
        if method not in REQUIRED_PARAMS:
            found.append(f"{where}: method {method!r} is not in the table of what CL2 requires (REQUIRED_PARAMS)")
            continue
        params = measurement.get("Params") or {}
        action = params.get("action", "")
        by_action = REQUIRED_PARAMS[method]
        required = by_action.get("", ()) + (by_action.get(action, ()) if action else ())
        missing = [param for param in required if param not in params]
        if missing:
            found.append(f"{where} ({method}{f', action {action}' if action else ''}): CL2 requires {', '.join(missing)}")
    return found


def _measurements(config_text: str) -> list[tuple[str, dict]]:
    lines = [_ACTION.sub(TEMPLATED, line) for line in config_text.splitlines() if not _ACTIONS_ONLY.fullmatch(line)]
    config = yaml.safe_load("\n".join(lines)) or {}
    return [
        (step.get("name", ""), measurement)
        for step in config.get("steps") or []
        for measurement in step.get("measurements") or []
    ]
