"""Writing alerts: jsonl, json, or a rich table. Strings from logs are made inert on the way out."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import IO

import orjson

from ..records.record import Record
from .alert import Alert, RuleText
from .textsafe import inert, inert_json

RuleOf = Callable[[str], RuleText | None]  # a rule id to its rule, when the caller knows rules
FORMATS = ("table", "jsonl", "json", "ocsf")
# (header, rich column options): what fits an 80-column terminal first, the long values folded. Every cell
# comes from what every alert carries (see `cells`), whatever the rule.
_TABLE_COLUMNS = (
    ("Time (UTC)", {"no_wrap": True}),
    ("Severity", {"no_wrap": True}),
    ("Outcome", {"no_wrap": True}),
    ("Target", {"overflow": "fold", "ratio": 1}),
    ("Actor", {"overflow": "fold", "ratio": 1}),
    ("Source IP", {"overflow": "fold", "min_width": 15}),
    ("User agent", {"overflow": "ellipsis", "no_wrap": True, "max_width": 28}),
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


def write_ocsf(alerts: Iterable[Alert], out: IO[str], rule_of: RuleOf = lambda _id: None) -> None:
    """One OCSF Detection Finding (class 2004) per line; `rule_of` gives each its rule's description."""
    from .ocsf import to_ocsf

    for alert in alerts:
        out.write(dumps(to_ocsf(alert, rule=rule_of(alert.rule_id))) + "\n")


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
    shown = [i for i, (header, _) in enumerate(_TABLE_COLUMNS)
             if not narrow or header not in ("User agent", "Outcome")]
    for i in shown:
        table.add_column(_TABLE_COLUMNS[i][0], **_TABLE_COLUMNS[i][1])
    for alert in alerts:
        row = cells(alert, narrow)
        # Text(), never a plain str: rich would read "[...]" in a log value as markup.
        table.add_row(*(Text(inert(row[i], limit=200)) for i in shown))
    console.print(table)


def cells(alert: Alert, narrow: bool = False) -> tuple[str, ...]:
    """The table's cells for an alert, in _TABLE_COLUMNS order: the target is the alert's target account (the
    user given a password or a key), else its Resource; the actor its actor entity; the address and user
    agent the record's own."""
    target = str(alert.entity("target").get("Name") or alert.resource.get("Name") or "")
    actor = alert.entity("actor")
    who = str(actor.get("Arn") or actor.get("Name") or "")
    if narrow and who.count(":") >= 5:
        who = who.split(":", 5)[5]  # "user/ci-deploy": the account is in the other formats
    record = Record(alert.raw)
    return (str(alert.row.get("TimeGenerated", "")), str(alert.row.get("Severity", "")),
            str(alert.row.get("Outcome", "")), target, who, record.source_ip,
            record.user_agent)


def write_alerts(alerts: list[Alert], fmt: str, out: IO[str] | None = None, rule_of: RuleOf = lambda _id: None
                 ) -> None:
    """`rule_of` (a rule id to its rule, or None) is read by the ocsf format only."""
    out = out or sys.stdout
    if fmt == "ocsf":
        write_ocsf(alerts, out, rule_of)
    else:
        {"jsonl": write_jsonl, "json": write_json, "table": write_table}[fmt](alerts, out)
    out.flush()
