"""The state store: one SQLite file remembering alerts, exclusions and (later) processed objects and deliveries.

WAL mode and a busy timeout let two runs share a file; every check-and-insert happens inside one
`BEGIN IMMEDIATE` transaction, so two runs racing on the same event still store (and emit) it once.

An alert is raised when it is stored. With `track_delivery`, it is stored as not yet emitted, and marked
emitted once written out; a run killed in between leaves it pending, and the next run (once the killed one
is known to be over, see runlock.py) emits it. So no alert is lost to a crash; one printed just before a
crash may be printed again, with the same AlertId.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from . import runlock
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
    emitted      INTEGER NOT NULL DEFAULT 1,
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
"""


@dataclass
class Admission:
    new: list[Alert]
    duplicate_events: list[Alert]  # this event already alerted in an earlier run
    within_window: list[Alert]  # same rule and DedupEntity raised by an earlier run inside the window


class StateStore:
    def __init__(self, path: str | Path, busy_timeout_s: float = 60.0, track_delivery: bool = False) -> None:
        self.path = Path(path)
        self.run_id = uuid.uuid4().hex
        self.track_delivery = track_delivery
        self._lock: runlock.RunLock | None = None
        try:
            _create_private(self.path)
            self.db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            with self.transaction():  # executescript() would commit on its own; keep it one transaction
                for statement in _statements(SCHEMA):
                    self.db.execute(statement)
                _add_emitted_column(self.db)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise ConfigError(f"{self.path}: cannot use as a state store ({exc})") from None
        if track_delivery:
            try:
                self._lock = runlock.RunLock(self.path, self.run_id)
            except OSError as exc:
                self.db.close()
                raise ConfigError(f"{self.path}: cannot lock beside the state store ({exc})") from None

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

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

    def admit(self, alerts: list[Alert], window_s: float, now: float | None = None) -> Admission:
        """Store the alerts that are new; say which were already raised (same event) or deduplicated."""
        now = time.time() if now is None else now
        result = Admission([], [], [])
        with self.transaction() as db:
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
                    " severity, origin, row, raw, emitted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (alert.id, alert.rule_id, event_key, alert.row["DedupEntity"], alert.row["TimeGenerated"],
                     now, self.run_id, alert.row["Severity"], alert.origin, _json(alert.as_dict()),
                     _json(alert.raw), 0 if self.track_delivery else 1))
                result.new.append(alert)
        return result

    def take_orphans(self) -> list[Alert]:
        """Alerts stored by runs that are over but never marked emitted: taken over by this run, to emit."""
        if not self.track_delivery:
            return []
        taken: list[Alert] = []
        with self.transaction() as db:
            runs = [r for (r,) in db.execute("SELECT DISTINCT run_id FROM alerts WHERE emitted=0 AND run_id<>?",
                                             (self.run_id,))]
            for run in runs:
                if runlock.is_alive(self.path, run):
                    continue  # still writing them out itself
                rows = db.execute("SELECT rule_id, event_key, origin, row, raw FROM alerts "
                                  "WHERE run_id=? AND emitted=0 ORDER BY event_time, event_key", (run,)).fetchall()
                taken.extend(_stored_alert(*row) for row in rows)
                db.execute("UPDATE alerts SET run_id=? WHERE run_id=? AND emitted=0", (self.run_id, run))
        runlock.sweep(self.path)
        return taken

    def mark_emitted(self, alerts: list[Alert]) -> None:
        if not self.track_delivery or not alerts:
            return
        with self.transaction() as db:
            db.executemany("UPDATE alerts SET emitted=1 WHERE id=?", [(a.id,) for a in alerts])

    def pending(self) -> int:
        return self.db.execute("SELECT count(*) FROM alerts WHERE emitted=0").fetchone()[0]

    def record_exclusions(self, excluded: list[tuple[Alert, Any]], now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.transaction() as db:
            for alert, entry in excluded:
                db.execute(
                    "INSERT OR IGNORE INTO exclusions (rule_id, event_key, reason, owner, excluded_at, origin,"
                    " row, raw) VALUES (?,?,?,?,?,?,?,?)",
                    (alert.rule_id, alert.key.split("|", 1)[1], entry.reason, entry.owner, now, alert.origin,
                     _json(alert.as_dict()), _json(alert.raw)))

    def count(self, table: str) -> int:
        assert table in ("alerts", "exclusions")
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _create_private(path: Path) -> None:
    """A new state file is readable by its owner only: it keeps whole records (addresses, ARNs, key ids)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _stored_alert(rule_id: str, event_key: str, origin: str | None, row: str, raw: str) -> Alert:
    shown = orjson.loads(row)
    shown.pop("AlertId", None)  # derived from the key again, the same id
    return Alert(row=shown, raw=orjson.loads(raw), origin=origin or "", key=f"{rule_id}|{event_key}")


def _add_emitted_column(db: sqlite3.Connection) -> None:
    """State files from before delivery tracking: their alerts count as emitted (they were printed)."""
    columns = {name for _, name, *_ in db.execute("PRAGMA table_info(alerts)")}
    if "emitted" not in columns:
        db.execute("ALTER TABLE alerts ADD COLUMN emitted INTEGER NOT NULL DEFAULT 1")
    db.execute("CREATE INDEX IF NOT EXISTS alerts_pending ON alerts (run_id) WHERE emitted = 0")


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
