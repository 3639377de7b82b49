"""`trailhound watch`: run continuously over an SQS queue of S3 notifications, or re-list s3:// prefixes."""

from __future__ import annotations

import traceback

import typer

from ..errors import ConfigError
from . import options as o
from .common import EXIT_BAD_INPUT, fail, usage_or_state


def watch(
    urls: list[str] | None = typer.Argument(None, help="s3://bucket/prefix to re-list every --interval."),
    sqs_queue_url: str | None = typer.Option(None, "--sqs-queue-url",
                                                help="Consume S3 notifications (direct, SNS or EventBridge) from this queue."),
    state: o.State = None,
    once: bool = typer.Option(False, "--once", help="Drain what is available, then exit (cron, tests)."),
    interval: str = typer.Option("5m", "--interval", help="s3://: time between listings."),
    lookback: str = typer.Option("2h", "--lookback", help="s3://: each listing covers the partitions of this long ago."),
    accounts: o.Accounts = None,
    regions: o.Regions = None,
    visibility_timeout: int | None = typer.Option(None, "--visibility-timeout",
                                                     help="SQS: seconds a message stays hidden while its objects are "
                                                          "read (extended as needed; default: the queue's)."),
    fmt: o.Format = None,
    log_format: str = typer.Option("text", "--log-format", help="text | json: structured logs on stderr."),
    allowlist: o.Allowlist = None,
    dedup_fields: o.DedupFields = "EventID",
    dedup_window: o.DedupWindow = "2h",
    rule: o.Rule = None,
    rule_files: o.RuleFiles = None,
    onboarding_window: o.OnboardingWindow = "60m",
    login_window: o.LoginWindow = "12h",
    severity_steps: o.SeveritySteps = None,
    no_context: o.NoContext = False,
    threads: o.Threads = 8,
    sink: o.Sink = None,
    config: o.Config = None,
    debug: o.Debug = False,
) -> None:
    """Watch for new CloudTrail objects; alerts go to stdout exactly once, logs to stderr.

    Exit codes: 0 stopped (SIGINT/SIGTERM) or drained; 1 with --once, some object or message could not be
    processed (it was named, and left for the next run or the queue's redrive policy); 2 usage error; 5 the
    state file cannot be used (read-only, corrupt; with --once also locked or its disk full: without --once
    those are waited out with backoff, at start-up as while running).
    """
    from ..alerts.alert import Alert
    from ..alerts.render import write_alerts
    from ..engine.rules import find_rule
    from ..run import logs
    from ..run.pipeline import Run
    from ..run.settings import (
        ContextSettings,
        DeliverySettings,
        DetectionSettings,
        ExecutionSettings,
        InputSettings,
        OutputSettings,
        Settings,
        WatchSettings,
    )
    from ..run.watch import Stopper, Watcher, when_state_allows
    from ..sources import select
    from .delivery import report_delivery

    try:
        output = OutputSettings.from_options(fmt, log_format)
    except ConfigError as exc:
        fail(str(exc), usage_or_state(exc))
    logs.setup(output.log_format)
    try:
        settings = Settings(
            inputs=InputSettings.from_options(urls, accounts, regions),
            detection=DetectionSettings.from_options(
                rule, dedup_fields=dedup_fields, dedup_window=dedup_window, allowlist=allowlist,
                context=ContextSettings(not no_context, onboarding_window, login_window, tuple(severity_steps or ())),
                rule_files=rule_files),
            state=state, output=output, delivery=DeliverySettings(tuple(sink or ()), config),
            execution=ExecutionSettings(threads=threads),
            watch=WatchSettings.from_options(sqs_queue_url, interval, lookback, once, visibility_timeout))
        settings.check_watch()
        select.require_boto3()
        stopper = Stopper()
        stopper.install()
        started = when_state_allows(lambda: Run.from_settings(settings), settings.watch.once, stopper)
        code = 0  # started None: stopped while waiting for the state file, nothing was read
        if started is not None:
            with started as run:

                def emit(alerts: list[Alert]) -> None:
                    run.emit(alerts, lambda out: write_alerts(out, output.format, rule_of=find_rule))

                def deliver() -> int:  # the backlog and this batch's alerts alike: they are all in the outbox
                    report = run.deliver([])
                    report_delivery(report, settings.state)
                    return sum(p.count for p in report.still_pending if p.sink_id in {s.id for s in run.sinks})

                watcher = Watcher(run, emit=emit, stopper=stopper, deliver=deliver if run.sinks else None)
                code = watcher.run()
    except ConfigError as exc:
        fail(str(exc), usage_or_state(exc))
    except Exception as exc:  # noqa: BLE001 - one clear line unless --debug
        if debug:
            traceback.print_exc()
        fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)", EXIT_BAD_INPUT)
    raise typer.Exit(code)
