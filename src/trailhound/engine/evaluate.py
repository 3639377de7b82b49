"""The engine: inputs -> records -> rule matches -> alerts, then the run-wide steps.

Two halves, kept apart so they can run in different places (worker processes, Spark executors):
- `scan_input` is pure: one input's bytes in, its alerts and counts out. It knows nothing of other inputs.
- `Engine.finish` runs once, in the driver: de-duplication within the run, the allowlist, the state store.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Protocol

from ..alerts.alert import DEFAULT_DEDUP_FIELDS, Alert, dedup_entity, make_alert
from ..records.record import Record
from .rules.base import Rule
from ..records.prefilter import Matcher, make_matcher
from ..records.read import sift
from ..state.store import ObjectMark, StateStore

if TYPE_CHECKING:  # pydantic (behind the allowlist) costs ~90 ms to import: only runs that use one pay
    from .allowlist import Allowlist, Exclusion


class Input(Protocol):
    @property
    def origin(self) -> str: ...

    def read(self) -> bytes: ...


class Collector(Protocol):
    """Keeps the few non-matching records that give alerts their context (CreateUser, ConsoleLogin, ...).

    Like a rule it declares needles, so the prefilter keeps the records it needs; unlike a rule it raises
    nothing: `keep` returns a compact, picklable summary of a related record, or None.
    """

    needles: list[bytes]
    also_needles: list[list[bytes]]  # optional: more lists every kept record holds a member of

    def keep(self, record: Record) -> dict | None: ...


class Enricher(Protocol):
    """Runs in the driver. `remember` receives each input's collected related events as results arrive (so
    they need not all be held at once); the call, once per run before the allowlist and the state store, may
    add context to alerts and change their severity (with reasons)."""

    def remember(self, related: list[dict], state: StateStore | None) -> None: ...

    def __call__(self, alerts: list[Alert], state: StateStore | None) -> None: ...


@dataclass(frozen=True)
class ScanOptions:
    since: datetime | None = None
    until: datetime | None = None
    dedup_fields: tuple[str, ...] = DEFAULT_DEDUP_FIELDS
    collectors: tuple[Collector, ...] = ()
    prefilter: bool = True  # parse only what holds a rule's or collector's needle; never changes results
    matcher: str = "auto"  # "hyperscan", "portable" or "auto" (the fastest that loads)


@dataclass
class InputResult:
    """What one input yielded. Picklable: it crosses process and executor boundaries."""

    origin: str
    bytes: int = 0
    records: int = 0
    skipped: int = 0
    unreadable: int = 0
    out_of_range: int = 0
    undated: int = 0
    alerts: list[Alert] = field(default_factory=list)
    related: list[dict] = field(default_factory=list)
    problem: str | None = None
    prefiltered: bool = False  # no needle anywhere: skipped unparsed
    unparsed: int = 0  # records counted but not parsed: they hold no needle
    traceback: str | None = None  # an unexpected error's traceback, shown only with --debug


def evaluate(records: Iterable[dict], rules: list[Rule], options: ScanOptions, result: InputResult) -> None:
    """Run every rule over records, adding alerts and counts to `result`."""
    since, until = options.since, options.until
    for raw in records:
        result.records += 1
        record = Record(raw, result.origin)
        if since or until:
            when = record.time
            if when is None:
                result.undated += 1  # a record whose time cannot be read is judged, not dropped
            elif (since and when < since) or (until and when > until):
                result.out_of_range += 1
                continue
        for rule in rules:
            try:
                hit = rule.matches(record)
            except Exception as exc:  # noqa: BLE001 - one odd record must not end the scan
                result.unreadable += 1
                result.problem = result.problem or f"rule {rule.id} could not judge a record ({type(exc).__name__})"
                continue
            if hit:
                result.alerts.append(make_alert(rule, record, options.dedup_fields))
        for collector in options.collectors:
            kept = collector.keep(record)
            if kept is not None:
                result.related.append(kept)


_MATCHERS: dict[tuple, Matcher] = {}


def matcher_for(rules: list[Rule], options: ScanOptions) -> Matcher | None:
    """The prefilter for these rules and collectors, or None when it is off or something declares no needle
    (a rule without needles could match anything, so nothing may be skipped).

    Each rule or collector declares needle lists (`needles`, then `also_needles`): a record it wants holds
    a member of every one. Files are searched for one list per consumer, the fewest distinct needles
    overall (a rule takes a list the collectors search anyway); the records a search lets by are then
    held against all of their lists before they are parsed (Matcher.keeps)."""
    if not options.prefilter:
        return None
    consumers = [*options.collectors, *rules]
    if not consumers or any(not getattr(c, "needles", None) for c in consumers):
        return None
    lists = [_needle_lists(c) for c in consumers]
    searched = {needle for collector_lists in lists[:len(options.collectors)] for needle in collector_lists[0]}
    for rule_lists in lists[len(options.collectors):]:  # a rule: a list searched anyway, else its first
        searched.update(next((n for n in rule_lists if set(n) <= searched), rule_lists[0]))
    key = (tuple(sorted(searched)), tuple(lists), options.matcher)
    if key not in _MATCHERS:  # compiled once per process: workers reuse it for every file
        _MATCHERS[key] = make_matcher(key[0], options.matcher, lists)
    return _MATCHERS[key]


def _needle_lists(consumer) -> tuple[tuple[bytes, ...], ...]:
    """A rule's or collector's `needles`, then its `also_needles`, lower-cased and without empty lists."""
    declared = (consumer.needles, *getattr(consumer, "also_needles", ()))
    return tuple(tuple(bytes(n).lower() for n in needles) for needles in declared if needles)


def scan_input(item: Input, rules: list[Rule], options: ScanOptions) -> InputResult:
    result = InputResult(origin=item.origin)
    matcher = matcher_for(rules, options)
    try:
        _scan_input(item, rules, options, result, matcher)
    except Exception as exc:  # noqa: BLE001 - a bug or a source's own error must cost one input, not the run
        # Alerts found before the error stay: they were read. The message is cut: it may quote log values.
        result.problem = f"unexpected {type(exc).__name__} while reading: {str(exc)[:200]}"
        result.traceback = traceback.format_exc()
    return result


def _scan_input(item: Input, rules: list[Rule], options: ScanOptions, result: InputResult,
                matcher: Matcher | None) -> None:
    try:
        sifted = sift(item, matcher)  # streamed from the source; matcher None: every record parsed
        result.bytes, doc = sifted.bytes, sifted.document
    except OSError as exc:
        result.problem = f"cannot read ({exc.strerror or exc})"
        return
    if doc is None:
        result.prefiltered = True
        return
    result.skipped, result.unreadable, result.unparsed = doc.skipped, doc.unreadable, doc.unparsed
    result.records = doc.unparsed
    result.problem = doc.problem
    evaluate(doc.records, rules, options, result)


def _scan_one(job: tuple) -> InputResult:
    return scan_input(*job)


def _worker_started(parent: int) -> None:
    """A worker must not outlive its parent, nor hold the parent's stdout open. A SIGKILLed scan gets no
    chance to stop its pool: its workers would wait for ever, and whoever reads the scan's output until EOF
    (a pipe, a test, a log shipper) would wait with them."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # results travel back through the pool's own pipes; nothing is printed here
    os.close(devnull)


def scan_all(inputs: Iterable[Input], rules: list[Rule], options: ScanOptions, workers: int = 1
             ) -> Iterator[InputResult]:
    """Every input's result, in input order; spread over `workers` processes when there is more than one."""
    if workers <= 1:
        for item in inputs:
            yield scan_input(item, rules, options)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, initializer=_worker_started, initargs=(os.getpid(),)) as pool:
        # Results come back in input order whatever finishes first, so output never depends on scheduling.
        yield from pool.map(_scan_one, ((item, rules, options) for item in inputs), chunksize=8)


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
    tracebacks: list[tuple[str, str]] = field(default_factory=list)
    excluded_by: Counter = field(default_factory=Counter)
    expired_entries: list[str] = field(default_factory=list)
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
        if result.problem:
            self.bad_inputs.append((result.origin, result.problem))
        if result.traceback:
            self.tracebacks.append((result.origin, result.traceback))

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("bad_inputs", "excluded_by", "tracebacks")}
        out["bad_inputs"] = [{"input": o, "reason": r} for o, r in self.bad_inputs]
        out["excluded_by"] = dict(self.excluded_by)
        return out


@dataclass
class ScanResult:
    alerts: list[Alert]
    excluded: list[tuple[Alert, Exclusion]]
    summary: Summary


class Engine:
    def __init__(self, rules: list[Rule], options: ScanOptions | None = None, allowlist: Allowlist | None = None,
                 state: StateStore | None = None, dedup_window_s: float = 2 * 3600, today: date | None = None,
                 enrichers: tuple[Enricher, ...] = (), workers: int = 1,
                 progress: Callable[[InputResult], None] | None = None):
        self.rules = rules
        self.workers = workers
        self.progress = progress
        self.enrichers = enrichers
        self.options = options or ScanOptions()
        self.allowlist = allowlist
        self.state = state
        self.dedup_window_s = dedup_window_s
        self.today = today

    def run(self, inputs: Iterable[Input]) -> ScanResult:
        started = time.perf_counter()
        results = scan_all(inputs, self.rules, self.options, self.workers)
        if self.progress is not None:
            results = self._reporting(results)
        outcome = self.finish(results)
        outcome.summary.seconds = time.perf_counter() - started
        return outcome

    def _reporting(self, results: Iterable[InputResult]) -> Iterator[InputResult]:
        for result in results:
            self.progress(result)  # type: ignore[misc]
            yield result

    def finish(self, results: Iterable[InputResult],
               processed: Callable[[], Iterable[ObjectMark]] | None = None) -> ScanResult:
        """`processed`, called once every result is in, names the objects to mark done in the state store,
        in the same transaction as the alerts (see `incremental.py`)."""
        summary = Summary()
        matches: list[Alert] = []
        for result in results:
            summary.add(result)
            matches.extend(result.alerts)
            for enricher in self.enrichers:
                enricher.remember(result.related, self.state)
        matches.sort(key=lambda a: (a.sort_key, a.origin))
        unique: dict[str, Alert] = {}
        for alert in matches:
            if alert.key in unique:
                summary.duplicates += 1
            else:
                unique[alert.key] = alert
        for enrich in self.enrichers:
            enrich(list(unique.values()), self.state)
        if self.enrichers:  # an enricher may change a dedup field (Severity): DedupEntity must follow it
            for alert in unique.values():
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
        return ScanResult(alerts=alerts, excluded=excluded, summary=summary)

    def _apply_allowlist(self, alerts: list[Alert], summary: Summary
                         ) -> tuple[list[Alert], list[tuple[Alert, Exclusion]]]:
        if self.allowlist is None:
            return alerts, []
        for index, entry in self.allowlist.expired(self.today):
            summary.expired_entries.append(
                f"{self.allowlist.source}: [[exclude]] entry {index} ({entry.describe()}) expired on "
                f"{entry.expires} and no longer applies")
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
