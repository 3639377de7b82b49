"""The alert lifecycle over the state store: list, show, acknowledge, close, and what was done about each.

Statuses: open (as raised) -> acknowledged (someone is on it) -> closed. Every change and every response
action is kept in `alert_events` with who, when and a note, so the store is the alert's whole story.
"""

from __future__ import annotations

import getpass
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..alerts.alert import Alert
from ..errors import ConfigError
from ..records.record import parse_time
from .base import State, alert_from_stored

STATUSES = ("open", "acknowledged", "closed")
MIN_PREFIX = 6


@dataclass
class StoredAlert:
    alert: Alert
    status: str
    raised_at: float

    @property
    def id(self) -> str:
        return self.alert.id


def whoami() -> str:
    """Who is acting, for the record: TRAILHOUND_USER, else the login name."""
    try:
        return os.environ.get("TRAILHOUND_USER") or getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _select(store: State, where: str = "", params: tuple[str, ...] = ()) -> list[StoredAlert]:
    rows = store.query(
        f"SELECT row, raw, rule_id, event_key, origin, status, raised_at FROM alerts {where} "
        "ORDER BY event_time, id", params)
    return [StoredAlert(alert_from_stored(*row[:5]), row[5], row[6]) for row in rows]


def find(store: State, alert_id: str) -> StoredAlert:
    """An alert by its id or a unique prefix of at least six hex digits; ConfigError naming it otherwise."""
    return _select(store, "WHERE id=?", (store.resolve_alert_id(alert_id, MIN_PREFIX),))[0]


def list_alerts(store: State, status: str | None = None, since: datetime | None = None,
                rule: str | None = None) -> list[StoredAlert]:
    """Alerts, oldest event first; `since` is on the event's time, as `scan --since` is."""
    clauses: list[str] = []
    params: list[str] = []
    if status:
        clauses.append("status=?")
        params.append(status)
    if rule:
        clauses.append("lower(rule_id)=?")
        params.append(rule.lower())
    found = _select(store, ("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(params))
    if since is not None:
        found = [s for s in found if (when := parse_time(s.alert.row.get("TimeGenerated"))) and when >= since]
    return found


def set_status(store: State, alert_id: str, status: str, note: str | None = None, who: str | None = None
               ) -> StoredAlert:
    if status not in STATUSES:
        raise ConfigError(f"status {status!r}: choose from {', '.join(STATUSES)}")
    stored = find(store, alert_id)
    with store.transaction() as db:
        db.execute("UPDATE alerts SET status=? WHERE id=?", (status, stored.id))
        add_event(db, stored.id, status, note=note, who=who)
    stored.status = status
    return stored


def add_event(db: Any, alert_id: str, action: str, note: str | None = None, result: str | None = None,
              who: str | None = None, at: float | None = None) -> None:
    db.execute("INSERT INTO alert_events (alert_id, at, who, action, note, result) VALUES (?,?,?,?,?,?)",
               (alert_id, time.time() if at is None else at, who or whoami(), action, note, result))


def events(store: State, alert_id: str) -> list[dict[str, Any]]:
    rows = store.query("SELECT at, who, action, note, result FROM alert_events WHERE alert_id=? "
                       f"ORDER BY at, {store.insertion_order}", (alert_id,))
    return [dict(zip(("at", "who", "action", "note", "result"), row)) for row in rows]
