"""`trailhound scan`: read CloudTrail, run the rules, print the alerts."""

from __future__ import annotations

import sys
import traceback
from contextlib import ExitStack
from pathlib import Path
from typing import List, Optional

import typer

from ..alerts import ALERT_COLUMNS
from ..allowlist import load_allowlist
from ..engine import Engine, ScanOptions, Summary
from ..errors import ConfigError
from ..output import FORMATS, write_alerts
from ..rules import load_rules
from ..sources.files import check_paths, iter_files
from ..state import StateStore
from ..textsafe import inert
from ..timeutil import parse_duration, parse_when

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_ALERTS = 0, 1, 2, 3


def scan(
    paths: List[str] = typer.Argument(..., help="CloudTrail files or folders (read recursively), any shape, .gz or not."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f",
                                      help="table | jsonl | json (default: table on a terminal, jsonl otherwise)."),
    state: Optional[Path] = typer.Option(None, "--state", help="SQLite file remembering alerts across runs."),
    allowlist: Optional[Path] = typer.Option(None, "--allowlist", help="TOML file of documented exclusions."),
    since: Optional[str] = typer.Option(None, "--since", help="Only events at or after: 2h, 7d or ISO 8601."),
    until: Optional[str] = typer.Option(None, "--until", help="Only events at or before: 2h, 7d or ISO 8601."),
    dedup_fields: str = typer.Option("EventID", "--dedup-fields",
                                     help="Comma-separated alert columns forming DedupEntity "
                                          "(TimeGenerated reproduces the original rule)."),
    dedup_window: str = typer.Option("2h", "--dedup-window",
                                     help="With --state: suppress an alert whose DedupEntity alerted this recently."),
    rule: Optional[List[str]] = typer.Option(None, "--rule", help="Run only this rule (repeatable)."),
    fail_on_alert: bool = typer.Option(False, "--fail-on-alert", help="Exit 3 when any alert is emitted."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for unexpected errors."),
) -> None:
    """Scan CloudTrail files and folders; alerts go to stdout, progress and problems to stderr.

    Exit codes: 0 scanned; 1 some input could not be read (the rest was scanned); 2 usage or configuration
    error; 3 alerts found and --fail-on-alert given.
    """
    try:
        with ExitStack() as stack:
            options = ScanOptions(
                since=parse_when(since, "--since") if since else None,
                until=parse_when(until, "--until") if until else None,
                dedup_fields=_dedup_fields(dedup_fields),
            )
            output_format = _format(fmt)
            window = parse_duration(dedup_window, "--dedup-window").total_seconds()
            rules = _rules(rule)
            allow = load_allowlist(allowlist) if allowlist else None
            check_paths(paths)
            store = stack.enter_context(StateStore(state, track_delivery=True)) if state else None
            engine = Engine(rules, options, allowlist=allow, state=store, dedup_window_s=window)
            result = engine.run(iter_files(paths))
            write_alerts(result.alerts, output_format)
            if store is not None:  # only now: a run killed before this line has its alerts emitted next time
                store.mark_emitted(result.alerts)
    except ConfigError as exc:
        _error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except Exception as exc:  # noqa: BLE001 - a bug must still end in one clear line unless --debug
        if debug:
            traceback.print_exc()
        _error(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    report(result.summary, debug)
    if fail_on_alert and result.alerts:
        raise typer.Exit(EXIT_ALERTS)
    if result.summary.bad_inputs:
        raise typer.Exit(EXIT_BAD_INPUT)


def report(summary: Summary, debug: bool = False) -> None:
    """Problems one line each, then a one-line summary, all on stderr (with --debug, tracebacks first)."""
    for origin, text in summary.tracebacks if debug else ():
        lines = "".join(f"  {inert(line)}\n" for line in text.splitlines())  # a message may quote log values
        sys.stderr.write(f"trailhound: debug: {inert(origin)}:\n{lines}")
    for origin, reason in summary.bad_inputs:
        sys.stderr.write(f"trailhound: warning: {inert(origin)}: {inert(reason)}\n")
    for line in summary.expired_entries:
        sys.stderr.write(f"trailhound: warning: {inert(line)}\n")
    parts = [f"{summary.inputs} input(s)", f"{summary.bytes / 1e6:.1f} MB", f"{summary.records} record(s)",
             f"{summary.matches} match(es)", f"{summary.alerts} alert(s)"]
    for label, value in (("duplicate event(s)", summary.duplicates), ("excluded by allowlist", summary.excluded),
                         ("already alerted", summary.already_alerted),
                         ("redelivered from an interrupted run", summary.redelivered),
                         ("deduplicated within window", summary.within_window),
                         ("outside --since/--until", summary.out_of_range),
                         ("with unreadable time", summary.undated),
                         ("skipped (digest/Insights)", summary.skipped),
                         ("unreadable item(s)", summary.unreadable),
                         ("bad input(s)", len(summary.bad_inputs))):
        if value:
            parts.append(f"{value} {label}")
    sys.stderr.write(f"trailhound: {', '.join(parts)} in {summary.seconds:.2f}s\n")


def _error(message: str) -> None:
    sys.stderr.write(f"trailhound: error: {inert(message)}\n")


def _format(fmt: str | None) -> str:
    if fmt is None:
        return "table" if sys.stdout.isatty() else "jsonl"
    if fmt not in FORMATS:
        raise ConfigError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    return fmt


def _dedup_fields(text: str) -> tuple[str, ...]:
    fields = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in fields if f not in ALERT_COLUMNS or f == "DedupEntity"]
    if not fields or unknown:
        raise ConfigError(f"--dedup-fields: {', '.join(unknown) or 'nothing given'} is not an alert column "
                          f"(choose from {', '.join(c for c in ALERT_COLUMNS if c != 'DedupEntity')})")
    return fields


def _rules(ids: list[str] | None):
    try:
        return load_rules(ids)
    except KeyError as exc:
        raise ConfigError(f"--rule: {exc.args[0]}") from None
