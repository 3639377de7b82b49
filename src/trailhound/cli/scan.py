"""`trailhound scan`: read CloudTrail, run the rules, print the alerts."""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import ExitStack
from pathlib import Path
from typing import List, Optional

import typer

from ..context.assess import policy_from_options
from ..engine.evaluate import Engine, ScanOptions, Summary
from ..errors import ConfigError
from ..alerts.render import FORMATS, write_alerts
from .progress import progress_bar
from ..engine.rules import context_for, dedup_fields_for, load_rules
from ..sources import select
from ..sources.files import iter_files
from ..state.store import StateStore
from ..testhooks import crash_point
from ..alerts.textsafe import inert
from ..records.times import parse_duration, parse_when

from .common import EXIT_ALERTS, EXIT_BAD_INPUT, EXIT_UNDELIVERED, EXIT_USAGE, fail


def scan(
    paths: Optional[List[str]] = typer.Argument(
        None, help="CloudTrail files or folders (read recursively), any shape, .gz or not; or s3://bucket/prefix."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f",
                                      help="table | jsonl | json | ocsf (default: table on a terminal, jsonl otherwise)."),
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
    onboarding_window: str = typer.Option("60m", "--onboarding-window",
                                          help="A password set this soon after the same principal created the "
                                               "user is onboarding (severity Low)."),
    login_window: str = typer.Option("12h", "--login-window",
                                     help="A console sign-in by the target this soon after raises severity."),
    severity_steps: Optional[List[str]] = typer.Option(
        None, "--severity", help="STEP=LEVEL: the level a context step sets (onboarding, existing, self, login, "
                                 "login_same_address; failure_steps=N). Repeatable."),
    no_context: bool = typer.Option(False, "--no-context",
                                    help="Skip context and severity reasons: the rule's verdicts alone, the "
                                         "fastest scan for long hunts."),
    fail_on_alert: bool = typer.Option(False, "--fail-on-alert", help="Exit 3 when any alert is emitted."),
    sink: Optional[List[str]] = typer.Option(None, "--sink", help="Also deliver alerts to KIND[:TARGET] "
                                             "(repeatable): jsonl:PATH, webhook:URL, slack:URL, sns:TOPIC_ARN, "
                                             "securityhub[:REGION]; env:NAME reads a target from the environment."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file of sinks and delivery settings."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j",
                                          help="Processes scanning files at once (default: the CPU count)."),
    no_prefilter: bool = typer.Option(False, "--no-prefilter",
                                      help="Parse every record, even those holding no rule's needle "
                                           "(slower; same alerts)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for unexpected errors."),
    accounts: Optional[List[str]] = typer.Option(None, "--accounts",
                                                 help="s3://: only these account ids (comma-separated, repeatable)."),
    regions: Optional[List[str]] = typer.Option(None, "--regions",
                                                help="s3:// and --event-history: only these regions (comma-separated)."),
    event_history: bool = typer.Option(False, "--event-history",
                                       help="Also read CloudTrail's 90-day event history (LookupEvents); no trail needed."),
    threads: int = typer.Option(8, "--threads", help="s3://: parallel downloads."),
    engine_name: str = typer.Option("local", "--engine",
                                    help="local | spark: run the same rules as Spark tasks (paths may be "
                                         "s3a://, hdfs:// or other Hadoop URIs)."),
    spark_master: Optional[str] = typer.Option(None, "--spark-master",
                                               help="With --engine spark: master URL (default: spark-submit's, "
                                                    "else local[*])."),
    partitions: Optional[int] = typer.Option(None, "--partitions",
                                             help="With --engine spark: spread the files over about N tasks."),
) -> None:
    """Scan CloudTrail files and folders; alerts go to stdout, progress and problems to stderr.

    Exit codes: 0 scanned; 1 some input could not be read (the rest was scanned); 2 usage or configuration
    error; 3 alerts found and --fail-on-alert given; 4 some delivery to a sink failed (with --state it stays
    pending and is retried on the next run).
    """
    try:
        with ExitStack() as stack:
            rules = _rules(rule)
            policy = policy_from_options(onboarding_window, login_window, severity_steps)
            # Only the rules' own plug-ins: a run whose rules declare none collects nothing.
            enricher = None if no_context else context_for(rules, [policy], scratch=StateStore)
            options = ScanOptions(
                since=parse_when(since, "--since") if since else None,
                until=parse_when(until, "--until") if until else None,
                dedup_fields=_dedup_fields(dedup_fields, rules),
                collectors=enricher.collectors if enricher else (),
                prefilter=not no_prefilter,
            )
            output_format = _format(fmt)
            window = parse_duration(dedup_window, "--dedup-window").total_seconds()
            allow = _allowlist(allowlist, rules) if allowlist else None
            if engine_name not in ("local", "spark"):
                raise ConfigError(f"--engine: {engine_name!r} is not one of local, spark")
            paths = paths or []
            if not paths and not event_history:
                raise ConfigError("nothing to scan: give files, folders, s3:// URLs or --event-history")
            remote = select.is_remote(paths, event_history)
            if (accounts or regions) and not remote:
                raise ConfigError("--accounts/--regions apply to s3:// URLs and --event-history only")
            if engine_name == "spark" and remote:
                raise ConfigError("--engine spark reads files and Hadoop URIs (s3a://, hdfs://); s3:// URLs and "
                                  "--event-history run on the local engine")
            if engine_name == "local":
                select.check(paths, event_history)
            sinks = _sinks(config, sink)
            store = stack.enter_context(StateStore(state, track_delivery=True)) if state else None
            if store is not None:
                store.sink_ids = tuple(s.id for s in sinks)
            settings = dict(rules=rules, options=options, allowlist=allow, state=store, dedup_window_s=window,
                            enrichers=(enricher,) if enricher else ())
            if engine_name == "spark":
                result = _scan_on_spark(Engine(**settings), paths, spark_master, partitions)
            elif remote:
                result = _scan_remote(Engine(**settings), paths, options, rules, accounts, regions, event_history,
                                      threads)
            else:
                inputs = list(iter_files(paths))
                with progress_bar(len(inputs), sum(i.size() for i in inputs)) as advance:  # gone before output
                    engine = Engine(**settings, workers=_workers(workers, len(inputs)), progress=advance)
                    result = engine.run(inputs)
            write_alerts(result.alerts, output_format)
            if store is not None:  # only now: a run killed before this line has its alerts emitted next time
                store.mark_emitted(result.alerts)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    except Exception as exc:  # noqa: BLE001 - a bug must still end in one clear line unless --debug
        if debug:
            traceback.print_exc()
        fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)", EXIT_BAD_INPUT)
    report(result.summary, debug)
    crash_point("before-delivery")
    delivered = _deliver(result.alerts, sinks, state) if sinks else True
    if fail_on_alert and result.alerts:
        raise typer.Exit(EXIT_ALERTS)
    if not delivered:
        raise typer.Exit(EXIT_UNDELIVERED)
    if result.summary.bad_inputs:
        raise typer.Exit(EXIT_BAD_INPUT)


def _scan_remote(engine, paths, options, rules, accounts, regions, event_history, threads):
    from ..run.incremental import process  # boto3 is imported only on this path
    from ..sources.s3_layout import Selection

    selection = Selection(options.since, options.until, frozenset(_split(accounts)), tuple(_split(regions)))
    configured = select.configured_region() if event_history and not regions else None
    return process(engine, select.inputs(paths, selection, rules, event_history, configured), threads).result


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


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


def _scan_on_spark(engine: Engine, paths: list[str], master: str | None, partitions: int | None):
    from ..run.spark import SparkOptions, scan_on_spark  # pyspark and a JVM only when asked for

    scan = scan_on_spark(engine, list(paths), SparkOptions(master=master, partitions=partitions))
    stats = scan.stats
    sys.stderr.write(f"trailhound: spark: {inert(stats.master)}, {stats.partitions} partition(s), "
                     f"{stats.read_by_executors} input(s) read by executors, {stats.read_by_driver} by the driver\n")
    return scan.result


def _format(fmt: str | None) -> str:
    if fmt is None:
        return "table" if sys.stdout.isatty() else "jsonl"
    if fmt not in FORMATS:
        raise ConfigError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    return fmt


def _workers(requested: int | None, inputs: int) -> int:
    if requested is not None and requested < 1:
        raise ConfigError(f"--workers: {requested} is not a positive number")
    wanted = requested or os.cpu_count() or 1
    return max(1, min(wanted, inputs))  # a process per file at most: starting idle ones costs time


def _dedup_fields(text: str, rules: list) -> tuple[str, ...]:
    return dedup_fields_for(rules, text.split(","))


def _sinks(config: Path | None, options: list[str] | None) -> list:
    if not config and not options:
        return []
    from ..sinks.setup import make_sinks  # HTTP and AWS libraries load only when there is somewhere to send

    return make_sinks(config, options)


def _deliver(alerts: list, sinks: list, state: Path | None) -> bool:
    from .delivery import deliver_and_report

    return deliver_and_report(alerts, sinks, state)


def _allowlist(path: Path, rules: list):
    from ..engine.allowlist import load_allowlist  # pydantic loads only for runs with an allowlist

    return load_allowlist(path, rules)


def _rules(ids: list[str] | None):
    from ..engine.rules import UnknownRule

    try:
        return load_rules(ids)
    except UnknownRule as exc:
        raise ConfigError(f"--rule: {exc}") from None
