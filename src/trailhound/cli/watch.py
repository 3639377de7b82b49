"""`trailhound watch`: run continuously over an SQS queue of S3 notifications, or re-list s3:// prefixes."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import ConfigError
from ..sources import select
from .common import EXIT_BAD_INPUT, fail
from .scan import _dedup_fields, _deliver, _format, _rules, _sinks, _split


def watch(
    urls: Optional[List[str]] = typer.Argument(None, help="s3://bucket/prefix to re-list every --interval."),
    sqs_queue_url: Optional[str] = typer.Option(None, "--sqs-queue-url",
                                                help="Consume S3 notifications (direct, SNS or EventBridge) from this queue."),
    state: Optional[Path] = typer.Option(None, "--state", help="SQLite file (required): processed objects and alerts."),
    once: bool = typer.Option(False, "--once", help="Drain what is available, then exit (cron, tests)."),
    interval: str = typer.Option("5m", "--interval", help="s3://: time between listings."),
    lookback: str = typer.Option("2h", "--lookback", help="s3://: each listing covers the partitions of this long ago."),
    accounts: Optional[List[str]] = typer.Option(None, "--accounts", help="s3://: only these account ids."),
    regions: Optional[List[str]] = typer.Option(None, "--regions", help="s3://: only these regions."),
    visibility_timeout: Optional[int] = typer.Option(None, "--visibility-timeout",
                                                     help="SQS: seconds a message stays hidden while its objects are "
                                                          "read (extended as needed; default: the queue's)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="table | jsonl | json (default: jsonl off a terminal)."),
    log_format: str = typer.Option("text", "--log-format", help="text | json: structured logs on stderr."),
    allowlist: Optional[Path] = typer.Option(None, "--allowlist", help="TOML file of documented exclusions."),
    dedup_fields: str = typer.Option("EventID", "--dedup-fields", help="Alert columns forming DedupEntity."),
    dedup_window: str = typer.Option("2h", "--dedup-window", help="Suppress an alert whose DedupEntity alerted this recently."),
    rule: Optional[List[str]] = typer.Option(None, "--rule", help="Run only this rule (repeatable)."),
    threads: int = typer.Option(8, "--threads", help="Parallel downloads."),
    sink: Optional[List[str]] = typer.Option(None, "--sink", help="Also deliver alerts to KIND[:TARGET] "
                                             "(repeatable), as with scan."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file of sinks and delivery settings."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for unexpected errors."),
) -> None:
    """Watch for new CloudTrail objects; alerts go to stdout exactly once, logs to stderr.

    Exit codes: 0 stopped (SIGINT/SIGTERM) or drained; 1 with --once, some object or message could not be
    processed (it was named, and left for the next run or the queue's redrive policy); 2 usage error.
    """
    from ..run import logs
    from ..engine.allowlist import load_allowlist
    from ..engine.rules import context_for
    from ..engine.evaluate import Engine, ScanOptions
    from ..alerts.render import write_alerts
    from ..state.store import StateStore
    from ..records.times import parse_duration
    from ..run.watch import Watcher, WatchSettings

    if log_format not in logs.FORMATS:
        fail(f"--log-format: {log_format!r} is not one of {', '.join(logs.FORMATS)}")
    logs.setup(log_format)
    try:
        if bool(sqs_queue_url) == bool(urls):
            raise ConfigError("give either --sqs-queue-url URL or s3://bucket/prefix URLs to watch")
        if not state:
            raise ConfigError("--state FILE is required: it is what makes alerts exactly-once")
        select.require_boto3()
        if any(not u.startswith("s3://") for u in urls or []):
            raise ConfigError("watch reads s3:// URLs only; use `trailhound scan` for local files")
        settings = WatchSettings(
            queue_url=sqs_queue_url, urls=list(urls or []), once=once, threads=threads,
            interval_s=parse_duration(interval, "--interval").total_seconds(),
            lookback=parse_duration(lookback, "--lookback"), accounts=frozenset(_split(accounts)),
            regions=tuple(_split(regions)), visibility_s=visibility_timeout)
        output_format = _format(fmt)
        sinks = _sinks(config, sink)
        store = StateStore(state, track_delivery=True)
        store.sink_ids = tuple(s.id for s in sinks)
        # The same engine as scan's: prefilter, context and severity reasons, allowlist, dedup.
        rules = _rules(rule)
        enricher = context_for(rules, scratch=StateStore)
        engine = Engine(rules, ScanOptions(dedup_fields=_dedup_fields(dedup_fields, rules),
                                           collectors=enricher.collectors if enricher else ()),
                        allowlist=load_allowlist(allowlist, rules) if allowlist else None, state=store,
                        dedup_window_s=parse_duration(dedup_window, "--dedup-window").total_seconds(),
                        enrichers=(enricher,) if enricher else ())

        def emit(alerts: list) -> None:
            write_alerts(alerts, output_format)
            store.mark_emitted(alerts)
            if sinks:
                _deliver(alerts, sinks, state)

        watcher = Watcher(engine, settings, emit=emit)
        watcher.stopper.install()
        code = watcher.run()
    except ConfigError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - one clear line unless --debug
        if debug:
            traceback.print_exc()
        fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)", EXIT_BAD_INPUT)
    raise typer.Exit(code)
