"""The state store: one SQLite file remembering alerts, exclusions, processed objects and (later) deliveries.

WAL mode and a busy timeout let two runs share a file; every check-and-insert happens inside one
`BEGIN IMMEDIATE` transaction, so two runs racing on the same event still store (and emit) it once.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

import orjson

from .alerts import Alert
from .errors import ConfigError
from .records import format_time, parse_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id           TEXT PRIMARY KEY,
    rule_id      TEXT NOT NULL,
    event_key    TEXT NOT NULL,
    dedup_entity TEXT NOT NULL,
    event_time   TEXT,
    raised_at    REAL NOT NULL,
    run_id       TEXT NOT NULL,
    severity     TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open',
    origin       TEXT,
    row          TEXT NOT NULL,
    raw          TEXT NOT NULL,
    UNIQUE (rule_id, event_key)
);
CREATE INDEX IF NOT EXISTS alerts_dedup ON alerts (rule_id, dedup_entity, raised_at);
CREATE TABLE IF NOT EXISTS exclusions (
    rule_id     TEXT NOT NULL,
    event_key   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    owner       TEXT,
    excluded_at REAL NOT NULL,
    origin      TEXT,
    row         TEXT NOT NULL,
    raw         TEXT NOT NULL,
    UNIQUE (rule_id, event_key)
);
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id     TEXT NOT NULL,
    sink_id      TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    queued_at    REAL NOT NULL,
    delivered_at REAL,
    claimed_by   TEXT,
    claimed_at   REAL,
    PRIMARY KEY (alert_id, sink_id)
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (sink_id, status);
CREATE TABLE IF NOT EXISTS alert_events (
    alert_id TEXT NOT NULL,
    at       REAL NOT NULL,
    who      TEXT NOT NULL,
    action   TEXT NOT NULL,
    note     TEXT,
    result   TEXT
);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events (alert_id, at);
CREATE TABLE IF NOT EXISTS related_events (
    event_key  TEXT PRIMARY KEY,
    event_time TEXT NOT NULL,
    account    TEXT NOT NULL,
    actor      TEXT NOT NULL,
    subject    TEXT NOT NULL,
    target     TEXT NOT NULL,
    data       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS related_subject ON related_events (account, subject, event_time);
CREATE INDEX IF NOT EXISTS related_target ON related_events (account, target, event_time);
CREATE INDEX IF NOT EXISTS related_actor ON related_events (actor, event_time);
CREATE TABLE IF NOT EXISTS processed_objects (
    bucket       TEXT NOT NULL,
    key          TEXT NOT NULL,
    etag         TEXT NOT NULL,
    processed_at REAL NOT NULL,
    run_id       TEXT NOT NULL,
    PRIMARY KEY (bucket, key, etag)
);
"""


class ObjectMark(Protocol):
    """An object read whole (an S3 object: bucket, key and ETag, so a rewritten object is read again)."""

    bucket: str
    key: str
    etag: str


@dataclass
class Admission:
    new: list[Alert]
    duplicate_events: list[Alert]  # this event already alerted in an earlier run
    within_window: list[Alert]  # same rule and DedupEntity raised by an earlier run inside the window


class StateStore:
    def __init__(self, path: str | Path, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.run_id = uuid.uuid4().hex
        try:
            self.db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            with self.transaction():  # executescript() would commit on its own; keep it one transaction
                for statement in _statements(SCHEMA):
                    self.db.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path}: cannot use as a state store ({exc})") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "StateStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (IMMEDIATE), so check-then-insert cannot race another run."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def admit(self, alerts: list[Alert], window_s: float, now: float | None = None,
              processed: Iterable[ObjectMark] = ()) -> Admission:
        """Store the alerts that are new; say which were already raised (same event) or deduplicated.

        `processed` (S3 objects read whole) is marked in the same transaction as the alerts, so a crash
        leaves either both or neither: an object is never marked done without its alerts.
        """
        now = time.time() if now is None else now
        result = Admission([], [], [])
        with self.transaction() as db:
            self._mark_processed(db, processed, now)
            for alert in alerts:
                event_key = alert.key.split("|", 1)[1]
                if db.execute("SELECT 1 FROM alerts WHERE rule_id=? AND event_key=?",
                              (alert.rule_id, event_key)).fetchone():
                    result.duplicate_events.append(alert)
                    continue
                if db.execute("SELECT 1 FROM alerts WHERE rule_id=? AND dedup_entity=? AND raised_at>=? "
                              "AND run_id<>? LIMIT 1",
                              (alert.rule_id, alert.row["DedupEntity"], now - window_s, self.run_id)).fetchone():
                    result.within_window.append(alert)
                    continue
                db.execute(
                    "INSERT INTO alerts (id, rule_id, event_key, dedup_entity, event_time, raised_at, run_id,"
                    " severity, origin, row, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (alert.id, alert.rule_id, event_key, alert.row["DedupEntity"], alert.row["TimeGenerated"],
                     now, self.run_id, alert.row["Severity"], alert.origin, _json(alert.as_dict()),
                     _json(alert.raw)))
                result.new.append(alert)
        return result

    def record_exclusions(self, excluded: list[tuple[Alert, Any]], now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.transaction() as db:
            for alert, entry in excluded:
                db.execute(
                    "INSERT OR IGNORE INTO exclusions (rule_id, event_key, reason, owner, excluded_at, origin,"
                    " row, raw) VALUES (?,?,?,?,?,?,?,?)",
                    (alert.rule_id, alert.key.split("|", 1)[1], entry.reason, entry.owner, now, alert.origin,
                     _json(alert.as_dict()), _json(alert.raw)))

    def save_related(self, events: list[dict], keep_s: float) -> None:
        """Remember related events (context for later runs); forget those older than `keep_s` before the
        newest one held, by event time, so replaying old logs ages out the same way as live ones."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO related_events (event_key, event_time, account, actor, subject, target, data)"
                " VALUES (?,?,?,?,?,?,?)",
                [(e["Key"], e["Time"], e["AccountId"], e["Actor"], e["Subject"], e["Target"], _json(e))
                 for e in events])
            newest = db.execute("SELECT max(event_time) FROM related_events").fetchone()[0]
            cutoff = _iso_minus(newest, keep_s)
            if cutoff:
                db.execute("DELETE FROM related_events WHERE event_time < ?", (cutoff,))

    def related_about(self, account: str, user: str, actor: str, start: str, end: str) -> list[dict]:
        """Related events about an IAM user (its own calls and calls on it) at any time up to `end`, and the
        actor's calls between `start` and `end`; ISO 8601 UTC bounds compare as text."""
        rows = self.db.execute(
            "SELECT data FROM related_events WHERE account=? AND (subject=? OR target=?) AND event_time<=? "
            "UNION SELECT data FROM related_events WHERE actor=? AND event_time>=? AND event_time<=?",
            (account, user, user, end, actor, start, end)).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def find_alerts(self, id_prefix: str, limit: int = 2) -> list[tuple[dict, dict]]:
        """Stored alerts (row, raw record) whose id starts with `id_prefix`: one when it is unambiguous."""
        rows = self.db.execute("SELECT row, raw FROM alerts WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT ?",
                               (_like_prefix(id_prefix), limit)).fetchall()
        return [(orjson.loads(row), orjson.loads(raw)) for row, raw in rows]

    def _mark_processed(self, db: sqlite3.Connection, marks: Iterable[ObjectMark], now: float) -> None:
        db.executemany("INSERT OR IGNORE INTO processed_objects (bucket, key, etag, processed_at, run_id)"
                       " VALUES (?,?,?,?,?)", ((m.bucket, m.key, m.etag, now, self.run_id) for m in marks))

    def is_processed(self, mark: ObjectMark) -> bool:
        return self.db.execute("SELECT 1 FROM processed_objects WHERE bucket=? AND key=? AND etag=?",
                               (mark.bucket, mark.key, mark.etag)).fetchone() is not None

    def count(self, table: str) -> int:
        assert table in ("alerts", "exclusions", "related_events", "processed_objects")
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def alert_from_stored(row: str, raw: str, rule_id: str, event_key: str, origin: str | None) -> Alert:
    """An Alert as an earlier run stored it (for the outbox, `alerts show`, `respond`)."""
    stored = orjson.loads(row)
    stored.pop("AlertId", None)
    return Alert(row=stored, raw=orjson.loads(raw), origin=origin or "", key=f"{rule_id}|{event_key}")


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _iso_minus(iso: str | None, seconds: float) -> str | None:
    when = parse_time(iso)
    return format_time(when - timedelta(seconds=seconds)) if when else None


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
