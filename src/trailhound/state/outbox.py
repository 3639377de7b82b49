"""The outbox: each alert's delivery to each sink, in the state store. A delivery is queued when its alert is
raised, claimed by one run at a time, and marked delivered (never sent again) or left pending with its error
for the next run.

At-least-once, not exactly-once, across a crash: a run that dies after a sink accepted an alert but before
recording it sends that alert again next time. Webhooks carry the alert id so a receiver can drop the copy.

A sink that accepted a batch the store then cannot record (a full disk) is noted in the run's lock file
(runlock.py): the next run to find that run's claims marks them delivered instead of sending them again.

A claim covers one batch, the one being sent now, never the whole backlog; and a claim whose run is over
(its worker is gone: State.is_alive) is free to take at once, so a SIGKILLed run freezes
nothing. The lease only covers a run that is alive but stuck, or claims from before run locks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..alerts.alert import Alert
from .base import State, alert_from_stored, queue_deliveries

CLAIM_LEASE_S = 600.0  # a claim older than this belongs to a run that died: free to take


@dataclass
class Pending:
    sink_id: str
    count: int
    last_error: str | None


def enqueue(store: State, alerts: list[Alert], sink_ids: list[str], now: float | None = None) -> None:
    now = time.time() if now is None else now
    with store.transaction() as db:
        queue_deliveries(db, [alert.id for alert in alerts], sink_ids, now)


def claim(store: State, sink_id: str, now: float | None = None, limit: int = 500,
          skip: frozenset[str] = frozenset()) -> list[Alert]:
    """Up to `limit` pending deliveries for a sink, oldest first, claimed for this run so a parallel run
    skips them (those in `skip`, already tried by this run, are left for the next one)."""
    now = time.time() if now is None else now
    with store.transaction() as db:
        claimants = [c for (c,) in db.execute(
            "SELECT DISTINCT claimed_by FROM deliveries WHERE sink_id=? AND status='pending' "
            "AND claimed_by IS NOT NULL AND claimed_by<>?", (sink_id, store.run_id)).fetchall()]
        for dead in (c for c in claimants if not store.is_alive(c)):
            # What its sinks accepted and it could not record (a full disk) is delivered, not to send again.
            for noted_sink, alert_ids in store.delivered_by(dead).items():
                db.executemany("UPDATE deliveries SET status='delivered', attempts=attempts+1, delivered_at=?, "
                               "last_error=NULL, claimed_by=NULL WHERE alert_id=? AND sink_id=? AND claimed_by=?",
                               [(now, alert_id, noted_sink, dead) for alert_id in sorted(alert_ids)])
            db.execute("UPDATE deliveries SET claimed_by=NULL WHERE claimed_by=?", (dead,))
        free = [a for (a,) in db.execute(
            "SELECT alert_id FROM deliveries WHERE sink_id=? AND status='pending' "
            "AND (claimed_by IS NULL OR claimed_by=? OR claimed_at<?) ORDER BY queued_at, alert_id",
            (sink_id, store.run_id, now - CLAIM_LEASE_S)).fetchall() if a not in skip][:limit]
        db.executemany("UPDATE deliveries SET claimed_by=?, claimed_at=? WHERE alert_id=? AND sink_id=?",
                       [(store.run_id, now, alert_id, sink_id) for alert_id in free])
        rows = db.execute(
            "SELECT a.row, a.raw, a.rule_id, a.event_key, a.origin FROM deliveries d JOIN alerts a ON a.id=d.alert_id"
            " WHERE d.sink_id=? AND d.status='pending' AND d.claimed_by=? ORDER BY d.queued_at, a.event_time, a.id",
            (sink_id, store.run_id)).fetchall()
    return [alert_from_stored(*row) for row in rows]


def record(store: State, sink_id: str, results: dict[str, str | None], now: float | None = None) -> None:
    now = time.time() if now is None else now
    with store.transaction() as db:
        for alert_id, error in results.items():
            if error is None:
                db.execute("UPDATE deliveries SET status='delivered', attempts=attempts+1, delivered_at=?, "
                           "last_error=NULL, claimed_by=NULL WHERE alert_id=? AND sink_id=?", (now, alert_id, sink_id))
            else:
                db.execute("UPDATE deliveries SET attempts=attempts+1, last_error=?, claimed_by=NULL "
                           "WHERE alert_id=? AND sink_id=?", (error, alert_id, sink_id))


def release(store: State, sink_id: str) -> None:
    """Give back this run's claims on a sink's deliveries it did not attempt."""
    with store.transaction() as db:
        db.execute("UPDATE deliveries SET claimed_by=NULL WHERE sink_id=? AND claimed_by=?", (sink_id, store.run_id))


def backlog(store: State, sink_id: str | None = None) -> int:
    """Deliveries pending, for one sink or all together (watch logs it on its retry schedule)."""
    if sink_id is None:
        return int(store.query("SELECT count(*) FROM deliveries WHERE status='pending'")[0][0])
    return int(store.query("SELECT count(*) FROM deliveries WHERE status='pending' AND sink_id=?", (sink_id,))[0][0])


def pending(store: State, exclude: tuple[str, ...] = ()) -> list[Pending]:
    """Pending deliveries per sink (those of sinks not configured now too: they wait for that sink)."""
    rows = store.query(
        "SELECT sink_id, count(*), max(last_error) FROM deliveries WHERE status='pending' GROUP BY sink_id "
        "ORDER BY sink_id")
    return [Pending(*row) for row in rows if row[0] not in exclude]


def for_alert(store: State, alert_id: str) -> list[dict[str, Any]]:
    rows = store.query("SELECT sink_id, status, attempts, last_error, delivered_at FROM deliveries "
                       "WHERE alert_id=? ORDER BY sink_id", (alert_id,))
    return [dict(zip(("sink", "status", "attempts", "last_error", "delivered_at"), row)) for row in rows]
