"""Scenario files: the YAML beside a suite that holds its cases and SLOs.

A scenario is checked as a whole when it is loaded, at collection, so a
mistake in it is a collection error that names the file and the key.
The format is ``schema/scenario.schema.json``; docs/scenarios.md explains it.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Callable

import jsonschema
import yaml

from pytest_telescope import tools, units
from pytest_telescope.errors import ScenarioError
from pytest_telescope.measure.kernel import PROGRAMS as KERNEL_PROGRAMS
from pytest_telescope.measure.kernel import metrics as kernel_metrics
from pytest_telescope.measure.golden import GOLDEN_SIGNALS
from pytest_telescope.measure.query import Measurement
from pytest_telescope.samples import Metric
from pytest_telescope.tools._params import ParameterError
from pytest_telescope.verdict.provisioning import METRICS as PROVISION_METRICS
from pytest_telescope.verdict.slo import Threshold

CLOUDS = ("local", "aks", "eks", "gke", "existing")


@dataclass(frozen=True)
class Case:
    """One parametrization of a benchmark: its test id and parameters."""

    id: str
    params: dict


@dataclass(frozen=True)
class Scenario:
    path: Path
    benchmark: str
    clouds: tuple[str, ...]
    target: dict
    cases: tuple[Case, ...]
    thresholds: tuple[Threshold, ...]
    defaults: dict
    measurements: tuple[Measurement, ...] = ()
    # Every metric the suite records, with its unit and direction: the tool's, then its measurements'.
    metrics: dict[str, Metric] = field(default_factory=dict)
    # The metrics a baseline comparison judges: the tool's own, and those ``baseline_metrics`` adds.
    judged: frozenset[str] = frozenset()
    kernel: tuple[str, ...] = tuple(KERNEL_PROGRAMS)

    def thresholds_for(self, cloud: str, params: dict) -> list[Threshold]:
        """The thresholds for a case; ``when`` sees parameters left at the tool's default too."""
        effective = {**self.defaults, **params}
        return [t for t in self.thresholds if t.metric not in PROVISION_METRICS and t.applies_to(cloud, effective)]

    def provision_thresholds(self, cloud: str) -> list[Threshold]:
        """The thresholds on the provisioning of the suite's target on ``cloud``, judged on its own test."""
        return [t for t in self.thresholds if t.metric in PROVISION_METRICS and t.applies_to(cloud, {})]

    def target_settings(self, cloud: str) -> dict:
        return self.target.get(cloud, {})


@functools.lru_cache(maxsize=None)
def load(path: Path) -> Scenario:
    """Read and check a scenario file. Raises ``ScenarioError``."""
    document = _read_yaml(path)
    _check_schema(path, document)
    try:
        tool = tools.load(document["benchmark"])
    except LookupError as error:
        raise ScenarioError(path, "benchmark", str(error)) from None
    defaults = tools.case_parameters(tool)
    cases = _cases(path, document, defaults, _checker(tool, defaults))
    measurements = _measurements(document)
    programs = tuple(KERNEL_PROGRAMS) if document.get("kernel") is None else tuple(document["kernel"] or ())
    metrics = {**tool.METRICS, **{m.name: m.metric for m in measurements}, **kernel_metrics(programs), **PROVISION_METRICS}
    thresholds = _thresholds(path, document.get("slo", {}), tool, metrics, defaults)
    for index, name in enumerate(document.get("baseline_metrics", [])):
        if name not in metrics:
            raise ScenarioError(path, f"baseline_metrics.{index}", f"unknown metric {name!r} (known: {', '.join(metrics)})")
    return Scenario(
        path=path,
        benchmark=document["benchmark"],
        clouds=tuple(document.get("clouds", CLOUDS)),
        target=document.get("target", {}),
        cases=cases,
        thresholds=thresholds,
        defaults=defaults,
        measurements=measurements,
        metrics=metrics,
        judged=frozenset(getattr(tool, "JUDGED", tool.METRICS)) | frozenset(document.get("baseline_metrics", [])),
        kernel=programs,
    )


def _measurements(document: dict) -> tuple[Measurement, ...]:
    """The scenario's own PromQL measurements, then the golden signals unless switched off."""
    own = tuple(
        Measurement(name, spec["query"], spec.get("stat", "avg"), spec.get("unit", ""), spec["better"])
        for name, spec in document.get("measurements", {}).items()
    )
    return own + (GOLDEN_SIGNALS if document.get("golden_signals", True) else ())


def _read_yaml(path: Path) -> dict:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ScenarioError(path, "", f"cannot read: {error.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ScenarioError(path, "", f"not UTF-8: byte 0x{data[error.start]:02x} on line {line}") from None
    try:
        document = yaml.load(text, Loader=_ScenarioLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ScenarioError(path, "", f"not valid YAML: {where}{problem}") from None
    if not isinstance(document, dict):
        raise ScenarioError(path, "", "must be a mapping with at least a 'benchmark' key")
    _check_numbers(path, document, "")
    return document


MAX_DEPTH = 20  # the deepest scenario key is about 6 levels down
MAX_VALUES = 100_000  # values of a scenario with its aliases expanded: a real one has hundreds
MAX_INTEGER = 2**63 - 1  # what the tools' own integer options take at most
MAX_CASES = 1000  # cases of one scenario unless its max_cases says more


class _ScenarioLoader(yaml.SafeLoader):
    """Safe YAML without what only hurts in a scenario: aliases that expand without bound
    (nine aliases of nine took 153 s and 12 GB to check), a key given twice (YAML keeps the
    last one, silently), and nesting deep enough to exhaust Python's stack."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self):
        """The document's nodes, refused when its aliases would expand to more than ``MAX_VALUES``
        values: counted on the graph of nodes (an alias is the node it names), never expanded."""
        document = super().compose_document()
        expanded: dict[int, int] = {}

        def size(node) -> int:
            if id(node) not in expanded:
                children = node.value if isinstance(node, yaml.SequenceNode) else (
                    [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else []
                )
                expanded[id(node)] = min(1 + sum(size(child) for child in children), MAX_VALUES + 1)
            return expanded[id(node)]

        if document is not None and size(document) > MAX_VALUES:
            raise yaml.composer.ComposerError(
                None, None, f"more than {MAX_VALUES:,} values once its aliases are expanded", document.start_mark
            )
        return document

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _check_numbers(path: Path, value, key: str) -> None:
    """Every number finite (no .nan, .inf or 1e999) and every integer one a tool takes."""
    if isinstance(value, dict):
        for name, item in value.items():
            _check_numbers(path, item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_numbers(path, item, f"{key}.{index}")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError(path, key, f"{value} is not a finite number")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
        raise ScenarioError(path, key, f"a {len(str(abs(value)))}-digit integer is too large (at most {MAX_INTEGER})")


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(resources.files(__package__).joinpath("schema/scenario.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def _check_schema(path: Path, document: dict) -> None:
    error = jsonschema.exceptions.best_match(_validator().iter_errors(document))
    if error is None:
        return
    key = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties" and error.schema.get("additionalProperties") is False:
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        known = ", ".join(error.schema.get("properties", {}))
        raise ScenarioError(path, ".".join(filter(None, [key, unknown[0]])), f"unknown key (known here: {known})")
    if key.startswith("slo.") and error.validator in ("oneOf", "anyOf"):
        raise ScenarioError(path, key, "a threshold needs min and/or max (and may have unit, clouds, when, labels), or is off to switch a default off")
    raise ScenarioError(path, key, error.message)


def _check_params(path: Path, key: str, params: dict, defaults: dict) -> None:
    for name, value in params.items():
        if name not in defaults:
            raise ScenarioError(path, f"{key}.{name}", f"unknown parameter (known: {', '.join(defaults)})")
        default = defaults[name]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ScenarioError(path, f"{key}.{name}", f"must be true or false, not {value!r}")
        number = isinstance(default, (int, float)) and not isinstance(default, bool)
        if number and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ScenarioError(path, f"{key}.{name}", f"must be a number, not {value!r}")
        if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float) and not value.is_integer():
            raise ScenarioError(path, f"{key}.{name}", f"must be a whole number, not {value!r}")
        if isinstance(default, str) and not isinstance(value, str):
            raise ScenarioError(path, f"{key}.{name}", f"must be a string, not {value!r}")


def _checker(tool: ModuleType, defaults: dict) -> Callable[[dict], None]:
    """The tool's own check of a case's parameters (``check``, when it has one), on the case with its defaults."""
    check = getattr(tool, "check", None)
    if check is None:
        return lambda params: None
    return lambda params: check({**defaults, **params})


def _cases(path: Path, document: dict, defaults: dict, check: Callable[[dict], None]) -> tuple[Case, ...]:
    base = document.get("params", {})
    _check_params(path, "params", base, defaults)
    matrix = document.get("matrix", {})
    for name, values in matrix.items():
        for value in values:
            _check_params(path, "matrix", {name: value}, defaults)
    count = math.prod(len(values) for values in matrix.values()) + len(document.get("include", []))
    limit = document.get("max_cases", MAX_CASES)
    if count > limit:
        raise ScenarioError(
            path, "matrix", f"{count:,} cases, more than max_cases ({limit}); set max_cases: {count} in the file to run them all"
        )
    combos = [dict(zip(matrix, values)) for values in itertools.product(*matrix.values())] if matrix else []
    cases = {}  # id -> (case, the key that made it)
    for combo in combos:
        _check_case(path, check, {**base, **combo}, lambda name: f"matrix.{name}" if name in combo else f"params.{name}")
        _add_case(path, cases, Case(_case_id(combo), {**base, **combo}), "matrix")
    for index, extra in enumerate(document.get("include", [])):
        params = {k: v for k, v in extra.items() if k != "id"}
        _check_params(path, f"include.{index}", params, defaults)
        _check_case(
            path, check, {**base, **params}, lambda name: f"include.{index}.{name}" if name in params else f"params.{name}"
        )
        key = f"include.{index}.id" if "id" in extra else f"include.{index}"
        _add_case(path, cases, Case(extra.get("id") or _case_id(params), {**base, **params}), key)
    if not cases:
        _check_case(path, check, base, lambda name: f"params.{name}")
        return (Case("default", dict(base)),)
    return tuple(case for case, _ in cases.values())


def _check_case(path: Path, check: Callable[[dict], None], params: dict, key: Callable[[str], str]) -> None:
    try:
        check(params)
    except ParameterError as error:
        raise ScenarioError(path, key(error.name), str(error)) from None


def _add_case(path: Path, cases: dict, case: Case, key: str) -> None:
    if case.id in cases:
        earlier = cases[case.id][1]
        raise ScenarioError(path, key, f"two cases have the id {case.id!r} (the other is from {earlier}); give one an 'id'")
    cases[case.id] = (case, key)


def _case_id(params: dict) -> str:
    """A readable id that ``-k`` can select: ``tcp-parallel4-reverse``."""
    parts = []
    for name, value in params.items():
        if isinstance(value, bool):
            parts.append(name if value else f"no-{name}")
        elif isinstance(value, str):
            parts.append(value)
        else:
            parts.append(f"{name}{value}")
    return "-".join(parts) or "default"


def _thresholds(path: Path, slo: dict, tool: ModuleType, metrics: dict, defaults: dict) -> tuple[Threshold, ...]:
    """The suite's own thresholds, then the tool's ``DEFAULT_SLO`` as optional thresholds on
    every metric the suite does not name; ``metric: false`` (``off``) drops a default."""
    default_slo = getattr(tool, "DEFAULT_SLO", {})
    for metric, entries in slo.items():
        if entries is False and metric not in default_slo:
            known = ", ".join(default_slo) or "none"
            raise ScenarioError(path, f"slo.{metric}", f"no default threshold to switch off (defaults: {known})")
    own = {metric: entries for metric, entries in slo.items() if entries is not False}
    inherited = {metric: entries for metric, entries in default_slo.items() if metric not in slo}
    return _threshold_entries(path, "slo", own, metrics, defaults, optional=False) + _threshold_entries(
        path, f"{tool.__name__}.DEFAULT_SLO", inherited, metrics, defaults, optional=True
    )


def _threshold_entries(
    path: Path, prefix: str, slo: dict, metrics: dict, defaults: dict, *, optional: bool
) -> tuple[Threshold, ...]:
    thresholds = []
    for metric, entries in slo.items():
        if metric not in metrics:
            raise ScenarioError(path, f"{prefix}.{metric}", f"unknown metric (known: {', '.join(metrics)})")
        unit = metrics[metric].unit
        for index, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            key = f"{prefix}.{metric}" + (f".{index}" if isinstance(entries, list) else "")
            when = entry.get("when", {})
            for name in when:
                if name not in defaults:
                    raise ScenarioError(path, f"{key}.when.{name}", f"unknown parameter (known: {', '.join(defaults)})")
            for bound, op in (("min", ">="), ("max", "<=")):
                if bound not in entry:
                    continue
                written_in = entry.get("unit", unit)
                if not units.comparable(written_in, unit):
                    raise ScenarioError(path, f"{key}.unit", f"{written_in!r} does not measure {metric} ({unit})")
                thresholds.append(
                    Threshold(metric, op, entry[bound], written_in, tuple(entry.get("clouds", ())), when, optional, entry.get("labels", {}))
                )
    return tuple(thresholds)
