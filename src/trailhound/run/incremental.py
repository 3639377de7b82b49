"""Exactly-once over S3 objects: skip what the state store has processed, scan the rest, then store the
alerts and mark the objects processed in one transaction.

An object is marked only when it was read and parsed whole: one that could not be read, or read only in
part, is read again next time (its alerts are still stored once: the state store knows each event).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..engine.evaluate import InputResult, scan_input
from ..engine.rules import event_names
from ..sources import select
from ..sources.aws import describe_aws_error
from ..sources.aws import shared_client as client
from ..sources.s3 import S3Object, prefetched
from ..sources.s3_layout import Selection
from ..state.base import State
from ..testhooks import crash_point, slow_down
from .pipeline import Run, ScanResult


@dataclass
class Outcome:
    result: ScanResult
    done: set[str] = field(default_factory=set)  # origins read whole, or processed by an earlier run
    failed: dict[str, str] = field(default_factory=dict)  # origin -> why it was not read whole
    already: int = 0  # objects skipped because an earlier run processed them
    claimed_elsewhere: int = 0  # objects a live peer (another worker) is reading now: left to it


def fresh(objects: Iterable[Any], state: State | None, outcome: Outcome) -> Iterator[Any]:
    """Objects the state store has not processed and no live peer is reading; the others are counted and
    passed over (one a peer holds is neither done nor failed: its message comes back and finds it processed,
    or free again if that peer died)."""
    for item in objects:
        if state is not None and isinstance(item, S3Object) and item.etag:
            if state.is_processed(item):
                outcome.already += 1
                outcome.done.add(item.origin)
                continue
            if not state.claim_objects([item])[0]:
                outcome.claimed_elsewhere += 1
                continue
        yield item


def with_etag(item: S3Object) -> S3Object | str:
    """The object with its ETag (a notification may not carry one), or why it cannot be read."""
    if item.etag:
        return item
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        head = client().head_object(Bucket=item.bucket, Key=item.key)
    except (ClientError, BotoCoreError) as exc:
        return describe_aws_error(exc)
    return S3Object(item.bucket, item.key, head.get("ETag", "").strip('"'), head.get("ContentLength", -1))


def scan_remote(run: Run) -> ScanResult:
    """`scan s3://... --event-history`: the objects and event-history pages the settings select."""
    inputs, detection = run.settings.inputs, run.settings.detection
    selection = Selection(detection.since, detection.until, inputs.accounts, inputs.regions)
    configured = select.configured_region() if inputs.event_history and not inputs.regions else None
    found = select.inputs(inputs.paths, selection, event_names(run.rules), inputs.event_history, configured)
    return process(run, found, run.settings.execution.threads).result


def process(run: Run, inputs: Iterable[Any], threads: int = 8,
            should_stop: Callable[[], bool] = lambda: False,
            on_start: Callable[[Any], None] | None = None) -> Outcome:
    """Scan `inputs` (S3 objects and any other inputs), downloads `threads` at a time, and store the alerts
    with the processed marks. `should_stop` is asked before each input: a stop finishes the inputs already
    scanned, stores them, and leaves the rest for the next run."""
    outcome = Outcome(result=None)  # type: ignore[arg-type]  # set below, once the run has finished
    marks: list[S3Object] = []

    def results() -> Iterator[InputResult]:
        for item in prefetched(_until(fresh(inputs, run.state, outcome), should_stop), threads):
            if should_stop():  # downloads already ahead are dropped: the next run reads them
                return
            if on_start:
                on_start(item)
            slow_down()
            result = scan_input(item, run.rules, run.options)
            original = getattr(item, "item", item)
            if result.problem is None:
                outcome.done.add(result.origin)
                if isinstance(original, S3Object):
                    marks.append(original)
            else:
                outcome.failed[result.origin] = result.problem
            yield result

    def processed() -> list[S3Object]:  # called by the run just before its one transaction
        crash_point("before-store")
        return marks

    started = time.perf_counter()
    outcome.result = run.finish(results(), processed=processed)
    outcome.result.summary.seconds = time.perf_counter() - started
    outcome.result.summary.already_processed = outcome.already
    crash_point("after-store")
    return outcome


def _until(items: Iterable[Any], should_stop: Callable[[], bool]) -> Iterator[Any]:
    for item in items:
        if should_stop():
            return
        yield item
