"""docs/tools.md, written from the tools themselves: each one's parameters and metrics.

Regenerate it with ``python -m pytest_telescope.tools._reference > docs/tools.md``;
a test checks that the file is what this prints.
"""

from __future__ import annotations

import inspect
import json

from pytest_telescope import tools

HEADER = """# Tools: parameters and metrics

Generated from the code by `python -m pytest_telescope.tools._reference > docs/tools.md`; a test keeps it in step.
A case of a scenario sets the parameters (docs/scenarios.md); a threshold or a baseline names the metrics.
**better** says which way a metric improves: a baseline comparison calls a change the other way a regression,
and never calls a change of a metric that is better `neither` way one. By default a baseline judges only
these metrics (but those shown, not judged), never the golden signals (docs/prometheus.md); a scenario's
`baseline_metrics` adds others.
"""


def render() -> str:
    parts = [HEADER]
    for name in tools.names():
        parts.append(_tool(name, tools.load(name)))
    return "\n".join(parts)


def _tool(name: str, tool) -> str:
    lines = [f"## {name}", "", "| parameter | type | default | meaning |", "|---|---|---|---|"]
    for parameter in inspect.signature(tool.command).parameters.values():
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            default = json.dumps(parameter.default)
            lines.append(f"| `{parameter.name}` | {_type(parameter)} | `{default}` | {tool.PARAMETERS[parameter.name]} |")
        elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
            lines.append(f"| `CL2_*` | {_type(parameter)} | | any other override of the test config, by its own name |")
    lines += ["", "| metric | unit | better |", "|---|---|---|"]
    judged = getattr(tool, "JUDGED", tool.METRICS)
    lines += [f"| `{metric}` | {m.unit} | {m.better}{'' if metric in judged else ' (shown, not judged)'} |" for metric, m in tool.METRICS.items()]
    return "\n".join(lines) + "\n"


def _type(parameter: inspect.Parameter) -> str:
    return str(parameter.annotation).replace("|", "or")


if __name__ == "__main__":
    print(render(), end="")
