"""Continuous mode: consume an SQS queue of S3 notifications, or re-list S3 prefixes on a schedule.

Exactly-once alerts, at-least-once consumption:
1. objects already processed (state) are skipped; the rest are scanned;
2. their alerts and their processed marks are stored in one transaction;
3. alerts are written out; only then are the messages deleted.
A crash before 2 changes nothing (the messages come back, the objects are read again); a crash between 2
and 3 leaves messages that come back and find their objects processed, so nothing is stored twice.

Deliveries to sinks run on their own schedule, not only when a batch raises alerts: after every batch and
every empty poll, the outbox's backlog is retried when due (at once while deliveries succeed; after a batch
fails, with backoff from 5 s doubling to 5 min), and each retry logs `delivery.backlog` with what is left.

A state store that cannot be written now (another process's lock past the busy timeout, a full disk) is
not the end: the batch's messages stay unacknowledged (they come back after their visibility timeout), and
watch backs off (2 s doubling to 2 min) and goes on. The same holds when watch starts: a state file it cannot
open or lock yet (its disk full, a lock held past the busy timeout) is waited for, not a reason to exit. A
state error that waiting cannot fix (read-only, corrupt) ends watch with exit code 5, naming the file.

Scheduled KQL rules (queryFrequency/queryPeriod) run on the wall clock: after each batch and each idle
poll, every window whose end the clock has passed is evaluated once (engine/kql/schedule.py).

SIGINT/SIGTERM: the object being scanned is finished, what was scanned is stored, messages whose objects
are all done are deleted, and the process exits 0. While idle (long poll, sleep) it exits at once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from ..alerts.alert import Alert
from ..errors import ConfigError, StateError
from ..sources.aws import describe_aws_error
from ..sources.notifications import parse_message
from ..sources.s3 import S3Object, Unlisted, objects
from ..sources.s3_layout import Selection
from ..sources.sqs import Heartbeat, Message, Queue
from . import logs
from .incremental import Outcome, process, with_etag
from .pipeline import Run

T = TypeVar("T")


class StopWatching(BaseException):
    """Raised by the signal handler only while idle, to leave a long poll or a sleep at once. A
    BaseException, like KeyboardInterrupt: botocore's retry logic catches Exception and would swallow it."""


class Stopper:
    def __init__(self) -> None:
        self.requested = False
        self._idle = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        logs.event("watch.stop_requested", signal=signal.Signals(signum).name)
        if self._idle:
            raise StopWatching

    @contextmanager
    def idle(self) -> Iterator[None]:
        if self.requested:
            raise StopWatching
        self._idle = True
        try:
            yield
        finally:
            self._idle = False


def state_backoff(failures: int) -> float:
    """Seconds to wait after `failures` state errors in a row: 2 s doubling, up to 2 min."""
    return min(120.0, 2.0 ** min(failures, 7))


def when_state_allows(start: Callable[[], T], once: bool, stopper: Stopper) -> T | None:
    """`start()` (build the run, which opens the state store), retried with backoff while it fails with a
    transient state error: a watch started on a full disk, or while another process holds the write lock,
    waits for it as a running one does. With --once the error is raised (exit 5). None: stopped meanwhile."""
    failures = 0
    while True:
        try:
            return start()
        except StateError as exc:
            if not exc.transient or once:
                raise
            failures += 1
            wait = state_backoff(failures)
            logs.warning("state.unavailable", reason=str(exc), retry_in_s=wait)
            try:
                with stopper.idle():
                    time.sleep(wait)
            except StopWatching:
                return None


class Watcher:
    """Watches what `run.settings` names (its `watch` settings, its s3:// URLs, accounts and regions, its
    threads) and hands each batch's alerts to `emit` once they are stored."""

    def __init__(self, run: Run, emit: Callable[[list[Alert]], None], stopper: Stopper | None = None,
                 deliver: Callable[[], int] | None = None) -> None:
        """`deliver` sends the outbox's backlog to the sinks and returns how many deliveries are still
        pending (watch calls it on its own schedule; None: no sinks)."""
        if run.state is None:
            raise ConfigError("watch needs --state: it is what makes alerts exactly-once")
        self.pipeline, self.state, self.emit = run, run.state, emit
        if run.clock is None:  # scheduled KQL rules run when the wall clock passes their windows
            run.clock = _wall_clock
        self.clock: Callable[[], datetime] = run.clock
        self.settings, self.inputs = run.settings.watch, run.settings.inputs
        self.stopper = stopper or Stopper()
        self.problems = 0
        self.alerts = 0
        self.deliver = deliver
        self._delivery_failures = 0
        self._next_delivery = 0.0  # time.monotonic() when the backlog is next due
        self._state_failures = 0

    def run(self) -> int:
        """0 when stopped or drained cleanly; 1 when --once met objects or messages it could not process."""
        try:
            if self.settings.queue_url:
                self._consume(Queue(self.settings.queue_url))
            else:
                self._poll()
            if self.settings.once:
                self.retry_deliveries(force=True)
        except StopWatching:
            pass
        logs.event("watch.stopped", alerts=self.alerts, problems=self.problems)
        return 1 if self.settings.once and self.problems else 0

    # -- SQS -------------------------------------------------------------------------------------------
    def _consume(self, queue: Queue) -> None:
        visibility = self._check_queue(queue)
        seen: set[str] = set()
        from botocore.exceptions import BotoCoreError, ClientError

        failures = 0
        while not self.stopper.requested:
            try:
                with self.stopper.idle():
                    messages = queue.receive(1 if self.settings.once else self.settings.wait_s, visibility)
            except (ClientError, BotoCoreError) as exc:
                failures += 1
                self.problems += 1
                logs.warning("queue.receive_failed", queue=queue.url, reason=describe_aws_error(exc))
                if self.settings.once:
                    return
                with self.stopper.idle():  # the queue or the network may come back: back off, up to 5 min
                    time.sleep(min(300, 2 ** min(failures, 8)))
                continue
            failures = 0
            if self.settings.once and all(m.id in seen for m in messages):
                return  # drained: nothing new (a message left for redrive may be back already)
            seen.update(m.id for m in messages)
            batch = list(messages)
            if self._guard_state(lambda: self._handle_messages(queue, batch, visibility)):  # noqa: B023 - called at once
                self._guard_state(self.retry_deliveries)

    def _check_queue(self, queue: Queue) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            attributes = queue.attributes()
        except (ClientError, BotoCoreError) as exc:
            raise ConfigError(f"--sqs-queue-url {queue.url}: {describe_aws_error(exc)}") from None
        visibility = self.settings.visibility_s or int(attributes.get("VisibilityTimeout", "30"))
        if "RedrivePolicy" not in attributes:
            logs.warning("queue.no_redrive_policy", queue=queue.url,
                         hint="a message that cannot be processed will come back until it expires")
        logs.event("watch.started", queue=queue.url, visibility_timeout_s=visibility)
        return visibility

    def _handle_messages(self, queue: Queue, messages: list[Message], visibility: int) -> None:
        wanted: dict[str, list[S3Object]] = {}
        deletable: list[Message] = []
        held: dict[str, str] = {}  # message id -> why it stays on the queue
        for message in messages:
            note = parse_message(message.body)
            if note.problem:
                held[message.id] = note.problem
            elif note.ignored:
                logs.event("message.ignored", message=message.id, reason=note.ignored)
                deletable.append(message)
            else:
                wanted[message.id] = self._resolve(note.objects, message, held)
        with Heartbeat(queue, [m for m in messages if m.id in wanted], visibility,
                       on_error=lambda why: logs.warning("message.extend_failed", reason=why)):
            todo = {o.origin: o for objs in wanted.values() for o in objs}
            outcome = self._process(list(todo.values()))
        for message in messages:
            if message.id not in wanted or message.id in held:
                continue
            origins = [o.origin for o in wanted[message.id]]
            failed = [f"{o}: {outcome.failed[o]}" for o in origins if o in outcome.failed]
            if failed:
                held[message.id] = "; ".join(failed)
            elif all(o in outcome.done for o in origins):
                deletable.append(message)
            # else: a stop came before its objects were read; it comes back after the visibility timeout
        for message in messages:
            if message.id in held:
                self.problems += 1
                logs.warning("message.left_for_redrive", message=message.id, receive_count=message.receive_count,
                             reason=held[message.id])
        if deletable:
            self._delete(queue, deletable)

    def _delete(self, queue: Queue, messages: list[Message]) -> None:
        """A message that cannot be deleted comes back later, finds its objects processed, and is deleted
        then: a warning, not a failure."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            failures = queue.delete(messages)
            deleted = len(messages) - len(failures)
        except (ClientError, BotoCoreError) as exc:
            failures, deleted = [describe_aws_error(exc)], 0
        for failure in failures:
            logs.warning("message.delete_failed", reason=failure)
        logs.event("messages.deleted", count=deleted)

    def _resolve(self, found: list[S3Object], message: Message, held: dict[str, str]) -> list[S3Object]:
        out: list[S3Object] = []
        for item in found:
            if item.size == 0 or item.key.endswith("/"):
                continue  # folder markers and empty objects hold no records
            resolved = with_etag(item)
            if isinstance(resolved, str):
                held[message.id] = f"{item.origin}: {resolved}"
            else:
                out.append(resolved)
        return out

    # -- S3 polling ------------------------------------------------------------------------------------
    def _poll(self) -> None:
        logs.event("watch.started", urls=list(self.inputs.paths), interval_s=self.settings.interval_s,
                   lookback_s=self.settings.lookback.total_seconds())
        while not self.stopper.requested:
            since = self.clock() - self.settings.lookback
            selection = Selection(since=since, accounts=self.inputs.accounts, regions=self.inputs.regions)
            listed = [o for url in self.inputs.paths for o in objects(url, selection)]
            fresh = [o for o in listed if not (isinstance(o, S3Object) and self.state.is_processed(o))]
            logs.event("poll.listed", objects=len(listed), new=len(fresh))
            if not fresh and self.pipeline.live_rules:  # an idle poll runs the scheduled windows now due
                self._guard_state(lambda: self._process([]))
            for start in range(0, len(fresh), self.settings.batch_size):
                if self.stopper.requested:
                    break
                chunk = fresh[start:start + self.settings.batch_size]
                if not self._guard_state(lambda: self._count_failed(self._process(chunk))):  # noqa: B023 - called at once
                    break
            self._guard_state(self.retry_deliveries)
            if self.settings.once:
                return
            with self.stopper.idle():
                time.sleep(self.settings.interval_s)

    # -- both ------------------------------------------------------------------------------------------
    def _count_failed(self, outcome: Outcome) -> None:
        self.problems += len(outcome.failed)

    def _guard_state(self, step: Callable[[], object]) -> bool:
        """Run a step; a transient state error (lock, full disk) is logged and waited out with backoff, its
        batch left unacknowledged. False when the step did not complete."""
        try:
            step()
        except StateError as exc:
            if not exc.transient or self.settings.once:
                raise
            self._state_failures += 1
            self.problems += 1
            wait = state_backoff(self._state_failures)
            logs.warning("state.unavailable", reason=str(exc), retry_in_s=wait)
            with self.stopper.idle():
                time.sleep(wait)
            return False
        self._state_failures = 0
        return True

    def retry_deliveries(self, force: bool = False) -> None:
        """Send the outbox's backlog when due, whether or not this batch raised alerts."""
        if self.deliver is None or (not force and time.monotonic() < self._next_delivery):
            return
        left = self.deliver()
        if left:
            self._delivery_failures += 1
            wait = min(300.0, 5.0 * 2 ** (self._delivery_failures - 1))
            self._next_delivery = time.monotonic() + wait
        else:
            self._delivery_failures, wait = 0, 0.0
            self._next_delivery = 0.0
        logs.event("delivery.backlog", pending=left, next_retry_s=wait)

    def _process(self, items: list[S3Object | Unlisted]) -> Outcome:
        self.state.new_run()
        threads = self.pipeline.settings.execution.threads
        outcome = process(self.pipeline, items, threads, should_stop=lambda: self.stopper.requested,
                          on_start=lambda item: logs.event("object.started", origin=item.origin))
        for origin, reason in outcome.failed.items():
            logs.warning("object.failed", origin=origin, reason=reason)
        summary = outcome.result.summary
        if items:
            logs.event("batch.stored", inputs=summary.inputs, records=summary.records, alerts=summary.alerts,
                       already_processed=outcome.already, already_alerted=summary.already_alerted,
                       claimed_elsewhere=outcome.claimed_elsewhere, failed=len(outcome.failed))
        if outcome.result.alerts:
            self.alerts += len(outcome.result.alerts)
            self.emit(outcome.result.alerts)
        return outcome


def _wall_clock() -> datetime:
    return datetime.now(UTC)
