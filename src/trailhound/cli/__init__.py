"""The command line: parses options, calls the library, prints. No detection logic lives here."""

from __future__ import annotations

import sys

import typer

from ..alerts.textsafe import inert
from ..errors import ConfigError
from . import alerts as alerts_cmd
from . import context as context_cmd
from . import respond as respond_cmd
from . import rules as rules_cmd
from . import scan as scan_cmd
from . import watch as watch_cmd

app = typer.Typer(
    name="trailhound",
    help="Detection engine for AWS CloudTrail (use case 0xFF-0237 and friends).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("scan")(scan_cmd.scan)
app.command("watch")(watch_cmd.watch)
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(alerts_cmd.app, name="alerts")
alerts_cmd.app.command("timeline")(context_cmd.timeline)
app.command("respond")(respond_cmd.respond)
app.command("report")(context_cmd.report)


def main() -> None:
    try:
        app()
    except ConfigError as exc:  # raised outside a command's own handling
        sys.stderr.write(f"trailhound: error: {inert(str(exc))}\n")
        sys.exit(2)
