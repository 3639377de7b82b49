"""The SQLite state store: one file remembering alerts, exclusions, processed objects, deliveries, the
lifecycle and kept context events; the embedded default (base.State is the interface, postgres.py the store
several hosts share).

WAL mode and a busy timeout let two runs share a file; every check-and-insert happens inside one
`BEGIN IMMEDIATE` transaction, so two runs racing on the same event still store (and emit) it once. Which
runs are alive is told by lock files beside the state file (runlock.py).
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import StateError
from . import runlock
from .base import Admission, ObjectMark, State, alert_from_stored, queue_deliveries

__all__ = ["Admission", "ObjectMark", "StateStore", "alert_from_stored", "queue_deliveries", "state_error"]

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
CREATE TABLE IF NOT EXISTS object_claims (
    bucket     TEXT NOT NULL,
    key        TEXT NOT NULL,
    etag       TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    PRIMARY KEY (bucket, key, etag)
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


class StateStore(State):
    path: Path

    def __init__(self, path: str | Path, busy_timeout_s: float = 60.0, track_delivery: bool = False,
                 read_only: bool = False) -> None:
        self.path = Path(path)
        self.run_id = uuid.uuid4().hex
        self.track_delivery = track_delivery and not read_only
        self.read_only = read_only
        self.sink_ids: tuple[str, ...] = ()  # sinks this run delivers to: `admit` queues their deliveries
        self._lock: runlock.RunLock | None = None
        if read_only:
            self.db = _open_read_only(self.path)
            return
        try:
            if str(path) != ":memory:":
                _create_private(self.path)
            self.db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
            _set_wal(self.db, busy_timeout_s)
            self.db.execute("PRAGMA synchronous=NORMAL")
            with self.transaction():  # executescript() would commit on its own; keep it one transaction
                for statement in _statements(SCHEMA):
                    self.db.execute(statement)
                _add_emitted_column(self.db)
        except StateError:
            raise
        except (sqlite3.DatabaseError, OSError) as exc:
            raise state_error(self.path, exc, "open") from None
        if self.track_delivery:
            try:
                self._lock = runlock.RunLock(self.path, self.run_id)
            except OSError as exc:
                self.db.close()
                raise state_error(self.path, exc, "lock beside") from None

    def new_run(self) -> None:
        """Begin another run on this connection (watch: each batch is one run, as each hourly run of the
        original rule was, so the dedup window applies between batches). The run lock follows the id."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self.run_id = uuid.uuid4().hex
        if self.track_delivery:
            try:
                self._lock = runlock.RunLock(self.path, self.run_id)
            except OSError as exc:  # a full disk: no lock file; this run stores nothing until it has one
                raise state_error(self.path, exc, "lock beside") from None

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (IMMEDIATE), so check-then-insert cannot race another run. A
        SQLite or OS error in it is a StateError naming the file (and whether retrying may help)."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from None
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.in_transaction:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite rolled back on its own (a full disk can do that)
            if isinstance(exc, (sqlite3.Error, OSError)) and not isinstance(exc, StateError):
                raise state_error(self.path, exc) from None
            raise

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        try:
            return self.db.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from None

    def is_alive(self, run_id: str) -> bool:
        return runlock.is_alive(self.path, run_id)

    def json_text(self, column: str, field: str) -> str:
        return f"json_extract({column}, '$.{field}')"

    def printed_by(self, run_id: str) -> list[str] | None:
        return runlock.emitted_by(self.path, run_id)

    def note_emitted(self, alert_ids: list[str]) -> bool:
        """The run's lock file says it instead: it was written when the run began, so overwriting it needs no
        new space (a full disk), and the next run reads it and marks the alerts rather than print them again."""
        return self._lock is not None and self._lock.note_emitted(alert_ids)

    def note_delivered(self, sink_id: str, alert_ids: list[str]) -> bool:
        """The run's lock file says it (no new space needed), so whoever next finds this run's claims marks
        them delivered rather than resend them."""
        return self._lock is not None and self._lock.note_delivered(sink_id, alert_ids)

    def delivered_by(self, run_id: str) -> dict[str, set[str]]:
        return runlock.delivered_by(self.path, run_id)

    def orphans_taken(self) -> None:
        # Runs with unmarked alerts or claims keep their lock files (and what they say).
        runlock.sweep(self.path, keep=self.unmarked_runs())


_TRANSIENT = (("locked", "another process holds a write lock on it (a long transaction, or a tool like "
               "`sqlite3` left open); it is retried, or close that process"),
              ("busy", "another process is using it; it is retried, or close that process"),
              ("disk is full", "its disk is full; free space there (watch retries on its own)"),
              ("no space left", "its disk is full; free space there (watch retries on its own)"))
_PERMANENT = (("readonly", "the file or its folder is read-only: give this user write access, or read it with "
               "`trailhound alerts list`, which opens it read-only"),
              ("read-only", "the file or its folder is read-only: give this user write access"),
              ("malformed", "the file is corrupt: restore it from a backup, or move it aside to start a new one "
               "(alerts raised before are then raised again)"),
              ("not a database", "it is not a trailhound state file (or is corrupt): check the path"),
              ("unable to open", "the file or its folder cannot be opened: check the path and permissions"))


def state_error(path: Path, exc: BaseException, doing: str = "use") -> StateError:
    """A StateError naming the file, what went wrong and what to do; transient for locks and a full disk."""
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, OSError) and exc.errno == 28:
        lowered += " no space left"
    elif isinstance(exc, sqlite3.Error) and "disk i/o error" in lowered and _no_space(path):
        # SQLite reports a full disk as an I/O error where it grows its shared-memory file (opening a WAL
        # file) or its WAL: with no space left where the file lives, that is the full disk, and transient.
        lowered += " no space left"
    for needle, advice in _TRANSIENT:
        if needle in lowered:
            return StateError(f"{path}: cannot {doing} the state store now ({text}): {advice}", transient=True)
    for needle, advice in _PERMANENT:
        if needle in lowered:
            return StateError(f"{path}: cannot {doing} the state store ({text}): {advice}")
    return StateError(f"{path}: cannot {doing} the state store ({type(exc).__name__}: {text})")


def _no_space(path: Path) -> bool:
    """Less free space than SQLite needs to grow its files by a step (its shared memory grows by 32 KiB)."""
    try:
        stats = os.statvfs(path.parent if str(path.parent) else ".")
    except OSError:
        return False
    free = stats.f_bfree if os.geteuid() == 0 else stats.f_bavail
    return free * stats.f_frsize < 64 * 1024


def _open_read_only(path: Path) -> sqlite3.Connection:
    """For the read-only commands: never a write, so never a wait on another process's write lock (WAL
    readers do not block on writers), and a file on read-only media opens too (immutable: no -shm needed)."""
    if not path.is_file():
        raise StateError(f"{path}: no such state file")
    uri = path.resolve().as_uri()
    last: sqlite3.Error | None = None
    for mode in ("mode=ro", "immutable=1"):
        try:
            db = sqlite3.connect(f"{uri}?{mode}", uri=True, timeout=5.0, isolation_level=None)
            db.execute("SELECT count(*) FROM alerts").fetchone()
            return db
        except sqlite3.Error as exc:
            last = exc
    raise state_error(path, last or sqlite3.Error("cannot open"), "read")


def _set_wal(db: sqlite3.Connection, timeout_s: float) -> None:
    """Switch to WAL. Two runs creating the same new file at once can get "database is locked" here without
    SQLite's busy handler being consulted, so wait for the other run as the busy timeout would."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _create_private(path: Path) -> None:
    """A new state file is readable by its owner only: it keeps whole records (addresses, ARNs, key ids)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _add_emitted_column(db: sqlite3.Connection) -> None:
    """State files from before delivery tracking: their alerts count as emitted (they were printed)."""
    columns = {name for _, name, *_ in db.execute("PRAGMA table_info(alerts)")}
    if "emitted" not in columns:
        db.execute("ALTER TABLE alerts ADD COLUMN emitted INTEGER NOT NULL DEFAULT 1")
    db.execute("CREATE INDEX IF NOT EXISTS alerts_pending ON alerts (run_id) WHERE emitted = 0")


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
