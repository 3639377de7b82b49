"""One run, whatever reads its inputs: the run-wide steps every runner (local files, incremental S3 and the
event history, Spark, watch) shares, so `scan`, `watch` and `trailhound.scan()` give the same alerts.

`Run.from_settings` builds, once and before any input is read: the rules, the per-input options, the
context (collectors and enrichers), the allowlist, the sinks and the state store. A runner turns inputs into
`InputResult`s (with `engine.evaluate.scan_input`, anywhere) and hands them to `Run.finish`, which runs in
the driver: de-duplication within the run, context, the DedupEntity refresh, the allowlist, admission by
the state store, orphans of an interrupted run. `Run.emit` writes the alerts out and only then marks them
emitted; `Run.deliver` sends them to the sinks.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..alerts.alert import Alert, dedup_entity
from ..alerts.severity import FAILED_CALL_STEPS, failed_call
from ..engine.evaluate import Collector, InputResult, ScanOptions
from ..engine.rules import UnknownRule, context_for, dedup_fields_for, load_rules
from ..engine.rules.base import Rule
from ..errors import ConfigError
from ..records.record import Record
from ..sources import place
from ..state.base import ObjectMark, State
from ..state.open import open_state
from ..state.store import StateStore as SQLiteStore
from .settings import ContextSettings, Settings

if TYPE_CHECKING:  # pydantic (behind the allowlist) and the sinks' HTTP/AWS libraries load only when used
    from ..context.assess import ContextPolicy
    from ..context.plugin import RelatedEvent
    from ..engine.allowlist import Allowlist, Exclusion
    from ..sinks.base import Sink
    from ..sinks.delivery import DeliveryReport

Progress = Callable[[InputResult], None]
# Given the number of inputs and their bytes, a context whose value is called with each result (or None).
ProgressBar = Callable[[int, int], AbstractContextManager["Progress | None"]]


class Enricher(Protocol):
    """Runs in the driver. `remember` receives each input's collected related events as results arrive (so
    they need not all be held at once); the call, once per run before the allowlist and the state store, may
    add context to alerts and change their severity (with reasons)."""

    def remember(self, related: list[RelatedEvent], state: State | None) -> None: ...

    def __call__(self, alerts: list[Alert], state: State | None) -> None: ...


@dataclass
class Summary:
    inputs: int = 0
    bytes: int = 0
    records: int = 0
    skipped: int = 0
    unreadable: int = 0
    out_of_range: int = 0
    undated: int = 0
    matches: int = 0
    duplicates: int = 0  # the same event seen again in this run (another file, another trail)
    excluded: int = 0
    already_alerted: int = 0  # state: this event alerted in an earlier run
    within_window: int = 0  # state: same rule and DedupEntity alerted within the dedup window
    redelivered: int = 0  # state: stored by an interrupted run that never wrote them out; emitted now
    alerts: int = 0
    already_processed: int = 0  # state: S3 objects an earlier run read whole, not read again
    prefiltered: int = 0  # inputs holding no needle: skipped unparsed
    bad_inputs: list[tuple[str, str]] = field(default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)  # (input, what was assumed reading it)
    tracebacks: list[tuple[str, str]] = field(default_factory=list)
    excluded_by: Counter[str] = field(default_factory=Counter)
    read_from: Counter[str] = field(default_factory=Counter)  # inputs by place: CloudTrail layout, Security Lake, ...
    expired_entries: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one line each: rule files loaded, skipped, replacing
    seconds: float = 0.0

    def add(self, result: InputResult) -> None:
        self.inputs += 1
        self.bytes += result.bytes
        self.records += result.records
        self.skipped += result.skipped
        self.unreadable += result.unreadable
        self.out_of_range += result.out_of_range
        self.undated += result.undated
        self.matches += len(result.alerts)
        self.prefiltered += result.prefiltered
        self.read_from[place(result.origin)] += 1
        self.notices += [(result.origin, notice) for notice in result.notices]
        if result.problem:
            self.bad_inputs.append((result.origin, result.problem))
        if result.traceback:
            self.tracebacks.append((result.origin, result.traceback))

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items()
               if k not in ("bad_inputs", "excluded_by", "tracebacks", "read_from", "notices")}
        out["notices"] = [{"input": o, "notice": n} for o, n in self.notices]
        out["read_from"] = dict(self.read_from)
        out["bad_inputs"] = [{"input": o, "reason": r} for o, r in self.bad_inputs]
        out["excluded_by"] = dict(self.excluded_by)
        return out


@dataclass
class ScanResult:
    alerts: list[Alert]
    excluded: list[tuple[Alert, Exclusion]]
    summary: Summary
    note: str = ""  # one line from the runner about how the work was spread (Spark), for stderr


def context_policy(settings: ContextSettings) -> ContextPolicy:
    """The identity plug-in's settings from the context options; `--severity failure_steps=N` among them sets
    the run's failed-call step, which applies with context or without."""
    from ..context.assess import policy_from_options

    return policy_from_options(settings.onboarding_window, settings.login_window, list(settings.severity))


def build_context(settings: ContextSettings, rules: Sequence[Rule], policy: ContextPolicy | None = None
                  ) -> tuple[tuple[Collector, ...], tuple[Enricher, ...]]:
    """The context's collectors (run with the rules, on every input) and enrichers (once, in the driver): the
    plug-ins the rules declare, with the settings given; none when context is off or no rule declares one."""
    if not settings.enabled:
        return (), ()
    enricher = context_for(rules, [policy or context_policy(settings)], scratch=SQLiteStore)
    return (enricher.collectors, (enricher,)) if enricher else ((), ())


def load_allowlist(path: Any, rules: Sequence[Rule]) -> Allowlist | None:
    """The allowlist, its conditions checked against the columns of the rules run."""
    if path is None:
        return None
    from ..engine.allowlist import load_allowlist as load  # pydantic loads only for runs with an allowlist

    return load(path, list(rules))


def rules_named(ids: Iterable[str]) -> list[Rule]:
    try:
        return load_rules(list(ids) or None)
    except UnknownRule as exc:
        raise ConfigError(f"--rule: {exc}") from None


def with_rule_files(rules: list[Rule], paths: Sequence[Any]) -> tuple[list[Rule], list[str]]:
    """The built-in rules plus the KQL rules of --rules, and a note per file (engine/kql/catalog.py); the KQL
    engine loads only when --rules is given."""
    if not paths:
        return rules, []
    from ..engine.kql.catalog import with_rule_files as with_kql_rules

    return with_kql_rules(rules, paths)


@dataclass
class Run:
    """The run-wide part of one run. Built from its parts (tests, benchmarks) or from Settings."""

    rules: list[Rule]
    options: ScanOptions = field(default_factory=ScanOptions)
    allowlist: Allowlist | None = None
    state: State | None = None
    dedup_window_s: float = 2 * 3600
    enrichers: tuple[Enricher, ...] = ()
    failure_steps: int = FAILED_CALL_STEPS  # how far below a success a failed call ranks
    sinks: list[Sink] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    today: date | None = None
    now: datetime | None = None  # now()/ago() of run-wide (KQL) rules; None: --until, else the data's end
    notes: list[str] = field(default_factory=list)
    # watch: the wall clock. A run with a clock does not end: each scheduled KQL rule keeps its rows across
    # finish() calls and is evaluated over every window the clock has passed since its last one.
    clock: Callable[[], datetime] | None = None
    live: dict[str, Any] = field(default_factory=dict, repr=False)  # rule id -> its LiveSchedule

    @classmethod
    def from_settings(cls, settings: Settings) -> Run:
        """Everything checked and built before any input is read; a problem is a ConfigError. The state
        store, when there is one, is open: close it with `close()` (or use the Run as a context manager)."""
        detection = settings.detection
        rules, notes = with_rule_files(rules_named(detection.rules), detection.rule_files)
        policy = context_policy(detection.context)
        collectors, enrichers = build_context(detection.context, rules, policy)
        options = ScanOptions(since=detection.since, until=detection.until,
                              dedup_fields=dedup_fields_for(rules, detection.dedup_fields), collectors=collectors,
                              prefilter=detection.prefilter)
        allowlist = load_allowlist(detection.allowlist, rules)
        sinks = _make_sinks(settings)
        state = open_state(settings.state, track_delivery=True) if settings.state else None
        if state is not None:
            state.sink_ids = tuple(s.id for s in sinks)
        return cls(rules=rules, options=options, allowlist=allowlist, state=state, failure_steps=policy.failure_steps,
                   dedup_window_s=detection.dedup_window_s, enrichers=enrichers, sinks=sinks, settings=settings,
                   now=detection.now, notes=notes)

    @property
    def live_rules(self) -> bool:
        """Whether a rule runs on a schedule of its own (a KQL rule with queryFrequency) under a clock."""
        return self.clock is not None and any(r.run_wide and getattr(r, "frequency", None) for r in self.rules)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.state is not None:
            self.state.close()

    def finish(self, results: Iterable[InputResult],
               processed: Callable[[], Iterable[ObjectMark]] | None = None) -> ScanResult:
        """The run-wide steps over every input's result. `processed`, called once every result is in, names
        the objects to mark done in the state store, in the same transaction as the alerts (incremental.py)."""
        started = time.perf_counter()
        summary = Summary(notes=list(self.notes))
        matches: list[Alert] = []
        kept: dict[str, list[dict[str, Any]]] = {}
        for result in results:
            summary.add(result)
            matches.extend(result.alerts)
            for rule_id, rows in result.kept.items():
                kept.setdefault(rule_id, []).extend(rows)
            for enricher in self.enrichers:
                enricher.remember(result.related, self.state)
        concluded = self.conclude(kept)
        summary.matches += len(concluded)
        matches.extend(concluded)
        matches.sort(key=lambda a: (a.sort_key, a.origin))
        unique: dict[str, Alert] = {}
        for alert in matches:
            if alert.key in unique:
                summary.duplicates += 1
            else:
                unique[alert.key] = alert
        # A DedupEntity derived from the dedup fields follows them when ranking changes one (Severity); one
        # a KQL query computed itself (FalconForce's) is the query's and stays.
        own = {a.key for a in concluded if a.row.get("DedupEntity") != dedup_entity(a.row, self.options.dedup_fields)}
        for enrich in self.enrichers:
            enrich(list(unique.values()), self.state)
        for key, alert in unique.items():
            _rank_failed_call(alert, self.failure_steps)
            if key not in own:
                alert.row["DedupEntity"] = dedup_entity(alert.row, self.options.dedup_fields)
        alerts, excluded = self._apply_allowlist(list(unique.values()), summary)
        if self.state is not None:
            if excluded:
                self.state.record_exclusions(excluded)
            admitted = self.state.admit(alerts, self.dedup_window_s, processed=processed() if processed else ())
            summary.already_alerted = len(admitted.duplicate_events)
            summary.within_window = len(admitted.within_window)
            orphans = self.state.take_orphans()
            summary.redelivered = len(orphans)
            alerts = orphans + admitted.new
        summary.alerts = len(alerts)
        summary.seconds = time.perf_counter() - started
        return ScanResult(alerts=alerts, excluded=excluded, summary=summary)

    def conclude(self, kept: dict[str, list[dict[str, Any]]]) -> list[Alert]:
        """The run-wide rules' alerts, each rule evaluated over the rows its inputs kept, with the state
        store's alert history as Sentinel's SecurityAlert."""
        wide = [rule for rule in self.rules if rule.run_wide]
        if not wide:
            return []
        from ..engine.kql.rule import KqlRule, RunView, security_alert_row
        from ..engine.kql.schedule import LiveSchedule
        from ..engine.kql.values import parse_datetime_literal

        history = []
        if self.state is not None:
            for row, raised in self.state.alert_history():
                generated = parse_datetime_literal(str(row.get("AlertGenerated") or "")) or \
                    datetime.fromtimestamp(raised, UTC)
                history.append(security_alert_row(row, generated))
        view = RunView(now=self.now or self.options.until, history=history, dedup_fields=self.options.dedup_fields)
        alerts: list[Alert] = []
        for rule in wide:
            rows = kept.get(rule.id, [])
            if self.clock is not None and isinstance(rule, KqlRule) and rule.frequency:
                live = self.live.setdefault(rule.id, LiveSchedule(rule))
                alerts.extend(live.conclude(rows, view, self.clock()))
            else:
                alerts.extend(rule.conclude(rows, view))
        return alerts

    def emit(self, alerts: list[Alert], write: Callable[[list[Alert]], None]) -> None:
        """Write the alerts out, and only then mark them emitted: a run killed in between emits them next
        time (the state store hands them back as orphans)."""
        write(alerts)
        if self.state is not None:
            self.state.mark_emitted(alerts)

    def deliver(self, alerts: list[Alert]) -> DeliveryReport:
        """Send to every sink; with a state file, through its outbox (pending deliveries are retried)."""
        from ..sinks.delivery import deliver

        if self.settings.state is None:
            return deliver(alerts, self.sinks)
        # A store of its own: scan's was closed when the scan ended; the outbox lives in the same store. It
        # holds a run lock, so its claims are known free the moment this process dies.
        with open_state(self.settings.state, track_delivery=True) as store:
            return deliver(alerts, self.sinks, store)

    def _apply_allowlist(self, alerts: list[Alert], summary: Summary
                         ) -> tuple[list[Alert], list[tuple[Alert, Exclusion]]]:
        if self.allowlist is None:
            return alerts, []
        for index, expired in self.allowlist.expired(self.today):
            summary.expired_entries.append(
                f"{self.allowlist.source}: [[exclude]] entry {index} ({expired.describe()}) expired on "
                f"{expired.expires} and no longer applies")
        kept: list[Alert] = []
        excluded: list[tuple[Alert, Exclusion]] = []
        for alert in alerts:
            entry = self.allowlist.match(alert.row, self.today)
            if entry is None:
                kept.append(alert)
            else:
                excluded.append((alert, entry))
                summary.excluded += 1
                summary.excluded_by[entry.reason] += 1
        return kept, excluded


def _rank_failed_call(alert: Alert, steps: int) -> None:
    """The one place a failed call is ranked below a success: after the rule and its context ranked it."""
    if alert.row.get("Outcome") != "failure":
        return
    lowered, why = failed_call(alert.severity, Record(alert.raw).error_code, steps)
    alert.row["Severity"] = str(lowered)
    reasons = alert.row.get("Reasons")
    if isinstance(reasons, list):  # a context plug-in ranked it: its reasons end with this step
        reasons.append(f"{lowered}: {why}")


def _make_sinks(settings: Settings) -> list[Sink]:
    if not settings.delivery.wanted:
        return []
    from ..sinks.setup import make_sinks  # HTTP and AWS libraries load only when there is somewhere to send

    return make_sinks(settings.delivery.config, list(settings.delivery.sinks))
