"""A plan checked before it runs: every function, aggregate, operator and table it names is one this
engine evaluates; else `Unsupported` naming the first construct (by position) that is not."""

from __future__ import annotations

from typing import Any

from . import plan as p
from .functions import AGGREGATES, ARG_EXTREMES, SCALARS

SPECIAL = {"ago", "now", "ingestion_time", "pack_all", "dynamic", "column_ifexists", "materialize", "toscalar",
           "view", "table"}
TABLES = {"AWSCloudTrail", "SecurityAlert"}
_OPS = (p.Where, p.Extend, p.Project, p.ProjectAway, p.ProjectReorder, p.ProjectRename, p.Distinct, p.Sort,
        p.Top, p.Take, p.Count, p.Summarize, p.Join, p.Union, p.MvExpand, p.MvApply, p.Parse)


def _problems(node: Any, names: set[str], out: list[tuple[int, int, str]]) -> None:
    if isinstance(node, p.Let):
        names.add(node.name)
    if isinstance(node, p.Call):
        known = SCALARS.keys() | AGGREGATES.keys() | ARG_EXTREMES.keys() | SPECIAL | names
        if node.name not in known:
            out.append((node.line, node.column, f"function {node.name}()"))
    elif isinstance(node, p.Other):
        out.append((node.line, node.column, f"operator {node.name}"))
    elif isinstance(node, p.ExternalData):
        out.append((node.line, node.column, "externaldata (trailhound reads no URLs while scanning)"))
    elif isinstance(node, p.Evaluate) and node.plugin != "bag_unpack":
        out.append((node.line, node.column, f"evaluate {node.plugin}"))
    elif isinstance(node, p.Pipeline) and isinstance(node.source, p.Col) and node.source.name not in TABLES | names:
        out.append((node.source.line, node.source.column, f"table {node.source.name}"))
    elif isinstance(node, p.Join) and isinstance(node.right, p.Col) and node.right.name not in TABLES | names:
        out.append((node.right.line, node.right.column, f"table {node.right.name}"))
    if isinstance(node, p.Node):
        for value in vars(node).values():
            _problems(value, names, out)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _problems(item, names, out)


def check_supported(script: p.Script) -> None:
    found: list[tuple[int, int, str]] = []
    names: set[str] = set()
    for statement in script.statements:
        _problems(statement, names, found)
    if found:
        line, column, construct = min(found)
        raise p.Unsupported(f"unsupported construct: {construct}", line, column, construct)
