"""Delivering a run's alerts to every sink: directly, or through the outbox when there is a state store."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..alerts.alert import Alert
from ..errors import StateError
from ..state import outbox
from ..state.base import State
from .base import Sink, UrlSink, scrub


@dataclass
class DeliveryReport:
    delivered: dict[str, int] = field(default_factory=dict)  # sink label -> alerts delivered this run
    failures: list[tuple[str, str]] = field(default_factory=list)  # (sink label, one-line error), one per alert
    from_earlier_runs: int = 0  # outbox entries from earlier runs delivered now
    still_pending: list[outbox.Pending] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.failures)


def deliver(alerts: list[Alert], sinks: list[Sink], store: State | None = None) -> DeliveryReport:
    report = DeliveryReport()
    if store is not None:
        outbox.enqueue(store, alerts, [sink.id for sink in sinks])
    new_ids = {alert.id for alert in alerts}
    for sink in sinks:
        report.delivered[sink.label] = _deliver_to(sink, alerts, store, new_ids, report)
    if store is not None:
        report.still_pending = outbox.pending(store)
    return report


def _deliver_to(sink: Sink, alerts: list[Alert], store: State | None, new_ids: set[str],
                report: DeliveryReport) -> int:
    """One sink: batch by batch, each claimed just before it is sent (a killed run holds one batch, and
    only until it is known dead). A whole batch refused: the sink is down, the rest waits for the next run."""
    delivered, sent_directly = 0, 0
    tried: set[str] = set()
    while True:
        if store is not None:
            batch = outbox.claim(store, sink.id, limit=sink.batch_size, skip=frozenset(tried))
        else:
            batch = alerts[sent_directly:sent_directly + sink.batch_size]
            sent_directly += len(batch)
        if not batch:
            return delivered
        tried.update(alert.id for alert in batch)
        results = _send(sink, batch)
        if store is not None:
            _record(store, sink.id, results)
        for alert_id, error in results.items():
            if error is None:
                delivered += 1
                report.from_earlier_runs += alert_id not in new_ids
            else:
                report.failures.append((sink.label, error))
        if all(error is not None for error in results.values()):
            # Waiting out the retries again for every alert would stall the run: the rest stay pending (or
            # count as failed without state).
            if store is not None:  # still pending for this sink, less the batch just refused
                rest = outbox.backlog(store, sink.id) - len(batch)
            else:
                rest = len(alerts) - sent_directly
            report.failures.extend((sink.label, f"{sink.label}: not attempted: the sink failed earlier in "
                                                "this run") for _ in range(max(rest, 0)))
            return delivered


def _record(store: State, sink_id: str, results: dict[str, str | None]) -> None:
    """Record a batch's results; when the store cannot take them now (a full disk), what the sink accepted is
    noted in the run's lock file first, so no later run sends it again (the error still ends this delivery)."""
    try:
        outbox.record(store, sink_id, results)
    except StateError:
        store.note_delivered(sink_id, [alert_id for alert_id, error in results.items() if error is None])
        raise


def _send(sink: Sink, batch: list[Alert]) -> dict[str, str | None]:
    try:
        results = sink.send(batch)
    except Exception as exc:  # noqa: BLE001 - a sink's bug must leave its alerts pending, not end the run
        message = f"{sink.label}: unexpected {type(exc).__name__}: {exc}"
        if isinstance(sink, UrlSink):
            message = scrub(message, sink.target)
        results = {alert.id: message for alert in batch}
    return {alert.id: results.get(alert.id, f"{sink.label}: no result for this alert") for alert in batch}
