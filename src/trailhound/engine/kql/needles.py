"""Prefilter needles derived from a query, so a KQL rule scans at a native rule's speed.

For each `AWSCloudTrail` source in the query (anywhere: lets, joins, unions, materialize), its leading
operators are walked: extend/project* pass (marking the columns they assign, or that project drops, as
tainted), every other operator stops the walk. Each leading `where` is split into its top-level `and`
conjuncts; a conjunct that constrains an untainted column holding a raw field's text (EventName,
RequestParameters, ...) with a positive operator (==, =~, has, contains, startswith, endswith and their _cs
forms against a literal; in, in~, has_any against a literal list or a let holding one) gives a needle list:
every record the source can keep contains one of them. An `or` gives a list only when every branch does.
A needle shorter than MIN_NEEDLE counts as none. A source with no list means the rule needs every record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import plan as p
from .table import RAW_TEXT_COLUMNS

MIN_NEEDLE = 5
_POSITIVE = {"==", "=~", "has", "contains", "startswith", "endswith", "has_cs", "contains_cs", "startswith_cs",
             "endswith_cs"}
_PREFERRED = ("EventName",)
_WEAK_COLUMNS = ("EventSource", "EventTypeName")


def _sources(node: Any) -> Iterator[p.Pipeline | p.Col]:
    """Every place the query reads AWSCloudTrail: a pipeline starting at it, or the bare name."""
    if isinstance(node, p.Pipeline):
        if isinstance(node.source, p.Col) and node.source.name == "AWSCloudTrail":
            yield node
        else:
            yield from _sources(node.source)
        for op in node.ops:
            yield from _sources(op)
        return
    if isinstance(node, p.Col) and node.name == "AWSCloudTrail":
        yield node
        return
    if isinstance(node, p.Node):
        for value in vars(node).values():
            yield from _sources(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _sources(item)


def _let_lists(script: p.Script) -> dict[str, list[str]]:
    """Lets holding a literal list of strings: dynamic([...]) or pack_array(...)."""
    out: dict[str, list[str]] = {}
    for statement in script.statements:
        if isinstance(statement, p.Let):
            values = _literal_list(statement.value, out)
            if values is not None:
                out[statement.name] = values
    return out


def _literal_list(node: Any, lets: dict[str, list[str]]) -> list[str] | None:
    if isinstance(node, p.Call) and node.name in ("dynamic", "pack_array"):
        items = node.args[0].items if node.name == "dynamic" and node.args and isinstance(
            node.args[0], p.ArrayLit) else node.args if node.name == "pack_array" else None
        if items is None:
            return None
        return _strings(items, lets)
    if isinstance(node, p.ArrayLit):
        return _strings(node.items, lets)
    if isinstance(node, p.Col) and node.name in lets:
        return lets[node.name]
    return None


def _strings(items: list[Any], lets: dict[str, list[str]]) -> list[str] | None:
    out: list[str] = []
    for item in items:
        if isinstance(item, p.Lit) and isinstance(item.value, str):
            out.append(item.value)
        elif isinstance(item, p.Col) and item.name in lets:
            out.extend(lets[item.name])
        else:
            nested = _literal_list(item, lets)
            if nested is None:
                return None
            out.extend(nested)
    return out


def _conjuncts(node: p.Node) -> list[p.Node]:
    if isinstance(node, p.BoolOp) and node.op == "and":
        return [c for item in node.items for c in _conjuncts(item)]
    return [node]


def _column(node: p.Node, tainted: set[str]) -> str | None:
    if isinstance(node, p.Col) and node.name in RAW_TEXT_COLUMNS and node.name not in tainted:
        return node.name
    return None


def _needles_of(node: p.Node, tainted: set[str], lets: dict[str, list[str]]) -> tuple[str, list[str]] | None:
    """(column, needles) for a conjunct every kept record must satisfy by containing one needle; or None."""
    if isinstance(node, p.BoolOp) and node.op == "or":
        branches = [_needles_of(item, tainted, lets) for item in node.items]
        if any(b is None for b in branches):
            return None
        columns = {b[0] for b in branches if b}
        return (columns.pop() if len(columns) == 1 else "*", [n for b in branches if b for n in b[1]])
    if isinstance(node, p.BoolOp):  # an `and` nested in an `or`: any of its conjuncts will do
        best = [r for r in (_needles_of(c, tainted, lets) for c in _conjuncts(node)) if r]
        return best[0] if best else None
    if isinstance(node, p.BinOp) and node.op in _POSITIVE:
        column = _column(node.left, tainted)
        if column and isinstance(node.right, p.Lit) and isinstance(node.right.value, str):
            return (column, [node.right.value])
        return None
    if isinstance(node, p.InList) and node.op in ("in", "in~", "has_any"):
        column = _column(node.left, tainted)
        if not column:
            return None
        values = _strings(node.items, lets)
        return (column, values) if values else None
    return None


def _source_lists(source: p.Pipeline | p.Col, lets: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    if isinstance(source, p.Col):
        return []
    tainted: set[str] = set()
    lists: list[tuple[str, list[str]]] = []
    for op in source.ops:
        if isinstance(op, p.Where):
            for conjunct in _conjuncts(op.predicate):
                found = _needles_of(conjunct, tainted, lets)
                if found and all(len(n) >= MIN_NEEDLE for n in found[1]):
                    lists.append(found)
        elif isinstance(op, (p.Extend, p.Project)):
            tainted.update(item.name for item in op.items if item.name)
            if isinstance(op, p.Project):
                kept = {item.name or (item.expr.name if isinstance(item.expr, p.Col) else "") for item in op.items}
                tainted.update(c for c in RAW_TEXT_COLUMNS if c not in kept)
        elif isinstance(op, p.ProjectAway):
            tainted.update(op.patterns if not op.keep else [c for c in RAW_TEXT_COLUMNS if c not in op.patterns])
        elif isinstance(op, p.ProjectRename):
            tainted.update(new for new, _ in op.pairs)
            tainted.update(old for _, old in op.pairs)
        elif isinstance(op, p.ProjectReorder):
            continue
        else:
            break
    return lists


def derive_needles(script: p.Script) -> tuple[list[bytes], list[list[bytes]]]:
    """(needles, also_needles) as engine rules declare them; ([], []) when some source needs every record."""
    lets = _let_lists(script)
    sources = list(_sources(script))
    if not sources:
        return [], []
    per_source = [_source_lists(s, lets) for s in sources]
    if any(not lists for lists in per_source):
        return [], []

    def rank(item: tuple[str, list[str]]) -> int:
        column = item[0]
        return 0 if column in _PREFERRED else 2 if column in _WEAK_COLUMNS else 1

    best = [min(lists, key=rank) for lists in per_source]
    needles = sorted({n.lower().encode() for _, values in best for n in values})
    also: list[list[bytes]] = []
    if len(per_source) == 1:  # one source: every other conjunct holds too
        also = [sorted({n.lower().encode() for n in values}) for item in per_source[0] if item is not best[0]
                for _, values in [item]]
    return needles, also
