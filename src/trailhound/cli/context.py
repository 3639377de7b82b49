"""`trailhound alerts timeline ID` and `trailhound report ID --html FILE`: an alert's context, to read or attach."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..alerts.textsafe import inert
from ..errors import ConfigError
from .common import fail, usage_or_state

if TYPE_CHECKING:
    from ..report.timeline import Timeline

STATE_HELP = "SQLite state file the alert was stored in by `trailhound scan --state`."


def timeline(
    alert_id: str = typer.Argument(..., help="Alert id (AlertId), or an unambiguous prefix of one."),
    state: Path = typer.Option(..., "--state", help=STATE_HELP),
    before: str = typer.Option("2h", "--before", help="How far before the alert to show."),
    after: str = typer.Option("12h", "--after", help="How far after the alert to show."),
    fmt: str = typer.Option("table", "--format", "-f", help="table | json"),
) -> None:
    """The actor's and the target's events around an alert, as a table (or JSON)."""
    built = _build(alert_id, state, before, after)
    if fmt == "json":
        from ..alerts.render import dumps

        sys.stdout.write(dumps(_as_json(built)) + "\n")
    elif fmt == "table":
        _print_table(built)
    else:
        fail(f"--format: {fmt!r} is not one of table, json")


def report(
    alert_id: str = typer.Argument(..., help="Alert id (AlertId), or an unambiguous prefix of one."),
    state: Path = typer.Option(..., "--state", help=STATE_HELP),
    html: Path = typer.Option(..., "--html", help="Write the self-contained HTML page here."),
    before: str = typer.Option("2h", "--before", help="How far before the alert the timeline starts."),
    after: str = typer.Option("12h", "--after", help="How far after the alert the timeline ends."),
) -> None:
    """One self-contained HTML page: the alert, its reasons, the timeline drawn, the response actions."""
    from ..report.html import render

    built = _build(alert_id, state, before, after)
    try:
        html.write_text(render(built), encoding="utf-8")
    except OSError as exc:
        fail(f"{html}: cannot write the report ({exc.strerror or exc})")
    sys.stderr.write(f"trailhound: wrote {inert(str(html))} ({len(built.events)} event(s))\n")


def _build(alert_id: str, state: Path, before: str, after: str) -> Timeline:
    from ..records.times import parse_duration
    from ..report.timeline import build
    from ..state.store import StateStore

    try:
        if not state.is_file():
            raise ConfigError(f"{state}: no such state file (write one with `trailhound scan --state`)")
        window = parse_duration(before, "--before"), parse_duration(after, "--after")
        with StateStore(state, read_only=True) as store:  # never waits on a writer; read-only media too
            return build(store, alert_id, *window)
    except ConfigError as exc:
        fail(str(exc), usage_or_state(exc))


def _as_json(built: Timeline) -> dict[str, Any]:
    from ..report.timeline import offset_text

    return {"alert": built.row, "now": {"Severity": built.now.severity, "Reasons": built.now.reasons},
            "events": [{**t.event, "Offset": offset_text(t.offset), "Lane": t.lane, "IsAlert": t.is_alert}
                       for t in built.events]}


def _print_table(built: Timeline) -> None:
    from rich.console import Console  # rich's tables cost start-up time: load them only when drawing one
    from rich.table import Table
    from rich.text import Text

    from ..alerts.alert import Alert
    from ..alerts.render import cells as table_cells
    from ..report.timeline import offset_text

    row = built.row
    _, _, _, target, actor, address, _ = table_cells(Alert(row=row, raw=built.raw))
    console = Console(file=sys.stdout, soft_wrap=False)
    console.print(Text(f"Alert {inert(row.get('AlertId', ''))}  {inert(row.get('Severity', ''))}  "
                       f"{inert(row.get('RuleId', ''))}  target {inert(target)}  "
                       f"by {inert(actor)}  from {inert(address)}"))
    for reason in row.get("Reasons") or []:
        console.print(Text(f"  - {inert(reason)}"))
    if built.changed:
        console.print(Text(f"Now (assessed over the state store today): {inert(built.now.severity)}"))
        for reason in built.now.reasons:
            console.print(Text(f"  - {inert(reason)}"))
    table = Table(title=Text(f"{len(built.events)} event(s) around the alert"))
    for header, options in (("Time (UTC)", {"no_wrap": True}), ("Offset", {"no_wrap": True}), ("Lane", {}),
                            ("Event", {"overflow": "fold"}), ("Outcome", {}), ("Source IP", {"overflow": "fold"}),
                            ("Actor", {"overflow": "fold"}), ("Target", {"overflow": "fold"})):
        table.add_column(header, **options)
    for t in built.events:
        e = t.event
        cells = (e["Time"], offset_text(t.offset), t.lane, f"{e['Source'].split('.', 1)[0]}:{e['Name']}",
                 e["Outcome"] + (f" {e['ErrorCode']}" if e["ErrorCode"] else ""), e["SourceIpAddress"],
                 e["ActorArn"] or e["Actor"], e["Target"])
        # Text(), never a plain str: rich would read "[...]" in a log value as markup.
        table.add_row(*(Text(inert(c, limit=200)) for c in cells), style="bold red" if t.is_alert else None)
    console.print(table)


