"""KQL text to a plan with Lark (LALR, contextual lexer): imported only when a query is not in the plan
cache (plan.parse_query), so a run whose rules were parsed before loads no parser at all."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from typing import Any, TypedDict

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from .grammar import GRAMMAR
from .plan import (
    ArrayLit,
    Assign,
    BagLit,
    Between,
    BinOp,
    BoolOp,
    Call,
    Col,
    Count,
    DataTable,
    Distinct,
    Evaluate,
    Extend,
    ExternalData,
    Index,
    InList,
    Join,
    JoinCond,
    KqlError,
    KqlSyntaxError,
    Lambda,
    Let,
    Lit,
    Member,
    MvApply,
    MvExpand,
    MvItem,
    Neg,
    Node,
    Other,
    Parse,
    Pipeline,
    Project,
    ProjectAway,
    ProjectRename,
    ProjectReorder,
    Script,
    SideRef,
    Sort,
    SortKey,
    Star,
    Summarize,
    Take,
    Top,
    TypeOf,
    Union,
    Unsupported,
    Where,
)
from .values import parse_datetime_literal, parse_timespan_literal


class _Pos(TypedDict):
    line: int
    column: int


def _pos(meta: Any) -> _Pos:
    return {"line": getattr(meta, "line", 0) or 0, "column": getattr(meta, "column", 0) or 0}


def _strip_quotes(text: str) -> str:
    """A KQL string literal's value: h/H (obfuscated) and @ (verbatim) prefixes, both quote styles, escapes;
    adjacent literals are concatenated by the caller."""
    if text[:1] in "hH" and text[1:2] in ("@", '"', "'"):
        text = text[1:]
    if text.startswith("```"):
        return text[3:-3]
    if text.startswith("@"):
        return text[2:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(m.group(1), m.group(1)),
                  body)


def _colname(tree: Any) -> str:
    if isinstance(tree, Token):
        tok: str = str(tree)
    elif isinstance(tree, Tree):
        return _colname(tree.children[0])
    else:
        tok = str(tree)
    if tok.startswith("["):
        inner = tok[1:-1].strip()
        return inner[1:-1]
    return tok


@v_args(meta=True)
class _ToPlan(Transformer[Token, Any]):
    # script and statements
    def script(self, meta: Any, children: list[Any]) -> Script:
        return Script([c for c in children if isinstance(c, Node)], **_pos(meta))

    def let_stmt(self, meta: Any, children: list[Any]) -> Let:
        return Let(str(children[0]), children[1], **_pos(meta))

    def lambda_def(self, meta: Any, children: list[Any]) -> Lambda:
        params = [c for c in children[:-1] if c is not None]
        return Lambda(params, children[-1].statements, **_pos(meta))

    def param(self, meta: Any, children: list[Any]) -> tuple[str, str]:
        return (_colname(children[0]), str(children[1]))

    def query_stmt(self, meta: Any, children: list[Any]) -> Node:
        result: Node = children[0]
        return result

    def pipeline(self, meta: Any, children: list[Any]) -> Node:
        source, *ops = children
        if not ops and not isinstance(source, Union):
            plain: Node = source
            return plain  # a plain expression; a table name stays a Col, resolved when evaluated
        return Pipeline(source, ops, **_pos(meta))

    def subpipeline(self, meta: Any, children: list[Any]) -> list[Any]:
        return list(children)

    # operators
    def where_op(self, meta: Any, c: list[Any]) -> Where:
        return Where(c[0], **_pos(meta))

    def extend_op(self, meta: Any, c: list[Any]) -> Extend:
        return Extend(c[0], **_pos(meta))

    def project_op(self, meta: Any, c: list[Any]) -> Project:
        return Project(c[0], **_pos(meta))

    def project_away_op(self, meta: Any, c: list[Any]) -> ProjectAway:
        return ProjectAway(c[0], **_pos(meta))

    def project_keep_op(self, meta: Any, c: list[Any]) -> ProjectAway:
        return ProjectAway(c[0], keep=True, **_pos(meta))

    def project_reorder_op(self, meta: Any, c: list[Any]) -> ProjectReorder:
        return ProjectReorder(c[0], **_pos(meta))

    def project_rename_op(self, meta: Any, c: list[Any]) -> ProjectRename:
        return ProjectRename(list(c), **_pos(meta))

    def rename(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return (_colname(c[0]), _colname(c[1]))

    def name_patterns(self, meta: Any, c: list[Any]) -> list[str]:
        return list(c)

    def name_pattern(self, meta: Any, c: list[Any]) -> str:
        return _colname(c[0])

    def hint(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return (str(c[0]), str(c[1]))

    def summarize_op(self, meta: Any, c: list[Any]) -> Summarize:
        rest = [x for x in c if not isinstance(x, tuple)]
        aggregates, by = (rest + [None, None])[:2]
        return Summarize(aggregates or [], by or [], **_pos(meta))

    def distinct_op(self, meta: Any, c: list[Any]) -> Distinct:
        return Distinct(c[-1], **_pos(meta))

    def sort_op(self, meta: Any, c: list[Any]) -> Sort:
        return Sort(list(c), **_pos(meta))

    def sort_key(self, meta: Any, c: list[Any]) -> SortKey:
        expr, direction, nulls = (c + [None, None])[:3]
        descending = direction is None or str(direction) == "desc"  # Kusto sorts descending by default
        return SortKey(expr, descending, None if nulls is None else str(nulls) == "first", **_pos(meta))

    def top_op(self, meta: Any, c: list[Any]) -> Top:
        return Top(c[0], c[1], **_pos(meta))

    def take_op(self, meta: Any, c: list[Any]) -> Take:
        return Take(c[0], **_pos(meta))

    def count_op(self, meta: Any, c: list[Any]) -> Count:
        return Count(**_pos(meta))

    def join_kind(self, meta: Any, c: list[Any]) -> str:
        return str(c[0]).lower()

    def _join(self, meta: Any, c: list[Any], lookup: bool) -> Join:
        kind = next((x for x in c if isinstance(x, str) and not isinstance(x, Token)), None)
        nodes = [x for x in c if isinstance(x, Node)]
        conds = next((x for x in c if isinstance(x, list)), [])
        default = "leftouter" if lookup else "innerunique"
        return Join(kind or default, nodes[0], conds, lookup=lookup, **_pos(meta))

    def join_op(self, meta: Any, c: list[Any]) -> Join:
        return self._join(meta, c, False)

    def lookup_op(self, meta: Any, c: list[Any]) -> Join:
        return self._join(meta, c, True)

    def join_conds(self, meta: Any, c: list[Any]) -> list[JoinCond]:
        return list(c)

    def join_cond(self, meta: Any, c: list[Any]) -> JoinCond:
        left, op, right = (c + [None, None])[:3]
        if op is not None and str(op) != "==":
            raise Unsupported(f"join condition with {op} (only ==)", construct=f"join on ... {op}", **_pos(meta))
        return JoinCond(left, right, **_pos(meta))

    def union_op(self, meta: Any, c: list[Any]) -> Union:
        options: dict[str, str] = dict(x for x in c if isinstance(x, tuple))
        return Union(options, [x for x in c if isinstance(x, Node)], **_pos(meta))

    def union_opt(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("option", str(c[-1]))

    def union_item(self, meta: Any, c: list[Any]) -> Node:
        node: Node = c[0]
        return node

    def mv_opt(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return (str(c[0]) if len(c) > 1 else "kind", str(c[-1]))

    def mv_item(self, meta: Any, c: list[Any]) -> MvItem:
        name, expr, to_type = c
        return MvItem(None if name is None else _colname(name), expr, None if to_type is None else str(to_type),
                      **_pos(meta))

    def mv_expand_op(self, meta: Any, c: list[Any]) -> MvExpand:
        items = [x for x in c if isinstance(x, MvItem)]
        options: dict[str, str] = dict(x for x in c if isinstance(x, tuple))
        limit = c[-1] if not isinstance(c[-1], (MvItem, tuple)) else None
        return MvExpand(items, limit, options, **_pos(meta))

    def mv_apply_op(self, meta: Any, c: list[Any]) -> MvApply:
        items = [x for x in c if isinstance(x, MvItem)]
        sub = c[-1]
        limit = c[-2] if isinstance(c[-2], Node) and not isinstance(c[-2], MvItem) else None
        return MvApply(items, sub, limit, **_pos(meta))

    def parse_op(self, meta: Any, c: list[Any]) -> Parse:
        kind, source, *parts = c
        return Parse(None if kind is None else str(kind), source, parts, **_pos(meta))

    def parse_lit(self, meta: Any, c: list[Any]) -> tuple[str, Any]:
        return ("lit", _strip_quotes(str(c[0])))

    def parse_skip(self, meta: Any, c: list[Any]) -> tuple[str, Any]:
        return ("skip", None)

    def parse_col(self, meta: Any, c: list[Any]) -> tuple[str, Any]:
        return ("col", (_colname(c[0]), None if c[1] is None else str(c[1])))

    def evaluate_op(self, meta: Any, c: list[Any]) -> Evaluate:
        rest = [x for x in c if not isinstance(x, tuple)]
        return Evaluate(str(rest[0]), rest[1] or [], **_pos(meta))

    def as_op(self, meta: Any, c: list[Any]) -> Other:
        return Other("as", **_pos(meta))

    def invoke_op(self, meta: Any, c: list[Any]) -> Other:
        return Other("invoke", **_pos(meta))

    def make_series_op(self, meta: Any, c: list[Any]) -> Other:
        return Other("make-series", **_pos(meta))

    def getschema_op(self, meta: Any, c: list[Any]) -> Other:
        return Other("getschema", **_pos(meta))

    def sample_op(self, meta: Any, c: list[Any]) -> Other:
        return Other("sample", **_pos(meta))

    # assignments
    def assignments(self, meta: Any, c: list[Any]) -> list[Assign]:
        return list(c)

    def named(self, meta: Any, c: list[Any]) -> Assign:
        return Assign(_colname(c[0]), c[1], **_pos(meta))

    def unnamed(self, meta: Any, c: list[Any]) -> Assign:
        return Assign(None, c[0], **_pos(meta))

    def colname(self, meta: Any, c: list[Any]) -> str:
        return _colname(c[0])

    def keyword_name(self, meta: Any, c: list[Any]) -> str:
        return str(c[0])

    def member_name(self, meta: Any, c: list[Any]) -> str:
        return _colname(c[0])

    # expressions
    def or_(self, meta: Any, c: list[Any]) -> Node:
        return c[0] if len(c) == 1 else BoolOp("or", list(c), **_pos(meta))

    def and_(self, meta: Any, c: list[Any]) -> Node:
        return c[0] if len(c) == 1 else BoolOp("and", list(c), **_pos(meta))

    def compare(self, meta: Any, c: list[Any]) -> BinOp:
        op = "!=" if str(c[1]) == "<>" else str(c[1])
        return BinOp(op, c[0], c[2], **_pos(meta))

    def strop(self, meta: Any, c: list[Any]) -> Node:
        op = str(c[1]).lower()
        if op.lstrip("!") in ("has_any", "has_all"):
            items = c[2].items if isinstance(c[2], ArrayLit) else [c[2]]
            return InList(op, c[0], items, **_pos(meta))
        return BinOp(op, c[0], c[2], **_pos(meta))

    def in_list(self, meta: Any, c: list[Any]) -> InList:
        return InList(str(c[1]).lower(), c[0], list(c[2] or []), **_pos(meta))

    def between(self, meta: Any, c: list[Any]) -> Between:
        return Between(str(c[1]).startswith("!"), c[0], c[2], c[3], **_pos(meta))

    def matches_regex(self, meta: Any, c: list[Any]) -> BinOp:
        return BinOp("matches regex", c[0], c[1], **_pos(meta))

    def arith(self, meta: Any, c: list[Any]) -> Node:
        node: Node = c[0]
        for i in range(1, len(c), 2):
            node = BinOp(str(c[i]), node, c[i + 1], **_pos(meta))
        return node

    def neg(self, meta: Any, c: list[Any]) -> Neg:
        return Neg(c[-1], **_pos(meta))

    def unary(self, meta: Any, c: list[Any]) -> Node:
        node: Node = c[-1]
        return node

    def member(self, meta: Any, c: list[Any]) -> Member:
        return Member(c[0], c[1], **_pos(meta))

    def index(self, meta: Any, c: list[Any]) -> Index:
        return Index(c[0], c[1], **_pos(meta))

    def name(self, meta: Any, c: list[Any]) -> Col:
        return Col(_colname(c[0]), **_pos(meta))

    def left_ref(self, meta: Any, c: list[Any]) -> SideRef:
        return SideRef("left", c[0], **_pos(meta))

    def right_ref(self, meta: Any, c: list[Any]) -> SideRef:
        return SideRef("right", c[0], **_pos(meta))

    def call(self, meta: Any, c: list[Any]) -> Call:
        return Call(str(c[0]).lower() if str(c[0]).lower() in _CASELESS else str(c[0]), list(c[1] or []),
                    **_pos(meta))

    def count_call(self, meta: Any, c: list[Any]) -> Call:
        return Call("count", list(c[0] or []), **_pos(meta))

    def typeof_call(self, meta: Any, c: list[Any]) -> TypeOf:
        return TypeOf(str(c[0]), **_pos(meta))

    def paren(self, meta: Any, c: list[Any]) -> Node:
        node: Node = c[0]
        return node

    def array_lit(self, meta: Any, c: list[Any]) -> ArrayLit:
        return ArrayLit(list(c[0] or []), **_pos(meta))

    def bag_lit(self, meta: Any, c: list[Any]) -> BagLit:
        return BagLit([p for p in c if p is not None], **_pos(meta))

    def pair(self, meta: Any, c: list[Any]) -> tuple[str, Node]:
        return (_strip_quotes(str(c[0])), c[1])

    def args(self, meta: Any, c: list[Any]) -> list[Any]:
        return list(c)

    def externaldata(self, meta: Any, c: list[Any]) -> ExternalData:
        return ExternalData([p for p in c if isinstance(p, tuple)], **_pos(meta))

    def datatable(self, meta: Any, c: list[Any]) -> DataTable:
        columns = [p for p in c if isinstance(p, tuple)]
        values = next((x for x in c if isinstance(x, list)), [])
        return DataTable(columns, values, **_pos(meta))

    def extopts(self, meta: Any, c: list[Any]) -> None:
        return None

    def star(self, meta: Any, c: list[Any]) -> Star:
        return Star(**_pos(meta))

    def string(self, meta: Any, c: list[Any]) -> Lit:
        return Lit("".join(_strip_quotes(str(t)) for t in c), **_pos(meta))

    def number(self, meta: Any, c: list[Any]) -> Lit:
        text = str(c[0])
        value: int | float = int(text, 16) if text.lower().startswith("0x") else (
            float(text) if any(ch in text for ch in ".eE") else int(text))
        return Lit(value, **_pos(meta))

    def timespan(self, meta: Any, c: list[Any]) -> Lit:
        return Lit(parse_timespan_literal(str(c[0])), **_pos(meta))

    def timespan_fn(self, meta: Any, c: list[Any]) -> Lit:
        inner = str(c[0]).split("(", 1)[1].rstrip(")").strip()
        value = parse_timespan_literal(inner)
        if value is None:
            raise Unsupported(f"timespan literal {inner!r}", construct="timespan()", **_pos(meta))
        return Lit(value, **_pos(meta))

    def datetime_lit(self, meta: Any, c: list[Any]) -> Lit:
        inner = str(c[0]).split("(", 1)[1].rstrip(")").strip()
        return Lit(parse_datetime_literal(inner), **_pos(meta))

    def true(self, meta: Any, c: list[Any]) -> Lit:
        return Lit(True, **_pos(meta))

    def false(self, meta: Any, c: list[Any]) -> Lit:
        return Lit(False, **_pos(meta))

    def null(self, meta: Any, c: list[Any]) -> Lit:
        return Lit(None, **_pos(meta))


# Function names are case-sensitive in Kusto, but rules written for older engines use `toLower`; folding the
# few that appear that way keeps them running without accepting arbitrary case everywhere.
_CASELESS = {"tolower", "toupper", "tostring", "todynamic", "parse_json"}
_ = timedelta  # re-exported type for Lit values


@lru_cache(maxsize=1)
def _parser() -> Lark:
    # cache=True: Lark keeps the built LALR tables in a temp file, so a run does not rebuild them (~0.5 s).
    return Lark(GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True,
                cache=True)


def parse_text(text: str) -> Script:
    """The plan of a query; KqlSyntaxError (line, column, the token found) when it does not parse."""
    try:
        tree = _parser().parse(text)
    except UnexpectedToken as exc:
        found = "end of query" if exc.token.type == "$END" else repr(str(exc.token))
        raise KqlSyntaxError(f"unexpected {found}", exc.line, exc.column, construct=str(exc.token)) from None
    except UnexpectedCharacters as exc:
        raise KqlSyntaxError(f"unexpected character {exc.char!r}", exc.line, exc.column,
                             construct=exc.char) from None
    except UnexpectedInput as exc:
        raise KqlSyntaxError("cannot parse", getattr(exc, "line", 0), getattr(exc, "column", 0)) from None
    try:
        script = _ToPlan().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, KqlError):
            raise exc.orig_exc from None
        raise
    if not isinstance(script, Script):  # a lone expression
        script = Script([script])
    return script
