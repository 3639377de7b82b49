"""`trailhound alerts list|show|ack|close`: the alert lifecycle over a state store."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..alerts.textsafe import inert
from ..errors import ConfigError
from .common import fail, usage_or_state

if TYPE_CHECKING:
    from ..state.store import StateStore

app = typer.Typer(help="List, show, acknowledge and close the alerts in a state store.", no_args_is_help=True)

STATE = typer.Option(..., "--state", envvar="TRAILHOUND_STATE", help="The SQLite state file `scan --state` wrote.")


def open_store(path: Path, read_only: bool = False) -> StateStore:
    """The state store, which must already exist: a mistyped path must not become a new, empty store.
    `read_only` (list, show): never waits on a writer's lock, and opens a file on read-only media."""
    from ..state.store import StateStore

    if not path.is_file():
        raise ConfigError(f"{path}: no such state file (write one with `trailhound scan --state {path}`)")
    return StateStore(path, read_only=read_only)


@app.command("list")
def list_cmd(state: Path = STATE,
             status: str | None = typer.Option(None, "--status", help="open | acknowledged | closed"),
             since: str | None = typer.Option(None, "--since", help="Events at or after: 2h, 7d or ISO 8601."),
             rule: str | None = typer.Option(None, "--rule", help="Only this rule's alerts."),
             fmt: str = typer.Option("table", "--format", "-f", help="table | jsonl")) -> None:
    """One line per alert: id, status, event time, severity, rule, target, actor."""
    from ..alerts.render import dumps
    from ..records.times import parse_when
    from ..state.lifecycle import STATUSES, list_alerts

    try:
        if status and status not in STATUSES:
            raise ConfigError(f"--status: {status!r} is not one of {', '.join(STATUSES)}")
        if fmt not in ("table", "jsonl"):
            raise ConfigError(f"--format: {fmt!r} is not one of table, jsonl")
        when = parse_when(since, "--since") if since else None
        with open_store(state, read_only=True) as store:
            found = list_alerts(store, status=status, since=when, rule=rule)
    except ConfigError as exc:
        fail(str(exc), usage_or_state(exc))
    if fmt == "jsonl":
        for item in found:
            sys.stdout.write(dumps({"AlertId": item.id, "Status": item.status, **item.alert.row}) + "\n")
        return
    if not found:
        sys.stdout.write("No alerts.\n")
        return
    from ..alerts.render import cells as table_cells

    for item in found:
        time, severity, _, target, actor, address, _ = table_cells(item.alert)
        cells = (item.id, item.status, time, severity, item.alert.rule_id, target, actor, address)
        sys.stdout.write("  ".join(inert(c, limit=80) for c in cells) + "\n")


@app.command("show")
def show(alert_id: str = typer.Argument(..., help="Alert id (or a unique prefix of 6+ digits)."),
         state: Path = STATE) -> None:
    """The alert's row, its raw event, the use case's response actions, and its history and deliveries."""
    from ..alerts.alert import GENERIC_COLUMNS, LEADING_COLUMNS
    from ..alerts.render import dumps
    from ..engine.rules import find_rule
    from ..state.lifecycle import events, find
    from ..state.outbox import for_alert

    try:
        with open_store(state, read_only=True) as store:
            item = find(store, alert_id)
            history = events(store, item.id)
            deliveries = for_alert(store, item.id)
    except ConfigError as exc:
        fail(str(exc), usage_or_state(exc))
    row = item.alert.row
    lines = [f"Alert {item.id}  [{item.status}]  {inert(row.get('RuleId', ''))} {inert(row.get('RuleName', ''))}", ""]
    rule = find_rule(item.alert.rule_id)
    # The rule's columns as it declares them; for a rule this build lacks, whatever the stored row holds.
    own = tuple(rule.columns) if rule else tuple(c for c in row if c not in LEADING_COLUMNS + GENERIC_COLUMNS)
    columns = LEADING_COLUMNS + own + GENERIC_COLUMNS
    width = max(len(c) for c in columns)
    lines += [f"  {c:<{width}}  {inert(v if isinstance(v, str) else dumps(v), limit=400)}"
              for c in columns if (v := row.get(c)) not in (None, "", [], {})]
    actions = rule.response_actions if rule else []
    lines += ["", "Response actions"] + [f"  {i}. {a}" for i, a in enumerate(actions, 1)]
    lines += [f"  {_RESPOND_HELP.get(a, a)}: trailhound respond {item.id} --{a}"
              for a in (rule.respond_actions if rule else ())] + [""]
    lines += ["History"] + ([f"  {_when(e['at'])}  {inert(e['who'])}  {e['action']}"
                             + (f"  {inert(e['result'])}" if e["result"] else "")
                             + (f"  note: {inert(e['note'], limit=500)}" if e["note"] else "")
                             for e in history] or ["  (none)"]) + [""]
    lines += ["Deliveries"] + ([f"  {inert(d['sink'])}  {d['status']}  {d['attempts']} attempt(s)"
                                + (f"  {_when(d['delivered_at'])}" if d["delivered_at"] else "")
                                + (f"  last error: {inert(d['last_error'])}" if d["last_error"] and
                                   d["status"] != "delivered" else "")
                                for d in deliveries] or ["  (none)"]) + [""]
    lines += ["Raw event", dumps(item.alert.raw), ""]
    sys.stdout.write("\n".join(lines))


_RESPOND_HELP = {"disable-console-access": "Disable the console access",
                 "deactivate-access-key": "Deactivate the access key"}


def _change(alert_id: str, state: Path, status: str, note: str | None) -> None:
    from ..state.lifecycle import set_status

    try:
        with open_store(state) as store:
            item = set_status(store, alert_id, status, note=note)
    except ConfigError as exc:
        fail(str(exc), usage_or_state(exc))
    sys.stdout.write(f"{item.id} {status}\n")


@app.command("ack")
def ack(alert_id: str = typer.Argument(..., help="Alert id (or a unique prefix)."), state: Path = STATE,
        note: str | None = typer.Option(None, "--note", help="What you are doing about it.")) -> None:
    """Acknowledge an alert: someone is on it."""
    _change(alert_id, state, "acknowledged", note)


@app.command("close")
def close(alert_id: str = typer.Argument(..., help="Alert id (or a unique prefix)."), state: Path = STATE,
          note: str | None = typer.Option(None, "--note", help="Why: the verdict, for whoever reads it next.")
          ) -> None:
    """Close an alert."""
    _change(alert_id, state, "closed", note)


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
