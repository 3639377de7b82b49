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
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

import orjson

from .alerts import Alert
from .errors import ConfigError

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

    def _mark_processed(self, db: sqlite3.Connection, marks: Iterable[ObjectMark], now: float) -> None:
        db.executemany("INSERT OR IGNORE INTO processed_objects (bucket, key, etag, processed_at, run_id)"
                       " VALUES (?,?,?,?,?)", ((m.bucket, m.key, m.etag, now, self.run_id) for m in marks))

    def is_processed(self, mark: ObjectMark) -> bool:
        return self.db.execute("SELECT 1 FROM processed_objects WHERE bucket=? AND key=? AND etag=?",
                               (mark.bucket, mark.key, mark.etag)).fetchone() is not None

    def count(self, table: str) -> int:
        assert table in ("alerts", "exclusions", "processed_objects")
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
