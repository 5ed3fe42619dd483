"""CL2 test configs: each measurement carries the parameters CL2 requires of it."""

from pathlib import Path

import pytest

from pytest_telescope.tools import _cl2_configs as clusterloader2_configs

CONFIGS = Path(__file__).resolve().parents[2] / "benchmarks" / "kubernetes" / "clusterloader2"


def config(measurements: str) -> str:
    """A config of one step with these measurements (YAML list items, indented by 2)."""
    return "{{$threshold := DefaultParam .CL2_THRESHOLD \"30s\"}}\nname: t\nsteps:\n- name: Start\n  measurements:\n" + measurements


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*/config.yaml")), ids=lambda path: path.parent.name)
def test_every_suite_config_gives_what_cl2_requires(path):
    assert clusterloader2_configs.problems(path.read_text(), str(path)) == []


def test_network_programming_latency_started_without_a_threshold_is_named():
    text = config("  - Identifier: NetProg\n    Method: NetworkProgrammingLatency\n    Params:\n      action: start\n")
    assert clusterloader2_configs.problems(text, "load/config.yaml") == [
        "load/config.yaml: step 'Start', measurement 'NetProg' (NetworkProgrammingLatency, action start): CL2 requires threshold"
    ]


def test_a_parameter_given_by_a_template_expression_inside_an_if_counts():
    text = config(
        "{{if true}}\n"
        "  - Identifier: NetProg\n    Method: NetworkProgrammingLatency\n    Params:\n"
        "      action: start\n      threshold: {{$threshold}}\n"
        "{{end}}\n"
    )
    assert clusterloader2_configs.problems(text) == []


def test_what_one_action_requires_is_not_asked_of_another():
    text = config(
        "  - Identifier: Wait\n    Method: WaitForControlledPodsRunning\n    Params:\n      action: gather\n"
        "  - Identifier: Wait2\n    Method: WaitForControlledPodsRunning\n    Params:\n      action: start\n      kind: Deployment\n"
    )
    assert clusterloader2_configs.problems(text) == [
        "config: step 'Start', measurement 'Wait2' (WaitForControlledPodsRunning, action start): CL2 requires apiVersion"
    ]


def test_a_measurement_without_an_action_needs_its_counts():
    text = config("  - Identifier: Nodes\n    Method: WaitForNodes\n    Params:\n      minDesiredNodeCount: 3\n")
    assert clusterloader2_configs.problems(text) == [
        "config: step 'Start', measurement 'Nodes' (WaitForNodes): CL2 requires maxDesiredNodeCount"
    ]


def test_a_method_missing_from_the_table_is_a_problem_to_fix_in_the_table():
    text = config("  - Identifier: Sleep\n    Method: Sleep\n    Params:\n      duration: 1m\n")
    assert clusterloader2_configs.problems(text) == [
        "config: step 'Start', measurement 'Sleep': method 'Sleep' is not in the table of what CL2 requires (REQUIRED_PARAMS)"
    ]
