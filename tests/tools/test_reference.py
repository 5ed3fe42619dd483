"""docs/tools.md is generated from the tools, and every parameter and metric is in it."""

from pathlib import Path

import pytest

from pytest_telescope import tools
from pytest_telescope.measure.golden import GOLDEN_SIGNALS
from pytest_telescope.samples import DIRECTIONS, Metric
from pytest_telescope.tools import _reference

DOCS = Path(__file__).parents[2] / "docs" / "tools.md"


def test_docs_tools_md_is_what_the_code_generates():
    assert DOCS.read_text() == _reference.render(), "regenerate: python -m pytest_telescope.tools._reference > docs/tools.md"


@pytest.mark.parametrize("name", tools.names())
def test_every_parameter_has_a_meaning(name):
    tool = tools.load(name)
    assert set(tool.PARAMETERS) == set(tools.case_parameters(tool))
    assert all(tool.PARAMETERS.values())


@pytest.mark.parametrize("name", tools.names())
def test_every_metric_declares_its_unit_and_which_way_is_better(name):
    metrics = tools.load(name).METRICS
    assert metrics
    assert all(isinstance(metric, Metric) and metric.unit and metric.better in DIRECTIONS for metric in metrics.values())


def test_every_golden_signal_declares_which_way_is_better():
    assert all(m.better in DIRECTIONS for m in GOLDEN_SIGNALS)
    assert {m.name: m.better for m in GOLDEN_SIGNALS}["network_tcp_retransmits"] == "lower"


def test_a_metric_without_a_direction_is_refused():
    with pytest.raises(ValueError, match="better must be one of higher, lower, neither, got 'up'"):
        Metric("Mbit/s", "up")
