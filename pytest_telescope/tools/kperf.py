"""kperf: drive kube-apiserver with client traffic; build the commands, render load profiles, parse results.

Two ways to run, chosen by the ``bench`` parameter:

- ``bench`` names a ``runkperf bench`` scenario (``node100_job1_pod3k``...): runkperf creates
  kwok virtual nodes and a workload, runs a runner group with its built-in load profile and
  writes a benchmark report to ``result.json``;
- ``bench=""``: a runner group (``kperf rg run``) of ``runners`` runners sending the load
  profile ``load_profile`` renders from the case (rate, total, conns, client, content type,
  ``requests``), whose result ``kperf rg result --wait`` prints.

Both results carry latency percentiles (0, 50, 90, 95, 99, 100 %) in seconds, for all
requests (``latency_p99``) and per request (``url_latency_p99``, labels ``method`` and ``url``).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from pytest_telescope import process
from pytest_telescope.errors import ToolError
from pytest_telescope.samples import HIGHER, LOWER, NEITHER, Metric, Sample
from pytest_telescope.tools._json import JsonOutput, load
from pytest_telescope.tools._params import is_int

RUNNER_IMAGE = "ghcr.io/azure/kperf:0.3.4"
RESULT_FILE = "result.json"
RUNNER_GROUP_FILE = "runnergroup.yaml"
# kperf's fixed percentiles (metrics/utils.go BuildPercentileLatencies).
PERCENTILES = {0.0: "p0", 0.5: "p50", 0.9: "p90", 0.95: "p95", 0.99: "p99", 1.0: "p100"}
# The request types of a load profile and the fields of each, as kperf v0.3.4 has them
# (api/types/load_traffic.go: WeightedRequest and the Request* types; patch and postDel came
# in v0.3.5). kperf reads the profile with gopkg.in/yaml.v2, which drops a key it does not
# know, so a misspelt field would go unnoticed: only these are accepted.
_RESOURCE_FIELDS = ("group", "version", "resource")
_LIST_FIELDS = (*_RESOURCE_FIELDS, "namespace", "limit", "seletor", "fieldSelector")
_GET_FIELDS = (*_RESOURCE_FIELDS, "namespace", "name")
REQUEST_FIELDS: dict[str, tuple[str, ...]] = {
    "staleList": _LIST_FIELDS,
    "quorumList": _LIST_FIELDS,
    "watchList": (*_RESOURCE_FIELDS, "namespace", "selector", "fieldSelector"),
    "staleGet": _GET_FIELDS,
    "quorumGet": _GET_FIELDS,
    "put": (*_GET_FIELDS, "keySpaceSize", "valueSize"),
    "getPodLog": ("namespace", "name", "container", "tailLines", "limitBytes"),
}
CONTENT_TYPES = ("json", "protobuf")

METRICS: dict[str, Metric] = {
    # Every request sent, answered or failed: runners x the load profile's total, set by the case.
    "requests": Metric("count", NEITHER),
    "errors": Metric("count", LOWER),
    "error_rate": Metric("%", LOWER),
    "duration": Metric("s", LOWER),
    "request_rate": Metric("req/s", HIGHER),
    "received_bytes": Metric("B", NEITHER),
    **{f"latency_{name}": Metric("s", LOWER) for name in PERCENTILES.values()},
    **{f"url_latency_{name}": Metric("s", LOWER) for name in PERCENTILES.values()},
}

# What each parameter of command() means, for docs/tools.md.
PARAMETERS: dict[str, str] = {
    "bench": 'the runkperf bench scenario (node100_job1_pod3k, ...); "" runs a runner group of the case\'s load profile',
    "runner_image": "the kperf image the runners run",
    "runner_flowcontrol": "the runners' API priority and fairness: PRIORITY_LEVEL:MATCHING_PRECEDENCE",
    "eks": "the cluster is EKS (bench only; set by the target)",
    "rg_affinity": "node labels KEY=VALUE[,VALUE] for the runners (bench only)",
    "vc_affinity": "node labels KEY=VALUE[,VALUE] for the kwok controllers (bench only)",
    "total": "requests each runner sends; 0 leaves a bench's own",
    "content_type": "json or protobuf; \"\" leaves kperf's default, json",
    "cpu": "CPU of each virtual node (bench only; 0: runkperf's default)",
    "memory": "memory GiB of each virtual node (bench only; 0: runkperf's default)",
    "max_pods": "pods each virtual node takes (bench only; 0: runkperf's default)",
    "deployments": "deployments the bench creates (bench only; 0: runkperf's default)",
    "interval": "how often the bench restarts its deployments, a Go duration (bench only)",
    "padding_bytes": "bytes added to each object the bench creates (bench only)",
    "runners": "runners in the group (runner group only)",
    "rate": "requests per second of each runner; 0 is unlimited (runner group only)",
    "conns": "connections each runner opens (runner group only)",
    "client": "clients sharing those connections (runner group only)",
    "requests": 'the request mix: "TYPE RESOURCE SHARES [KEY=VALUE ...]; ..." (runner group only, see load_profile)',
}

# In the scenario's ``slo:`` format. 30 s is the upstream API call latency SLO for
# cluster-scoped LIST calls, the bulk of runkperf's bench mixes; there is no upstream error
# rate SLO, and above 1 % failed requests the latencies no longer describe the server.
DEFAULT_SLO: dict[str, dict] = {
    "latency_p99": {"max": 30, "unit": "s"},
    "error_rate": {"max": 1, "unit": "%"},
}

# Parameters of one way to run only (see command()).
_BENCH_ONLY = ("eks", "rg_affinity", "vc_affinity", "cpu", "memory", "max_pods", "deployments", "interval", "padding_bytes")
_RUNNER_GROUP_ONLY = ("runners", "rate", "conns", "client", "requests")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_METHOD = re.compile(r"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+)")


def command(
    binary: str,
    kubeconfig: str,
    work_dir: str,
    *,
    bench: str = "node100_job1_pod3k",
    runner_image: str = RUNNER_IMAGE,
    runner_flowcontrol: str = "workload-low:1000",
    eks: bool = False,
    rg_affinity: str = "",
    vc_affinity: str = "",
    total: int = 0,
    content_type: str = "",
    cpu: int = 0,
    memory: int = 0,
    max_pods: int = 0,
    deployments: int = 0,
    interval: str = "",
    padding_bytes: int = 0,
    runners: int = 10,
    rate: float = 10.0,
    conns: int = 10,
    client: int = 100,
    requests: str = "",
) -> list[str]:
    """The command that starts the load.

    With ``bench``: ``runkperf bench`` (``binary`` is runkperf) writing its report to
    ``work_dir/result.json``; 0 or "" leaves runkperf's own default of an option (the
    affinities are ``KEY=VALUE[,VALUE]`` node labels for the runners and the kwok
    controllers; ``eks`` tells runkperf the cluster is EKS).
    Without: ``kperf rg run`` (``binary`` is kperf) of the runner group spec
    ``work_dir/runnergroup.yaml`` that ``runner_group_spec`` renders.
    """
    given = {"eks": eks, "rg_affinity": rg_affinity, "vc_affinity": vc_affinity, "cpu": cpu, "memory": memory,
             "max_pods": max_pods, "deployments": deployments, "interval": interval,
             "padding_bytes": padding_bytes, "runners": runners, "rate": rate, "conns": conns, "client": client,
             "requests": requests}
    defaults = _defaults()
    wrong_mode = [name for name in (_RUNNER_GROUP_ONLY if bench else _BENCH_ONLY) if given[name] != defaults[name]]
    if wrong_mode:
        where = f"runkperf bench {bench}, which has its own load profile" if bench else 'a runner group (bench="")'
        raise ValueError(f"{', '.join(wrong_mode)} do not apply to {where}")
    if content_type and content_type not in CONTENT_TYPES:
        raise ValueError(f"content_type must be one of {', '.join(CONTENT_TYPES)}, got {content_type!r}")
    for name, value in (("total", total), ("cpu", cpu), ("memory", memory), ("max_pods", max_pods),
                        ("deployments", deployments), ("padding_bytes", padding_bytes)):
        if not is_int(value) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    if not bench:
        return [
            binary, "rg", f"--kubeconfig={kubeconfig}", "run",
            f"--runnergroup=file://{Path(work_dir).absolute() / RUNNER_GROUP_FILE}",
            f"--runner-image={runner_image}",
            f"--runner-flowcontrol={runner_flowcontrol}",
        ]
    argv = [
        binary, "bench",
        f"--kubeconfig={kubeconfig}",
        f"--runner-image={runner_image}",
        f"--runner-flowcontrol={runner_flowcontrol}",
        f"--result={Path(work_dir) / RESULT_FILE}",
        *([f"--rg-affinity={rg_affinity}"] if rg_affinity else []),
        *([f"--vc-affinity={vc_affinity}"] if vc_affinity else []),
        *(["--eks"] if eks else []),
        bench,
    ]
    options = {"total": total, "content-type": content_type, "cpu": cpu, "memory": memory, "max-pods": max_pods,
               "deployments": deployments, "interval": interval, "padding-bytes": padding_bytes}
    return argv + [f"--{name}={value}" for name, value in options.items() if value]


def runner_group_result_command(binary: str, kubeconfig: str) -> list[str]:
    """Waits for the runner group to finish and prints its result as JSON."""
    return [binary, "rg", f"--kubeconfig={kubeconfig}", "result", "--wait"]


def runner_group_delete_command(binary: str, kubeconfig: str) -> list[str]:
    return [binary, "rg", f"--kubeconfig={kubeconfig}", "delete"]


def load_profile(params: Mapping[str, Any]) -> str:
    """The load profile YAML of a case (``version: 1``, ``spec`` with its request mix), as
    ``kperf runner run --config`` and a runner group's ``loadProfile`` take it.

    ``requests`` is the mix as ``;``-separated entries ``TYPE RESOURCE SHARES [KEY=VALUE ...]``:
    ``"staleList pods 1000; quorumList pods 100 limit=1000; quorumList apps/v1/deployments 10"``.
    RESOURCE is ``resource`` (core v1), ``version/resource`` or ``group/version/resource``
    (``-`` for getPodLog, which has none); KEY=VALUE pairs are the request's other fields
    (``REQUEST_FIELDS``: namespace, name, limit, seletor [kperf's spelling for a list], selector
    [for watchList], keySpaceSize, valueSize...).
    """
    return yaml.safe_dump(_profile(params), sort_keys=False)


def _profile(params: Mapping[str, Any]) -> dict:
    settings = {**_defaults(), **params}
    for name in ("total", "conns", "client"):
        if not is_int(settings[name]) or settings[name] <= 0:
            raise ValueError(f"{name} must be an integer > 0 for a load profile, got {settings[name]!r}")
    if isinstance(settings["rate"], bool) or not isinstance(settings["rate"], (int, float)) or settings["rate"] < 0:
        raise ValueError(f"rate must be a number >= 0 (0: no limit), got {settings['rate']!r}")
    return {
        "version": 1,
        "description": "pytest-telescope load profile",
        "spec": {
            "rate": settings["rate"],
            "total": settings["total"],
            "conns": settings["conns"],
            "client": settings["client"],
            "contentType": settings["content_type"] or "json",
            "disableHTTP2": False,
            "maxRetries": 0,
            "requests": _request_mix(settings["requests"]),
        },
    }


def runner_group_spec(params: Mapping[str, Any]) -> str:
    """The runner group spec YAML: ``runners`` runners, each sending the case's load profile."""
    runners = {**_defaults(), **params}["runners"]
    if not is_int(runners) or runners <= 0:
        raise ValueError(f"runners must be an integer > 0, got {runners!r}")
    return yaml.safe_dump({"count": runners, "loadProfile": _profile(params)}, sort_keys=False)


def run(
    runkperf: str,
    kperf: str,
    kubeconfig: str,
    work_dir: Path,
    params: Mapping[str, Any],
    *,
    eks: bool,
    timeout: float,
    echo: Callable[[str], None] | None = None,
) -> list[Sample]:
    """Run one case and return its samples; any non-zero exit is a ``ToolError``.

    ``eks`` says the cluster is EKS, which a runkperf bench needs to know.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    bench = {**_defaults(), **params}["bench"]
    if bench:
        argv = command(runkperf, kubeconfig, str(work_dir), **{**params, "eks": eks})
        process.run(argv, timeout=timeout, echo=echo)
        result = work_dir / RESULT_FILE
        if not result.is_file():
            raise ToolError(argv, f"exited 0 but wrote no {result}")
        return parse(result.read_text(), argv)
    (work_dir / RUNNER_GROUP_FILE).write_text(runner_group_spec(params))
    delete = runner_group_delete_command(kperf, kubeconfig)
    try:
        process.run(command(kperf, kubeconfig, str(work_dir), **params), timeout=timeout, echo=echo)
        argv = runner_group_result_command(kperf, kubeconfig)
        runner_group = {**_defaults(), **params}
        expected = runner_group["runners"] * runner_group["total"]
        samples = parse(process.run(argv, timeout=timeout, echo=echo).stdout, argv, expected=expected)
    except BaseException:
        # The first error is the one to show; the runner group is removed all the same.
        process.run(delete, timeout=600, check=False, echo=echo)
        raise
    process.run(delete, timeout=600, echo=echo)
    return samples


def parse(output: str, command: list[str] | str = "kperf", *, expected: int = 0) -> list[Sample]:
    """Samples from a kperf result: a runkperf bench report (``result`` inside), a runner or
    runner group report, or a multi-spec report (its ``aggregated`` totals).

    ``total`` counts only the answered requests: kperf builds it from the latencies
    it observed and counts failures apart (runner/utils.go, request/schedule.go), so
    ``requests`` is total + errors and the error rate errors / (total + errors).
    Fewer requests than ``expected`` (runners x the load profile's total; a bench
    report's own ``loadSpec`` when not given) means a runner's report is missing.
    """
    out = load(output, command, "kperf result JSON", skip_text=True)
    path = next(((key,) for key in ("result", "aggregated") if key in out.data), ())
    report = out.get(*path) if path else out.data
    errors = _errors(report)
    requests = out.number(*path, "total") + errors
    if not requests:
        raise out.error("kperf sent no request (total and errors are 0)")
    expected = expected or _bench_expected(out)
    if requests < expected:
        raise out.error(
            f"{requests:.0f} requests answered or failed, expected {expected} (runners x the load profile's total):"
            " a runner's report is missing"
        )
    try:
        seconds = _duration_seconds(str(out.get(*path, "duration")))
    except ValueError as error:
        raise out.error(str(error)) from None
    samples = [
        _sample("requests", requests),
        _sample("errors", errors),
        _sample("error_rate", 100 * errors / requests),
        _sample("duration", seconds),
        _sample("request_rate", requests / seconds if seconds else 0.0),
        _sample("received_bytes", out.number(*path, "totalReceivedBytes")),
        *_percentile_samples(out, (*path, "percentileLatencies"), "latency", {}),
    ]
    for key in sorted(report.get("percentileLatenciesByURL") or {}):
        method = _METHOD.fullmatch(key)
        labels = {"method": method.group(1), "url": method.group(2)} if method else {"url": key}
        samples += _percentile_samples(out, (*path, "percentileLatenciesByURL", key), "url_latency", labels)
    return samples


def _sample(metric: str, value: float, labels: dict[str, str] | None = None) -> Sample:
    return Sample(metric, value, METRICS[metric].unit, dict(labels or {}))


def _bench_expected(out: JsonOutput) -> int:
    """runners x total of a bench report's ``loadSpec``; 0 when it has none or runs by duration."""
    spec = out.data.get("loadSpec")
    if not isinstance(spec, dict):
        return 0
    total = (spec.get("loadProfile") or {}).get("spec", {}).get("total", 0)
    count = spec.get("count", 0)
    return count * total if is_int(count) and is_int(total) else 0


def _duration_seconds(text: str) -> float:
    """A Go duration string (``1m40.072897445s``, ``250ms``) in seconds."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"duration is not a Go duration: {text!r}")
    return sum(float(number) * _DURATION_SECONDS[unit] for number, unit in parts)


def _errors(report: dict) -> float:
    """Failed requests: the raw error list when kperf kept it, else the error statistics.

    kperf >= 0.3 groups errors by type (``{"http/429": 3}``, absent without errors);
    earlier versions wrote ``{unknownErrors: [...], netErrors: {}, responseCodes: {},
    http2Errors: {connectionErrors: {}, streamErrors: {}}}``.
    """
    if isinstance(report.get("errors"), list):
        return float(len(report["errors"]))
    stats = report.get("errorStats") or {}
    if all(isinstance(v, int) and not isinstance(v, bool) for v in stats.values()):
        return float(sum(stats.values()))
    http2 = stats.get("http2Errors") or {}
    counts = [
        *(stats.get("netErrors") or {}).values(),
        *(stats.get("responseCodes") or {}).values(),
        *(http2.get("connectionErrors") or {}).values(),
        *(http2.get("streamErrors") or {}).values(),
    ]
    return float(len(stats.get("unknownErrors") or []) + sum(counts))


def _percentile_samples(out: JsonOutput, keys: tuple[str, ...], prefix: str, labels: dict[str, str]) -> list[Sample]:
    pairs = out.get(*keys) or []
    samples = []
    for index in range(len(pairs)):
        name = PERCENTILES.get(out.number(*keys, index, 0))
        if name is not None:
            samples.append(_sample(f"{prefix}_{name}", out.number(*keys, index, 1), labels))
    return samples


def _request_mix(text: str) -> list[dict]:
    entries = [entry.strip() for entry in text.split(";") if entry.strip()]
    if not entries:
        raise ValueError('requests must list at least one request, like "staleList pods 1000"')
    return [_request(entry) for entry in entries]


def _request(entry: str) -> dict:
    fields = entry.split()
    if len(fields) < 3:
        raise ValueError(f"request {entry!r}: expected TYPE RESOURCE SHARES [KEY=VALUE ...]")
    kind, resource, shares, *options = fields
    if kind not in REQUEST_FIELDS:
        raise ValueError(f"request {entry!r}: unknown type {kind!r} (known: {', '.join(REQUEST_FIELDS)})")
    if not shares.isdigit():
        raise ValueError(f"request {entry!r}: shares must be a whole number >= 0, got {shares!r}")
    body: dict[str, Any] = {}
    options_known = [field for field in REQUEST_FIELDS[kind] if field not in _RESOURCE_FIELDS]
    if kind == "getPodLog":
        if resource != "-":
            raise ValueError(f"request {entry!r}: getPodLog has no resource, write - in its place")
    else:
        parts = resource.split("/")
        if len(parts) > 3 or not all(parts):
            raise ValueError(f"request {entry!r}: resource must be resource, version/resource or group/version/resource")
        group, version, name = {1: ["", "v1", *parts], 2: ["", *parts], 3: parts}[len(parts)]
        body.update(group=group, version=version, resource=name)
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise ValueError(f"request {entry!r}: {option!r} is not KEY=VALUE")
        if key not in options_known:
            raise ValueError(f"request {entry!r}: {kind} has no field {key!r} (its fields: {', '.join(options_known)})")
        body[key] = int(value) if value.isdigit() else value
    return {kind: body, "shares": int(shares)}


def _defaults() -> dict[str, Any]:
    return {
        name: parameter.default
        for name, parameter in inspect.signature(command).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
