"""`trailhound scan`: read CloudTrail, run the rules, print the alerts."""

from __future__ import annotations

import sys
import traceback

import typer

from ..alerts.render import write_alerts
from ..alerts.textsafe import inert
from ..engine.rules import find_rule
from ..errors import ConfigError
from ..run import runner
from ..run.pipeline import Run, ScanResult, Summary
from ..run.settings import (
    ContextSettings,
    DeliverySettings,
    DetectionSettings,
    ExecutionSettings,
    InputSettings,
    OutputSettings,
    Settings,
)
from ..testhooks import crash_point
from . import options as o
from .common import EXIT_ALERTS, EXIT_BAD_INPUT, EXIT_UNDELIVERED, fail, usage_or_state
from .delivery import report_delivery
from .progress import progress_bar


def scan(
    paths: list[str] | None = typer.Argument(
        None, help="CloudTrail files or folders (read recursively), any shape, .gz or not; or s3://bucket/prefix."),
    fmt: o.Format = None,
    state: o.State = None,
    allowlist: o.Allowlist = None,
    since: o.Since = None,
    until: o.Until = None,
    now: o.Now = None,
    dedup_fields: o.DedupFields = "EventID",
    dedup_window: o.DedupWindow = "2h",
    rule: o.Rule = None,
    rule_files: o.RuleFiles = None,
    onboarding_window: o.OnboardingWindow = "60m",
    login_window: o.LoginWindow = "12h",
    severity_steps: o.SeveritySteps = None,
    no_context: o.NoContext = False,
    fail_on_alert: bool = typer.Option(False, "--fail-on-alert", help="Exit 3 when any alert is emitted."),
    sink: o.Sink = None,
    config: o.Config = None,
    workers: int | None = typer.Option(None, "--workers", "-j",
                                          help="Processes scanning files at once (default: the CPU count)."),
    no_prefilter: bool = typer.Option(False, "--no-prefilter",
                                      help="Parse every record, even those holding no rule's needle "
                                           "(slower; same alerts)."),
    debug: o.Debug = False,
    accounts: o.Accounts = None,
    regions: o.Regions = None,
    event_history: bool = typer.Option(False, "--event-history",
                                       help="Also read CloudTrail's 90-day event history (LookupEvents); no trail needed."),
    threads: o.Threads = 8,
    engine_name: str = typer.Option("local", "--engine",
                                    help="local | spark: run the same rules as Spark tasks (paths may be "
                                         "s3a://, hdfs:// or other Hadoop URIs)."),
    spark_master: str | None = typer.Option(None, "--spark-master",
                                               help="With --engine spark: master URL (default: spark-submit's, "
                                                    "else local[*])."),
    partitions: int | None = typer.Option(None, "--partitions",
                                             help="With --engine spark: spread the files over about N tasks."),
) -> None:
    """Scan CloudTrail files and folders; alerts go to stdout, progress and problems to stderr.

    Exit codes: 0 scanned; 1 some input could not be read (the rest was scanned); 2 usage or configuration
    error; 3 alerts found and --fail-on-alert given; 4 some delivery to a sink failed (with --state it stays
    pending and is retried on the next run).
    """
    try:
        settings = Settings(
            inputs=InputSettings.from_options(paths, accounts, regions, event_history),
            detection=DetectionSettings.from_options(
                rule, since, until, dedup_fields, dedup_window, not no_prefilter, allowlist,
                ContextSettings(not no_context, onboarding_window, login_window, tuple(severity_steps or ())),
                rule_files, now),
            state=state,
            output=OutputSettings.from_options(fmt),
            delivery=DeliverySettings(tuple(sink or ()), config),
            execution=ExecutionSettings(workers, threads, engine_name, spark_master, partitions))
        settings.check_scan()
        with Run.from_settings(settings) as run:
            result = runner.scan(run, progress_bar)
            if result.note:
                sys.stderr.write(f"trailhound: {inert(result.note)}\n")
            run.emit(result.alerts, lambda alerts: write_alerts(alerts, settings.output.format, rule_of=find_rule))
    except ConfigError as exc:
        fail(str(exc), usage_or_state(exc))
    except Exception as exc:  # noqa: BLE001 - a bug must still end in one clear line unless --debug
        if debug:
            traceback.print_exc()
        fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)", EXIT_BAD_INPUT)
    report(result.summary, debug)
    crash_point("before-delivery")
    try:
        delivered = report_delivery(run.deliver(result.alerts), settings.state) if run.sinks else True
    except ConfigError as exc:  # the state file (its outbox) cannot be written now: exit 5, naming it
        fail(str(exc), usage_or_state(exc))
    _exit(result, fail_on_alert, delivered)


def _exit(result: ScanResult, fail_on_alert: bool, delivered: bool) -> None:
    """The README's precedence: 3 (alerts, with --fail-on-alert), then 4 (undelivered), then 1 (bad input)."""
    if fail_on_alert and result.alerts:
        raise typer.Exit(EXIT_ALERTS)
    if not delivered:
        raise typer.Exit(EXIT_UNDELIVERED)
    if result.summary.bad_inputs:
        raise typer.Exit(EXIT_BAD_INPUT)


def report(summary: Summary, debug: bool = False) -> None:
    """Problems one line each, then a one-line summary, all on stderr (with --debug, tracebacks first)."""
    for origin, text in summary.tracebacks if debug else ():
        lines = "".join(f"  {inert(line)}\n" for line in text.splitlines())  # a message may quote log values
        sys.stderr.write(f"trailhound: debug: {inert(origin)}:\n{lines}")
    for origin, reason in summary.bad_inputs:
        sys.stderr.write(f"trailhound: warning: {inert(origin)}: {inert(reason)}\n")
    for origin, notice in summary.notices:
        sys.stderr.write(f"trailhound: note: {inert(origin)}: {inert(notice)}\n")
    for line in summary.expired_entries:
        sys.stderr.write(f"trailhound: warning: {inert(line)}\n")
    for line in summary.notes:
        sys.stderr.write(f"trailhound: {inert(line)}\n")
    places = "" if set(summary.read_from) <= {"local files"} else " (" + ", ".join(
        f"{count} from {where}" for where, count in sorted(summary.read_from.items())) + ")"
    parts = [f"{summary.inputs} input(s){places}", f"{summary.bytes / 1e6:.1f} MB", f"{summary.records} record(s)",
             f"{summary.matches} match(es)", f"{summary.alerts} alert(s)"]
    for label, value in (("duplicate event(s)", summary.duplicates), (_excluded_label(summary), summary.excluded),
                         ("already alerted", summary.already_alerted),
                         ("object(s) already processed", summary.already_processed),
                         ("redelivered from an interrupted run", summary.redelivered),
                         ("deduplicated within window", summary.within_window),
                         ("outside --since/--until", summary.out_of_range),
                         ("with unreadable time", summary.undated),
                         ("skipped (digest/Insights)", summary.skipped),
                         ("input(s) skipped unparsed (no needle)", summary.prefiltered),
                         ("unreadable item(s)", summary.unreadable),
                         ("bad input(s)", len(summary.bad_inputs))):
        if value:
            parts.append(f"{value} {label}")
    sys.stderr.write(f"trailhound: {', '.join(parts)} in {summary.seconds:.2f}s\n")


def _excluded_label(summary: Summary) -> str:
    """"excluded by allowlist (Terraform CI onboards staff: 3; lab: 1)": the count per reason, as promised."""
    reasons = "; ".join(f"{reason}: {count}" for reason, count in summary.excluded_by.most_common())
    return f"excluded by allowlist ({reasons})" if reasons else "excluded by allowlist"
