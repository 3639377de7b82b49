"""Delivering a run's alerts to every sink: directly, or through the outbox when there is a state store."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..alerts.alert import Alert
from ..state import outbox
from ..state.store import StateStore
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


def deliver(alerts: list[Alert], sinks: list[Sink], store: StateStore | None = None) -> DeliveryReport:
    report = DeliveryReport()
    if store is not None:
        outbox.enqueue(store, alerts, [sink.id for sink in sinks])
    new_ids = {alert.id for alert in alerts}
    for sink in sinks:
        todo = outbox.claim(store, sink.id) if store is not None else alerts
        delivered = 0
        for start in range(0, len(todo), sink.batch_size):
            batch = todo[start:start + sink.batch_size]
            results = _send(sink, batch)
            if store is not None:
                outbox.record(store, sink.id, results)
            for alert_id, error in results.items():
                if error is None:
                    delivered += 1
                    report.from_earlier_runs += alert_id not in new_ids
                else:
                    report.failures.append((sink.label, error))
            if all(error is not None for error in results.values()):
                # A sink that refused a whole batch after its retries is down: waiting out the retries again
                # for every alert would stall the run. The rest stay pending (or count as failed without state).
                rest = todo[start + sink.batch_size:]
                report.failures.extend((sink.label, f"{sink.label}: not attempted: the sink failed earlier in "
                                                    "this run") for _ in rest)
                if store is not None:
                    outbox.release(store, sink.id)
                break
        report.delivered[sink.label] = delivered
    if store is not None:
        report.still_pending = outbox.pending(store)
    return report


def _send(sink: Sink, batch: list[Alert]) -> dict[str, str | None]:
    try:
        results = sink.send(batch)
    except Exception as exc:  # noqa: BLE001 - a sink's bug must leave its alerts pending, not end the run
        message = f"{sink.label}: unexpected {type(exc).__name__}: {exc}"
        if isinstance(sink, UrlSink):
            message = scrub(message, sink.target)
        results = {alert.id: message for alert in batch}
    return {alert.id: results.get(alert.id, f"{sink.label}: no result for this alert") for alert in batch}
