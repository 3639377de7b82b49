"""A KQL query's plan: small typed nodes the evaluator walks (parse.py builds them from Lark's tree).

`parse_query` raises `KqlSyntaxError` naming the line, column and what was found; constructs the grammar
reads but the evaluator does not run are refused later, by `evaluate`, with the node's position.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import ConfigError


class KqlError(ConfigError):
    """A query the engine cannot run; str() names where (line, column) and the construct."""

    def __init__(self, message: str, line: int = 0, column: int = 0, construct: str = "") -> None:
        where = f"line {line}, column {column}: " if line else ""
        super().__init__(f"{where}{message}")
        # Positions in the query's text (the loader turns them into the file's): not TrailhoundError.line.
        self.kql_line, self.kql_column, self.construct, self.reason = line, column, construct, message


def relocated(exc: KqlError, path: str, first_line: int) -> KqlError:
    """The error naming the file and the file's line (the query starts at `first_line`)."""
    line = exc.kql_line + first_line - 1 if exc.kql_line else 0
    where = f"{path}:{line}:{exc.kql_column}" if line else path
    out = type(exc)(f"{where}: {exc.reason}", construct=exc.construct)
    out.kql_line, out.kql_column = line, exc.kql_column
    return out


class KqlSyntaxError(KqlError):
    pass


class Unsupported(KqlError):
    """A construct the grammar reads but this engine does not evaluate."""


@dataclass
class Node:
    line: int = field(default=0, kw_only=True, compare=False, repr=False)
    column: int = field(default=0, kw_only=True, compare=False, repr=False)


# Scalar expressions ---------------------------------------------------------------------------------------

@dataclass
class Lit(Node):
    value: Any


@dataclass
class Col(Node):
    name: str


@dataclass
class Member(Node):
    base: Node
    name: str


@dataclass
class Index(Node):
    base: Node
    index: Node


@dataclass
class Call(Node):
    name: str
    args: list[Node]


@dataclass
class BinOp(Node):
    op: str  # arithmetic, comparison or string operator as written (lower-case for word operators)
    left: Node
    right: Node


@dataclass
class InList(Node):
    op: str  # in, !in, in~, !in~, has_any, has_all
    left: Node
    items: list[Node]


@dataclass
class Between(Node):
    negated: bool
    value: Node
    low: Node
    high: Node


@dataclass
class BoolOp(Node):
    op: str  # and, or
    items: list[Node]


@dataclass
class Neg(Node):
    value: Node


@dataclass
class Star(Node):
    pass


@dataclass
class ArrayLit(Node):
    items: list[Node]


@dataclass
class BagLit(Node):
    pairs: list[tuple[str, Node]]


@dataclass
class SideRef(Node):
    side: str  # left, right
    name: str


@dataclass
class ExternalData(Node):
    columns: list[tuple[str, str]]


@dataclass
class DataTable(Node):
    columns: list[tuple[str, str]]
    values: list[Node]


@dataclass
class TypeOf(Node):
    name: str


# Tabular -------------------------------------------------------------------------------------------------

@dataclass
class Assign(Node):
    name: str | None  # None: Kusto derives the column name from the expression
    expr: Node


@dataclass
class Pipeline(Node):
    source: Node  # a scalar-looking expression naming a table (or a let), or a Union
    ops: list[Node]


@dataclass
class Where(Node):
    predicate: Node


@dataclass
class Extend(Node):
    items: list[Assign]


@dataclass
class Project(Node):
    items: list[Assign]


@dataclass
class ProjectAway(Node):
    patterns: list[str]
    keep: bool = False


@dataclass
class ProjectReorder(Node):
    patterns: list[str]


@dataclass
class ProjectRename(Node):
    pairs: list[tuple[str, str]]  # new, old


@dataclass
class Summarize(Node):
    aggregates: list[Assign]
    by: list[Assign]


@dataclass
class Distinct(Node):
    items: list[Assign]  # [Assign(None, Star())] for distinct *


@dataclass
class SortKey(Node):
    expr: Node
    descending: bool
    nulls_first: bool | None


@dataclass
class Sort(Node):
    keys: list[SortKey]


@dataclass
class Top(Node):
    count: Node
    key: SortKey


@dataclass
class Take(Node):
    count: Node


@dataclass
class Count(Node):
    pass


@dataclass
class JoinCond(Node):
    left: Node
    right: Node | None  # None: `on X`, the same column on both sides


@dataclass
class Join(Node):
    kind: str
    right: Node
    on: list[JoinCond]
    lookup: bool = False


@dataclass
class Union(Node):
    options: dict[str, str]
    tables: list[Node]


@dataclass
class MvItem(Node):
    name: str | None
    expr: Node
    to_type: str | None


@dataclass
class MvExpand(Node):
    items: list[MvItem]
    limit: Node | None
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class MvApply(Node):
    items: list[MvItem]
    sub: list[Node]
    limit: Node | None


@dataclass
class Parse(Node):
    kind: str | None
    source: Node
    parts: list[tuple[str, Any]]  # ("lit", text), ("skip", None), ("col", (name, type or None))


@dataclass
class Evaluate(Node):
    plugin: str
    args: list[Node]


@dataclass
class Other(Node):
    """An operator the grammar knows and the evaluator does not run (invoke, make-series, ...)."""

    name: str


@dataclass
class Let(Node):
    name: str
    value: Node  # a Pipeline, or a Lambda


@dataclass
class Lambda(Node):
    params: list[tuple[str, str]]
    body: list[Node]


@dataclass
class Script(Node):
    statements: list[Node]  # Let and Pipeline, in order; the last Pipeline is the query's result




# The plan cache ------------------------------------------------------------------------------------------
# Parsing is the one fixed cost of a KQL rule that grows with its text (Lark's import, its tables, a regex
# per lexer state: ~0.3 s for the spec's query). A plan depends only on the text and on the code that builds
# it, so it is kept on disk under a key of both, and a later run loads it without importing Lark.
_PLAN_SOURCES = ("grammar.py", "parse.py", "plan.py", "values.py")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trailhound" / "kql-plans"


def _cache_key(text: str) -> str:
    digest = hashlib.sha256(sys.version.encode() + b"\0" + text.encode())
    here = Path(__file__).parent
    for name in _PLAN_SOURCES:
        digest.update(b"\0" + (here / name).read_bytes())
    return digest.hexdigest()


def _cached(path: Path) -> Script | None:
    try:
        with path.open("rb") as f:
            plan = pickle.load(f)  # noqa: S301 - our own file in the user's cache, keyed by text and code
    except Exception:  # noqa: BLE001 - absent, partial or from another build: parse instead
        return None
    return plan if isinstance(plan, Script) else None


def _keep(path: Path, plan: Script) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False, suffix=".tmp") as f:
            pickle.dump(plan, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(f.name, path)  # whole or not at all, whoever else writes the same key
    except (OSError, pickle.PicklingError, RecursionError):  # a read-only home: parse again next run
        return


def parse_query(text: str) -> Script:
    """The plan of a query; KqlSyntaxError (line, column, the token found) when it does not parse. From
    the plan cache when this code parsed the same text before."""
    path = _cache_dir() / f"{_cache_key(text)}.pickle"
    plan = _cached(path)
    if plan is None:
        from .parse import parse_text

        plan = parse_text(text)
        _keep(path, plan)
    return plan
