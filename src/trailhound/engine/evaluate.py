"""The engine's per-input half: one input's bytes in, its alerts, related events and counts out.

`scan_input` is pure: it knows nothing of other inputs, so it runs anywhere (worker processes, Spark
executors). The run-wide steps (de-duplication within the run, context, the allowlist, the state store)
run once per run, in `run/pipeline.py`.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..alerts.alert import DEFAULT_DEDUP_FIELDS, Alert
from ..errors import RecordError
from ..records.formats import ONCE_PER_INPUT, not_json_lines
from ..records.prefilter import Matcher, make_matcher
from ..records.read import sift
from ..records.record import Record
from .rules.base import Rule, make_alert

if TYPE_CHECKING:
    from ..context.plugin import RelatedEvent


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

    def keep(self, record: Record) -> RelatedEvent | None: ...


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
    related: list[RelatedEvent] = field(default_factory=list)
    problem: str | None = None
    notices: list[str] = field(default_factory=list)  # what was assumed reading it (a date order): not errors
    prefiltered: bool = False  # no needle anywhere: skipped unparsed
    unparsed: int = 0  # records counted but not parsed: they hold no needle
    traceback: str | None = None  # an unexpected error's traceback, shown only with --debug
    kept: dict[str, list[dict[str, Any]]] = field(default_factory=dict[str, Any])  # run-wide rules' rows, by rule id
    # One byte range of a file (sources.files.FileRange): its problems with their lines counted from its own
    # start, its newlines and lines that are not JSON, for `joined` to renumber and say once for the file.
    part: int | None = None
    parts: int = 1
    located: list[tuple[str, int | None]] = field(default_factory=list[tuple[str, int | None]])
    lines: int = 0
    bad_lines: tuple[int, int] | None = None


_SUMMED = ("bytes", "records", "skipped", "unreadable", "out_of_range", "undated", "unparsed")


def joined(parts: list[InputResult]) -> InputResult:
    """One file's result from its ranges' results (in file order), as if one worker had read it whole:
    counts summed, alerts and related events in file order, problems at their lines in the whole file,
    lines that are not JSON said once, a once-per-input note said once."""
    whole = InputResult(origin=parts[0].origin, prefiltered=all(p.prefiltered for p in parts))
    located: list[tuple[str, int | None]] = []
    offset, bad, first_bad = 0, 0, 0
    for part in parts:
        for name in _SUMMED:
            setattr(whole, name, getattr(whole, name) + getattr(part, name))
        whole.alerts += part.alerts
        whole.related += part.related
        for rule_id, rows in part.kept.items():
            whole.kept.setdefault(rule_id, []).extend(rows)
        whole.notices += [n for n in part.notices if n not in whole.notices]
        for message, line in part.located:
            if message.startswith(ONCE_PER_INPUT) and any(m.startswith(ONCE_PER_INPUT) for m, _ in located):
                continue
            located.append((message, None if line is None else line + offset))
        if part.bad_lines:
            bad += part.bad_lines[0]
            first_bad = first_bad or part.bad_lines[1] + offset
        whole.problem = whole.problem or part.problem
        whole.traceback = whole.traceback or part.traceback
        offset += part.lines
    if bad:
        located.append((not_json_lines(bad), first_bad))
    if located:
        whole.problem = "; ".join(str(RecordError(message, line=line)) for message, line in located)
    return whole


def evaluate(records: Iterable[dict[str, Any]], rules: list[Rule], options: ScanOptions, result: InputResult) -> None:
    """Run every rule over records, adding alerts and counts to `result`."""
    since, until = options.since, options.until
    # A run-wide rule (KQL) only keeps rows here; a rule without the flag (a duck-typed one) judges records.
    wide = [r for r in rules if getattr(r, "run_wide", False)]
    single = [r for r in rules if not getattr(r, "run_wide", False)]
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
        for rule in wide:
            row = rule.keep(record)
            if row is not None:
                result.kept.setdefault(rule.id, []).append(row)
        for rule in single:
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


_NeedleLists = tuple[tuple[bytes, ...], ...]  # a consumer's needle lists, lower-cased
_MATCHERS: dict[tuple[tuple[bytes, ...], tuple[_NeedleLists, ...], str], Matcher] = {}


def matcher_for(rules: list[Rule], options: ScanOptions) -> Matcher | None:
    """The prefilter for these rules and collectors, or None when it is off or something declares no needle
    (a rule without needles could match anything, so nothing may be skipped).

    Each rule or collector declares needle lists (`needles`, then `also_needles`): a record it wants holds
    a member of every one. Files are searched for one list per consumer, the fewest distinct needles
    overall (a rule takes a list the collectors search anyway); the records a search lets by are then
    held against all of their lists before they are parsed (Matcher.keeps)."""
    if not options.prefilter:
        return None
    consumers: list[Rule | Collector] = [*options.collectors, *rules]
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


def _needle_lists(consumer: Rule | Collector) -> _NeedleLists:
    """A rule's or collector's `needles`, then its `also_needles`, lower-cased and without empty lists."""
    declared = (consumer.needles, *getattr(consumer, "also_needles", ()))
    return tuple(tuple(bytes(n).lower() for n in needles) for needles in declared if needles)


def scan_input(item: Input, rules: list[Rule], options: ScanOptions) -> InputResult:
    result = InputResult(origin=item.origin, part=getattr(item, "part", None),  # a FileRange has these
                         parts=getattr(item, "parts", 1))
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
    def batch(records: list[dict[str, Any]]) -> None:  # a big input's records, judged as they stream
        evaluate(records, rules, options, result)

    try:
        sifted = sift(item, matcher, batch)  # streamed from the source; matcher None: every record parsed
        result.bytes, result.lines, doc = sifted.bytes, sifted.lines, sifted.document
    except OSError as exc:
        result.problem = f"cannot read ({exc.strerror or exc})"
        return
    if doc is None:
        result.prefiltered = True
        return
    result.skipped, result.unreadable, result.unparsed = doc.skipped, result.unreadable + doc.unreadable, doc.unparsed
    result.records += doc.unparsed
    if result.part is not None:  # joined with the file's other ranges, which renumber and say its problems
        result.located = [(p.message, p.line) for p in doc.problems]
        result.bad_lines = doc.bad_lines
    else:
        result.problem = doc.problem or result.problem
    result.notices = doc.notices
    evaluate(doc.records, rules, options, result)
