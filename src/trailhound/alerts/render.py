"""Writing alerts: jsonl, json, or a rich table. Strings from logs are made inert on the way out."""

from __future__ import annotations

import sys
from typing import IO, Iterable

import orjson

from .alert import Alert
from .textsafe import inert, inert_json

FORMATS = ("table", "jsonl", "json", "ocsf")
# (column, header, rich column options): what fits an 80-column terminal first, the long values folded.
_TABLE_COLUMNS = (
    ("TimeGenerated", "Time (UTC)", {"no_wrap": True}),
    ("Severity", "Severity", {"no_wrap": True}),
    ("Outcome", "Outcome", {"no_wrap": True}),
    ("TargetUserName", "Target", {"overflow": "fold", "ratio": 1}),
    ("UserIdentityArn", "Actor", {"overflow": "fold", "ratio": 1}),
    ("SourceIpAddress", "Source IP", {"overflow": "fold", "min_width": 15}),
    ("UserAgent", "User agent", {"overflow": "ellipsis", "no_wrap": True, "max_width": 28}),
)
_NARROW = 120  # below this many columns the user agent and outcome give way (jsonl has everything)


def dumps(value: object) -> str:
    return inert_json(orjson.dumps(value, default=str).decode())


def write_jsonl(alerts: Iterable[Alert], out: IO[str]) -> None:
    for alert in alerts:
        out.write(dumps(alert.as_dict()) + "\n")


def write_json(alerts: Iterable[Alert], out: IO[str]) -> None:
    out.write(inert_json(orjson.dumps([a.as_dict() for a in alerts], default=str,
                                      option=orjson.OPT_INDENT_2).decode()) + "\n")


def write_ocsf(alerts: Iterable[Alert], out: IO[str]) -> None:
    """One OCSF Detection Finding (class 2004) per line."""
    from .ocsf import to_ocsf

    for alert in alerts:
        out.write(dumps(to_ocsf(alert)) + "\n")


def write_table(alerts: list[Alert], out: IO[str]) -> None:
    from rich import box
    from rich.console import Console  # rich's tables cost start-up time: load them only when drawing one
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out, soft_wrap=False)
    if not alerts:
        console.print(Text("No alerts."))
        return
    narrow = console.width < _NARROW
    # On a narrow terminal no column rules either: eight more characters for names and ARNs.
    table = Table(title=Text(f"{len(alerts)} alert(s)"), show_lines=False, pad_edge=not narrow,
                  box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD, collapse_padding=narrow)
    columns = [c for c in _TABLE_COLUMNS if not narrow or c[0] not in ("UserAgent", "Outcome")]
    for _, header, options in columns:
        table.add_column(header, **options)
    for alert in alerts:
        # Text(), never a plain str: rich would read "[...]" in a log value as markup.
        table.add_row(*(Text(inert(_cell(alert.row, c, narrow), limit=200)) for c, _, _ in columns))
    console.print(table)


def _cell(row: dict, column: str, narrow: bool) -> object:
    value = row.get(column, "")
    if narrow and column == "UserIdentityArn" and isinstance(value, str) and value.count(":") >= 5:
        return value.split(":", 5)[5]  # "user/ci-deploy": the account is in the other formats
    return value


def write_alerts(alerts: list[Alert], fmt: str, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    {"jsonl": write_jsonl, "json": write_json, "table": write_table, "ocsf": write_ocsf}[fmt](alerts, out)
    out.flush()
