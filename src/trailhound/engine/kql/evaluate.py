"""Evaluating a KQL plan over tables of rows: Kusto's tabular operators, one function each.

A table is a list of column names (in order) and rows (dicts). Rows may carry hidden keys starting with "$"
(the ingestion time), which `project`, `summarize` and `pack_all()` do not show. Scalar expressions are
evaluated per row; a construct this engine does not run raises `Unsupported` naming the node's line, column
and the construct, so a rule file that uses it is reported and skipped, never half-run.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import plan as p
from .functions import AGGREGATES, ARG_EXTREMES, SCALARS
from .values import (
    convert,
    has_prefix,
    has_suffix,
    has_term,
    hashable,
    kusto_equal,
    order_key,
    parse_json,
    to_bool,
    to_datetime,
    to_number,
    to_string,
)

INGESTION = "$ingestion_time"


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, Any]]


TableSource = Callable[[str], Table | None]


@dataclass
class Context:
    """What a query sees besides its rows: the tables by name, the run's clock, the let bindings."""

    tables: TableSource
    now: datetime
    env: dict[str, Any] = field(default_factory=dict)

    def child(self) -> Context:
        return Context(self.tables, self.now, dict(self.env))


def unsupported(node: p.Node, construct: str) -> p.Unsupported:
    return p.Unsupported(f"unsupported construct: {construct}", node.line, node.column, construct)


def run_script(script: p.Script, ctx: Context) -> Table:
    """The script's result: its last tabular statement, after every let."""
    result: Any = None
    for statement in script.statements:
        if isinstance(statement, p.Let):
            ctx.env[statement.name] = (statement.value if isinstance(statement.value, p.Lambda)
                                       else _let_value(statement.value, ctx))
        else:
            result = evaluate_tabular(statement, ctx)
    if not isinstance(result, Table):
        raise p.KqlError("the query has no tabular statement to run")
    return result


def _let_value(node: p.Node, ctx: Context) -> Any:
    """A let is tabular when its expression names a table or is a pipeline; else a scalar (on no row)."""
    if _is_tabular(node, ctx):
        return evaluate_tabular(node, ctx)
    return Scalar(ctx, {}, []).eval(node)


def _is_tabular(node: p.Node, ctx: Context) -> bool:
    if isinstance(node, (p.Pipeline, p.Union, p.ExternalData, p.DataTable)):
        return True
    if isinstance(node, p.Col):
        return isinstance(ctx.env.get(node.name), Table) or (node.name not in ctx.env
                                                             and ctx.tables(node.name) is not None)
    if isinstance(node, p.Call) and node.name in ("materialize", "view", "table"):
        return True
    if isinstance(node, p.Call) and isinstance(ctx.env.get(node.name), p.Lambda):
        return True
    return False


def evaluate_tabular(node: p.Node, ctx: Context) -> Table:
    if isinstance(node, p.Pipeline):
        table = evaluate_tabular(node.source, ctx)
        for op in node.ops:
            table = apply(op, table, ctx)
        return table
    if isinstance(node, p.Col):
        bound = ctx.env.get(node.name)
        if isinstance(bound, Table):
            return bound
        named = ctx.tables(node.name) if bound is None else None
        if named is None:
            raise p.KqlError(f"unknown table {node.name!r}", node.line, node.column, node.name)
        return named
    if isinstance(node, p.Call) and node.name in ("materialize", "view") and len(node.args) == 1:
        return evaluate_tabular(node.args[0], ctx)
    if isinstance(node, p.Call) and node.name == "table" and node.args and isinstance(node.args[0], p.Lit):
        return evaluate_tabular(p.Col(str(node.args[0].value), line=node.line, column=node.column), ctx)
    if isinstance(node, p.Union):
        return _union(node, ctx)
    if isinstance(node, p.Call) and isinstance(ctx.env.get(node.name), p.Lambda):
        return _invoke(ctx.env[node.name], node, ctx)
    if isinstance(node, p.DataTable):
        return _datatable(node, ctx)
    if isinstance(node, p.ExternalData):
        raise unsupported(node, "externaldata (trailhound reads no URLs while scanning)")
    raise unsupported(node, f"{type(node).__name__} as a table")


def _invoke(fn: p.Lambda, call: p.Call, ctx: Context) -> Table:
    inner = ctx.child()
    for (name, _type), arg in zip(fn.params, call.args):
        inner.env[name] = _let_value(arg, ctx)
    return run_script(p.Script(fn.body), inner)


def _datatable(node: p.DataTable, ctx: Context) -> Table:
    names = [n for n, _ in node.columns]
    scalar = Scalar(ctx, {}, [])
    values = [scalar.eval(v) for v in node.values]
    rows = [dict(zip(names, values[i:i + len(names)])) for i in range(0, len(values), len(names))]
    return Table(names, rows)


# Scalars ------------------------------------------------------------------------------------------------

class Scalar:
    """Evaluates scalar expressions on one row (or on none, for lets)."""

    def __init__(self, ctx: Context, row: dict[str, Any], columns: list[str],
                 sides: tuple[dict[str, Any], dict[str, Any]] | None = None) -> None:
        self.ctx, self.row, self.columns, self.sides = ctx, row, columns, sides

    def eval(self, node: p.Node) -> Any:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise unsupported(node, type(node).__name__)
        return method(node)

    def _Lit(self, node: p.Lit) -> Any:
        return node.value

    def _Col(self, node: p.Col) -> Any:
        if node.name in self.row:
            return self.row[node.name]
        if node.name in self.columns:
            return None
        if node.name in self.ctx.env:
            value = self.ctx.env[node.name]
            if isinstance(value, Table):  # a tabular let used as a scalar list (`in (T)`)
                return [r[value.columns[0]] for r in value.rows] if value.columns else []
            return value
        raise p.KqlError(f"unknown column or name {node.name!r}", node.line, node.column, node.name)

    def _SideRef(self, node: p.SideRef) -> Any:
        if self.sides is None:
            raise unsupported(node, f"${node.side} outside a join")
        return (self.sides[0] if node.side == "left" else self.sides[1]).get(node.name)

    def _Member(self, node: p.Member) -> Any:
        return _member(self.eval(node.base), node.name)

    def _Index(self, node: p.Index) -> Any:
        base, index = self.eval(node.base), self.eval(node.index)
        base = parse_json(base) if isinstance(base, str) else base
        if isinstance(base, list):
            i = to_number(index)
            if i is None or not -len(base) <= int(i) < len(base):
                return None
            return base[int(i)]
        if isinstance(base, dict):
            return base.get(to_string(index))
        return None

    def _Neg(self, node: p.Neg) -> Any:
        value = self.eval(node.value)
        if isinstance(value, (int, float, timedelta)) and not isinstance(value, bool):
            return -value
        number = to_number(value)
        return None if number is None else -number

    def _ArrayLit(self, node: p.ArrayLit) -> list[Any]:
        return [self.eval(item) for item in node.items]

    def _BagLit(self, node: p.BagLit) -> dict[str, Any]:
        return {key: self.eval(value) for key, value in node.pairs}

    def _Star(self, node: p.Star) -> Any:
        raise unsupported(node, "* as a value")

    def _TypeOf(self, node: p.TypeOf) -> Any:
        return node.name

    def _BoolOp(self, node: p.BoolOp) -> bool:
        if node.op == "and":
            return all(to_bool(self.eval(item)) for item in node.items)
        return any(to_bool(self.eval(item)) for item in node.items)

    def _Between(self, node: p.Between) -> bool | None:
        value, low, high = self.eval(node.value), self.eval(node.low), self.eval(node.high)
        if value is None or low is None or high is None:
            return None
        if isinstance(low, datetime) and isinstance(high, timedelta):
            high = low + high  # Kusto: `between (start .. 1h)` is the hour from start
        inside = order_key(low) <= order_key(_coerce_like(value, low)) <= order_key(high)
        return not inside if node.negated else inside

    def _InList(self, node: p.InList) -> bool | None:
        left = self.eval(node.left)
        items: list[Any] = []
        for item in node.items:
            value = (evaluate_tabular(item, self.ctx) if isinstance(item, p.Pipeline) else self.eval(item))
            if isinstance(value, Table):
                items.extend(r.get(value.columns[0]) for r in value.rows)
            elif isinstance(value, list):
                items.extend(value)
            else:
                items.append(value)
        op = node.op
        negated = op.startswith("!")
        base = op.lstrip("!")
        if base in ("has_any", "has_all"):
            text = to_string(left)
            found = [has_term(text, to_string(v)) for v in items]
            result = any(found) if base == "has_any" else all(found)
        elif base == "in~":
            lowered = to_string(left).lower()
            result = any(to_string(v).lower() == lowered for v in items)
        else:
            result = any(kusto_equal(left, v) for v in items)
        return not result if negated else result

    def _BinOp(self, node: p.BinOp) -> Any:
        left, right = self.eval(node.left), self.eval(node.right)
        return binary(node.op, left, right, node)

    def _Call(self, node: p.Call) -> Any:
        name = node.name
        if name == "ago":
            span = self.eval(node.args[0]) if node.args else timedelta(0)
            return self.ctx.now - span if isinstance(span, timedelta) else None
        if name == "now":
            span = self.eval(node.args[0]) if node.args else timedelta(0)
            return self.ctx.now + (span if isinstance(span, timedelta) else timedelta(0))
        if name == "ingestion_time":
            return self.row.get(INGESTION)
        if name == "pack_all":
            return {c: self.row.get(c) for c in self.columns}
        if name == "dynamic":
            return self.eval(node.args[0]) if node.args else None
        if name == "column_ifexists":
            column = to_string(self.eval(node.args[0]))
            return self.row.get(column) if column in self.columns else self.eval(node.args[1])
        if name in ("materialize", "toscalar"):
            table = evaluate_tabular(node.args[0], self.ctx)
            if name == "materialize":
                return table
            return table.rows[0].get(table.columns[0]) if table.rows and table.columns else None
        if name in SCALARS:
            return SCALARS[name](*[self.eval(a) for a in node.args])
        if name in AGGREGATES or name in ARG_EXTREMES:
            raise unsupported(node, f"{name}() outside summarize")
        raise unsupported(node, f"function {name}()")


def _coerce_like(value: Any, like: Any) -> Any:
    if isinstance(like, datetime):
        return to_datetime(value)
    if isinstance(like, (int, float)) and not isinstance(like, bool):
        return to_number(value)
    return value


def _member(base: Any, name: str) -> Any:
    if isinstance(base, str):
        base = parse_json(base)  # Sentinel's JSON-text columns, read as Kusto reads dynamic
    if isinstance(base, dict):
        return base.get(name)
    return None


def _arith(op: str, left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    if isinstance(left, datetime) or isinstance(right, datetime) or isinstance(left, timedelta) \
            or isinstance(right, timedelta):
        try:
            if op == "+":
                return left + right
            if op == "-":
                return left - right
            if op == "*":
                return left * (to_number(right) if not isinstance(right, timedelta) else right)
            if op == "/":
                if isinstance(left, timedelta) and isinstance(right, timedelta):
                    return left / right
                return left / to_number(right)
        except TypeError:
            return None
        return None
    ln, rn = to_number(left), to_number(right)
    if ln is None or rn is None:
        return None
    if op == "+":
        return ln + rn
    if op == "-":
        return ln - rn
    if op == "*":
        return ln * rn
    if op == "/":
        if rn == 0:
            return None
        return ln // rn if isinstance(ln, int) and isinstance(rn, int) else ln / rn
    if op == "%":
        return None if rn == 0 else ln % rn
    return None


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    if isinstance(left, datetime) or isinstance(right, datetime):
        left, right = to_datetime(left), to_datetime(right)
    elif isinstance(left, timedelta) or isinstance(right, timedelta):
        pass
    elif not (isinstance(left, str) and isinstance(right, str)):
        ln, rn = to_number(left), to_number(right)
        if ln is None or rn is None:
            left, right = to_string(left), to_string(right)
        else:
            left, right = ln, rn
    if left is None or right is None:
        return None
    try:
        return bool({"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op])
    except TypeError:
        return None


def binary(op: str, left: Any, right: Any, node: p.Node) -> Any:
    if op in ("+", "-", "*", "/", "%"):
        return _arith(op, left, right)
    if op == "==":
        return kusto_equal(left, right)
    if op == "!=":
        eq = kusto_equal(left, right)
        return None if eq is None else not eq
    if op in ("<", "<=", ">", ">="):
        return _compare(op, left, right)
    if op in ("=~", "!~"):
        eq = to_string(left).lower() == to_string(right).lower()
        return eq if op == "=~" else not eq
    if op == "matches regex":
        return re.search(to_string(right), to_string(left)) is not None
    negated = op.startswith("!")
    base = op.lstrip("!")
    text, needle = to_string(left), to_string(right)
    cs = base.endswith("_cs")
    base = base.removesuffix("_cs")
    if base == "has":
        result = has_term(text, needle, cs)
    elif base == "hasprefix":
        result = has_prefix(text, needle, cs)
    elif base == "hassuffix":
        result = has_suffix(text, needle, cs)
    else:
        if not cs:
            text, needle = text.lower(), needle.lower()
        if base == "contains":
            result = needle in text
        elif base == "startswith":
            result = text.startswith(needle)
        elif base == "endswith":
            result = text.endswith(needle)
        else:
            raise unsupported(node, f"operator {op}")
    return not result if negated else result


# Column names Kusto derives -----------------------------------------------------------------------------

def derived_name(node: p.Node) -> str | None:
    """The column name Kusto gives an unnamed expression: a column's own name, a path's parts joined by "_"
    (`a.b.c` -> a_b_c), the inner column of bin()/floor()/tostring() and friends; else None."""
    if isinstance(node, p.Col):
        return node.name
    if isinstance(node, p.Member):
        base = derived_name(node.base)
        return f"{base}_{node.name}" if base else None
    if isinstance(node, p.Index) and isinstance(node.index, p.Lit):
        base = derived_name(node.base)
        return f"{base}_{node.index.value}" if base else None
    if isinstance(node, p.Call) and node.args and node.name in (
            "bin", "floor", "tostring", "todynamic", "parse_json", "toint", "tolong", "startofday", "todatetime",
            "tolower", "toupper"):
        return derived_name(node.args[0])
    return None


def _name_for(item: p.Assign, taken: Iterable[str], counter: list[int]) -> str:
    if item.name:
        return item.name
    name = derived_name(item.expr)
    if name:
        return name
    counter[0] += 1
    return f"Column{counter[0]}"


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 1
    while f"{name}{n}" in taken:
        n += 1
    return f"{name}{n}"


# Operators ----------------------------------------------------------------------------------------------

def apply(op: p.Node, table: Table, ctx: Context) -> Table:
    handler = _OPERATORS.get(type(op))
    if handler is None:
        name = op.name if isinstance(op, p.Other) else type(op).__name__.lower()
        raise unsupported(op, f"operator {name}")
    return handler(op, table, ctx)


def _where(op: p.Where, table: Table, ctx: Context) -> Table:
    cols = table.columns
    return Table(cols, [row for row in table.rows if to_bool(Scalar(ctx, row, cols).eval(op.predicate))])


def _extend(op: p.Extend, table: Table, ctx: Context) -> Table:
    columns = list(table.columns)
    counter = [0]
    names = []
    for item in op.items:
        name = _name_for(item, columns, counter)
        names.append(name)
        if name not in columns:
            columns.append(name)
    rows = []
    for row in table.rows:
        new = dict(row)
        for name, item in zip(names, op.items):
            new[name] = Scalar(ctx, new, columns).eval(item.expr)  # later items see earlier ones
        rows.append(new)
    return Table(columns, rows)


def _project(op: p.Project, table: Table, ctx: Context) -> Table:
    counter = [0]
    names = [_name_for(item, table.columns, counter) for item in op.items]
    rows = []
    for row in table.rows:
        scalar = Scalar(ctx, row, table.columns)
        new = {name: scalar.eval(item.expr) for name, item in zip(names, op.items)}
        if INGESTION in row:
            new[INGESTION] = row[INGESTION]
        rows.append(new)
    return Table(list(dict.fromkeys(names)), rows)


def _matching(patterns: list[str], columns: list[str], node: p.Node, strict: bool = True) -> list[str]:
    chosen: list[str] = []
    for pattern in patterns:
        if "*" in pattern:
            chosen.extend(c for c in columns if fnmatch.fnmatchcase(c, pattern) and c not in chosen)
        elif pattern in columns:
            if pattern not in chosen:
                chosen.append(pattern)
        elif strict:
            raise p.KqlError(f"unknown column {pattern!r}", node.line, node.column, pattern)
    return chosen


def _project_away(op: p.ProjectAway, table: Table, ctx: Context) -> Table:
    named = _matching(op.patterns, table.columns, op)
    keep = [c for c in table.columns if (c in named) == op.keep]
    dropped = set(table.columns) - set(keep)
    return Table(keep, [{k: v for k, v in row.items() if k not in dropped} for row in table.rows])


def _project_reorder(op: p.ProjectReorder, table: Table, ctx: Context) -> Table:
    first = _matching(op.patterns, table.columns, op, strict=False)
    return Table(first + [c for c in table.columns if c not in first], table.rows)


def _project_rename(op: p.ProjectRename, table: Table, ctx: Context) -> Table:
    mapping = {old: new for new, old in op.pairs}
    for old in mapping:
        if old not in table.columns:
            raise p.KqlError(f"unknown column {old!r}", op.line, op.column, old)
    columns = [mapping.get(c, c) for c in table.columns]
    return Table(columns, [{mapping.get(k, k): v for k, v in row.items()} for row in table.rows])


def _distinct(op: p.Distinct, table: Table, ctx: Context) -> Table:
    if len(op.items) == 1 and isinstance(op.items[0].expr, p.Star):
        names, exprs = table.columns, [p.Col(c) for c in table.columns]  # type: list[str], list[p.Node]
    else:
        counter = [0]
        names = [_name_for(item, table.columns, counter) for item in op.items]
        exprs = [item.expr for item in op.items]
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in table.rows:
        scalar = Scalar(ctx, row, table.columns)
        values = {n: scalar.eval(e) for n, e in zip(names, exprs)}
        key = tuple(hashable(v) for v in values.values())
        if key not in seen:
            if INGESTION in row:
                values[INGESTION] = row[INGESTION]
            seen[key] = values
    return Table(list(names), list(seen.values()))


def _sort_rows(keys: list[p.SortKey], table: Table, ctx: Context) -> list[dict[str, Any]]:
    rows = list(table.rows)
    for key in reversed(keys):  # stable sorts, last key first
        values = [Scalar(ctx, row, table.columns).eval(key.expr) for row in rows]
        nulls_first = key.nulls_first if key.nulls_first is not None else not key.descending
        present = [(order_key(v), i) for i, v in enumerate(values) if v is not None]
        missing = [i for i, v in enumerate(values) if v is None]
        present.sort(key=lambda t: t[0], reverse=key.descending)
        order = [i for _, i in present]
        order = missing + order if nulls_first else order + missing
        rows = [rows[i] for i in order]
    return rows


def _sort(op: p.Sort, table: Table, ctx: Context) -> Table:
    return Table(table.columns, _sort_rows(op.keys, table, ctx))


def _top(op: p.Top, table: Table, ctx: Context) -> Table:
    count = int(to_number(Scalar(ctx, {}, []).eval(op.count)) or 0)
    return Table(table.columns, _sort_rows([op.key], table, ctx)[:count])


def _take(op: p.Take, table: Table, ctx: Context) -> Table:
    count = int(to_number(Scalar(ctx, {}, []).eval(op.count)) or 0)
    return Table(table.columns, table.rows[:count])


def _count(op: p.Count, table: Table, ctx: Context) -> Table:
    return Table(["Count"], [{"Count": len(table.rows)}])


def _summarize(op: p.Summarize, table: Table, ctx: Context) -> Table:
    counter = [0]
    by_names = [_name_for(item, table.columns, counter) for item in op.by]
    groups: dict[tuple[Any, ...], tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for row in table.rows:
        scalar = Scalar(ctx, row, table.columns)
        keys = {n: scalar.eval(item.expr) for n, item in zip(by_names, op.by)}
        group = tuple(hashable(v) for v in keys.values())
        if group not in groups:
            groups[group] = (keys, [])
        groups[group][1].append(row)
    if not op.by and not groups:
        groups[()] = ({}, [])  # summarize without by gives one row, even over no rows
    columns = list(by_names)
    layouts: list[Callable[[list[dict[str, Any]]], dict[str, Any]]] = []
    for item in op.aggregates:
        layouts.append(_aggregate(item, table, ctx, columns, by_names))
    rows = []
    for keys, members in groups.values():
        out = dict(keys)
        for layout in layouts:
            out.update(layout(members))
        rows.append(out)
    return Table(columns, rows)


def _aggregate(item: p.Assign, table: Table, ctx: Context, columns: list[str], by_names: list[str]
               ) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    """One aggregate: its output column names (added to `columns`) and the function computing them."""
    call = item.expr
    if not isinstance(call, p.Call):
        raise unsupported(item, "a summarize item that is not an aggregate call")
    name = call.name
    if name in ARG_EXTREMES:
        pick = ARG_EXTREMES[name]
        target, *wanted = call.args
        first = item.name or derived_name(target) or _unique("Column1", set(columns))
        first = _unique(first, set(columns))
        columns.append(first)
        if any(isinstance(w, p.Star) for w in wanted):
            extra: list[tuple[str, p.Node]] = [
                (c, p.Col(c)) for c in table.columns if c != derived_name(target) and c not in by_names]
        else:
            extra = [(derived_name(w) or f"Column{i + 1}", w) for i, w in enumerate(wanted)]
        out_names = []
        for col, _expr in extra:
            out = _unique(col, set(columns))
            columns.append(out)
            out_names.append(out)

        def arg_extreme(rows: list[dict[str, Any]]) -> dict[str, Any]:
            scored = [(Scalar(ctx, r, table.columns).eval(target), r) for r in rows]
            scored = [(v, r) for v, r in scored if v is not None and v != ""]
            if not scored:
                return {first: None, **{n: None for n in out_names}}
            best = pick(scored, key=lambda t: order_key(t[0]))
            scalar = Scalar(ctx, best[1], table.columns)
            return {first: best[0], **{n: scalar.eval(e) for n, (_c, e) in zip(out_names, extra)}}
        return arg_extreme
    if name not in AGGREGATES:
        raise unsupported(call, f"aggregate {name}()")
    prefix, reducer = AGGREGATES[name]
    inner = derived_name(call.args[0]) if call.args and name not in ("count", "countif") else ""
    out = _unique(item.name or (prefix + (inner or "")), set(columns))
    columns.append(out)
    args = call.args

    def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
        values = [tuple(Scalar(ctx, r, table.columns).eval(a) for a in args) for r in rows]
        return {out: reducer(values)}
    return aggregate


def _join_keys(op: p.Join) -> list[tuple[str, str]]:
    keys = []
    for cond in op.on:
        if cond.right is None and isinstance(cond.left, p.BinOp) and cond.left.op == "==":
            cond = p.JoinCond(cond.left.left, cond.left.right, line=cond.line, column=cond.column)
        if cond.right is None:
            if not isinstance(cond.left, p.Col):
                raise unsupported(cond, "join on an expression")
            keys.append((cond.left.name, cond.left.name))
            continue
        sides = {}
        for expr in (cond.left, cond.right):
            if not isinstance(expr, p.SideRef):
                raise unsupported(cond, "join condition without $left/$right")
            sides[expr.side] = expr.name
        keys.append((sides["left"], sides["right"]))
    return keys


def _join(op: p.Join, left: Table, ctx: Context) -> Table:
    right = evaluate_tabular(op.right, ctx)
    keys = _join_keys(op)
    kind = op.kind
    supported = {"inner", "innerunique", "leftouter", "rightouter", "fullouter", "leftanti", "leftantisemi",
                 "rightanti", "rightantisemi", "leftsemi", "rightsemi", "anti", "semi", "outer"}
    if kind not in supported:
        raise unsupported(op, f"join kind={kind}")
    kind = {"leftantisemi": "leftanti", "anti": "leftanti", "rightantisemi": "rightanti", "semi": "leftsemi",
            "outer": "leftouter"}.get(kind, kind)

    def key_of(row: dict[str, Any], side: int) -> tuple[Any, ...] | None:
        values = tuple(row.get(k[side]) for k in keys)
        return tuple(hashable(v) for v in values)

    index: dict[tuple[Any, ...] | None, list[dict[str, Any]]] = {}
    for row in right.rows:
        index.setdefault(key_of(row, 1), []).append(row)
    left_rows = left.rows
    if kind == "innerunique":  # Kusto's default: one left row per key value
        seen: dict[tuple[Any, ...] | None, dict[str, Any]] = {}
        for row in left_rows:
            seen.setdefault(key_of(row, 0), row)
        left_rows = list(seen.values())
        kind = "inner"
    if kind == "leftanti":
        return Table(left.columns, [r for r in left_rows if key_of(r, 0) not in index])
    if kind == "leftsemi":
        return Table(left.columns, [r for r in left_rows if key_of(r, 0) in index])
    left_keys = {key_of(r, 0) for r in left_rows}
    if kind == "rightanti":
        return Table(right.columns, [r for r in right.rows if key_of(r, 1) not in left_keys])
    if kind == "rightsemi":
        return Table(right.columns, [r for r in right.rows if key_of(r, 1) in left_keys])
    # Output: the left columns, then the right's, renamed with a numeric suffix where taken (Kusto's X1);
    # lookup drops the right side's key columns instead.
    columns = list(left.columns)
    rename: dict[str, str] = {}
    right_keys = {k[1] for k in keys} if op.lookup else set()
    for col in right.columns:
        if col in right_keys:
            continue
        new = _unique(col, set(columns))
        rename[col] = new
        columns.append(new)

    def merged(lrow: dict[str, Any] | None, rrow: dict[str, Any] | None) -> dict[str, Any]:
        out = {c: None for c in columns}
        if lrow is not None:
            out.update(lrow)
        if rrow is not None:
            out.update({rename[c]: v for c, v in rrow.items() if c in rename})
            if lrow is None and op.lookup:
                out.update({k[0]: rrow.get(k[1]) for k in keys})
        return out

    rows: list[dict[str, Any]] = []
    matched_right: set[int] = set()
    for lrow in left_rows:
        partners = index.get(key_of(lrow, 0), [])
        for rrow in partners:
            matched_right.add(id(rrow))
            rows.append(merged(lrow, rrow))
        if not partners and kind in ("leftouter", "fullouter"):
            rows.append(merged(lrow, None))
    if kind in ("rightouter", "fullouter"):
        rows.extend(merged(None, r) for r in right.rows if id(r) not in matched_right)
    return Table(columns, rows)


def _union(node: p.Union, ctx: Context) -> Table:
    tables = []
    for item in node.tables:
        if isinstance(item, p.Col) and "*" in item.name:
            raise unsupported(item, "union with a wildcard table name")
        tables.append(evaluate_tabular(item, ctx))
    columns: list[str] = []
    for table in tables:
        columns.extend(c for c in table.columns if c not in columns)
    return Table(columns, [row for table in tables for row in table.rows])


def _union_op(op: p.Union, table: Table, ctx: Context) -> Table:
    other = _union(op, ctx)
    columns = list(table.columns) + [c for c in other.columns if c not in table.columns]
    return Table(columns, table.rows + other.rows)


def _expand_value(value: Any) -> list[Any]:
    if isinstance(value, str):
        parsed = parse_json(value)
        value = parsed if isinstance(parsed, (list, dict)) else value
    if value is None:
        return [None]
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return [{k: v} for k, v in value.items()]  # kind=bag: one single-property bag per property
    return [value]


def _mv_rows(items: list[p.MvItem], row: dict[str, Any], columns: list[str], ctx: Context, limit: int | None
             ) -> list[dict[str, Any]]:
    scalar = Scalar(ctx, row, columns)
    expanded = []
    for item in items:
        values = _expand_value(scalar.eval(item.expr))
        if item.to_type:
            values = [convert(v, item.to_type) for v in values]
        expanded.append(values)
    count = max((len(v) for v in expanded), default=0)
    if limit is not None:
        count = min(count, limit)
    out = []
    names = [item.name or derived_name(item.expr) or "Column1" for item in items]
    for i in range(count):
        new = dict(row)
        for name, values in zip(names, expanded):
            new[name] = values[i] if i < len(values) else None
        out.append(new)
    return out


def _mv_columns(items: list[p.MvItem], columns: list[str]) -> list[str]:
    out = list(columns)
    for item in items:
        name = item.name or derived_name(item.expr) or "Column1"
        if name not in out:
            out.append(name)
    return out


def _mv_expand(op: p.MvExpand, table: Table, ctx: Context) -> Table:
    if op.options.get("kind", "bag") == "array":
        raise unsupported(op, "mv-expand kind=array")
    limit = int(to_number(Scalar(ctx, {}, []).eval(op.limit)) or 0) if op.limit is not None else None
    columns = _mv_columns(op.items, table.columns)
    rows = [new for row in table.rows for new in _mv_rows(op.items, row, table.columns, ctx, limit)]
    return Table(columns, rows)


def _mv_apply(op: p.MvApply, table: Table, ctx: Context) -> Table:
    """Each row's arrays are expanded into a small table, the subquery runs on it, and its rows (with the
    row's other columns) replace the row."""
    limit = int(to_number(Scalar(ctx, {}, []).eval(op.limit)) or 0) if op.limit is not None else None
    inner_columns = _mv_columns(op.items, table.columns)
    out_columns: list[str] | None = None
    rows: list[dict[str, Any]] = []
    for row in table.rows:
        sub = Table(inner_columns, _mv_rows(op.items, row, table.columns, ctx, limit))
        for sub_op in op.sub:
            sub = apply(sub_op, sub, ctx)
        missing = [c for c in table.columns if c not in sub.columns]
        if out_columns is None:
            out_columns = missing + list(sub.columns)
        for sub_row in sub.rows:
            rows.append({**{c: row.get(c) for c in missing}, **sub_row})
    if out_columns is None:
        sub = Table(inner_columns, [])
        for sub_op in op.sub:
            sub = apply(sub_op, sub, ctx)
        out_columns = [c for c in table.columns if c not in sub.columns] + list(sub.columns)
    return Table(out_columns, rows)


def _parse(op: p.Parse, table: Table, ctx: Context) -> Table:
    """`parse` (kind=simple): literals in order, a column taking the text up to the next literal; a row that
    does not match gets nulls (empty strings for string columns) and is kept."""
    if op.kind not in (None, "simple"):
        raise unsupported(op, f"parse kind={op.kind}")
    pattern = ""
    cols: list[tuple[str, str | None]] = []
    parts = op.parts
    for i, (kind, value) in enumerate(parts):
        last = i == len(parts) - 1
        if kind == "lit":
            pattern += re.escape(value)
        elif kind == "skip":
            pattern += ".*?" if not last else ".*"
        else:
            name, type_ = value
            cols.append((name, type_))
            pattern += f"(?P<c{len(cols) - 1}>.*?)" if not last else f"(?P<c{len(cols) - 1}>.*)"
    regex = re.compile(pattern + ("$" if parts and parts[-1][0] != "lit" else ""), re.S)
    columns = list(table.columns) + [n for n, _ in cols if n not in table.columns]
    rows = []
    for row in table.rows:
        text = to_string(Scalar(ctx, row, table.columns).eval(op.source))
        match = regex.search(text)
        new = dict(row)
        for i, (name, type_) in enumerate(cols):
            raw = match.group(f"c{i}") if match else None
            if type_ in (None, "string"):
                new[name] = raw or ""
            else:
                new[name] = None if raw is None else convert(raw, type_)
        rows.append(new)
    return Table(columns, rows)


def _evaluate(op: p.Evaluate, table: Table, ctx: Context) -> Table:
    if op.plugin != "bag_unpack" or not op.args:
        raise unsupported(op, f"evaluate {op.plugin}")
    source = op.args[0]
    column = derived_name(source)
    new_columns: list[str] = [c for c in table.columns if c != column]
    rows = []
    for row in table.rows:
        bag = Scalar(ctx, row, table.columns).eval(source)
        new = {k: v for k, v in row.items() if k != column}
        if isinstance(bag, dict):
            for key, value in bag.items():
                if key not in new_columns:
                    new_columns.append(key)
                new[key] = value
        rows.append(new)
    return Table(new_columns, rows)


_OPERATORS: dict[type, Callable[[Any, Table, Context], Table]] = {
    p.Where: _where, p.Extend: _extend, p.Project: _project, p.ProjectAway: _project_away,
    p.ProjectReorder: _project_reorder, p.ProjectRename: _project_rename, p.Distinct: _distinct,
    p.Sort: _sort, p.Top: _top, p.Take: _take, p.Count: _count, p.Summarize: _summarize, p.Join: _join,
    p.Union: _union_op, p.MvExpand: _mv_expand, p.MvApply: _mv_apply, p.Parse: _parse, p.Evaluate: _evaluate,
}
