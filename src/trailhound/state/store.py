"""The state store: one SQLite file remembering alerts, exclusions, processed objects and (later) deliveries.

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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, cast

import orjson

from ..alerts.alert import Alert
from ..context.plugin import RelatedEvent
from ..errors import ConfigError, StateError
from ..records.record import format_time, parse_time
from . import runlock

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

    # Read-only (properties): a frozen dataclass such as sources.s3.S3Object is one.
    @property
    def bucket(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def etag(self) -> str: ...


@dataclass
class Admission:
    new: list[Alert]
    duplicate_events: list[Alert]  # this event already alerted in an earlier run
    within_window: list[Alert]  # same rule and DedupEntity raised by an earlier run inside the window


class StateStore:
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

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
                    " severity, origin, row, raw, emitted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (alert.id, alert.rule_id, event_key, alert.row["DedupEntity"], alert.row["TimeGenerated"],
                     now, self.run_id, alert.row["Severity"], alert.origin, _json(alert.as_dict()),
                     _json(alert.raw), 0 if self.track_delivery else 1))
                # Queued with the alert, in its transaction: a crash before the sinks are reached leaves the
                # deliveries pending for the next run, never an alert stored and silently never sent.
                queue_deliveries(db, [alert.id], self.sink_ids, now)
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
                printed = runlock.emitted_by(self.path, run)  # it printed them but could not mark them
                if printed == ["*"]:
                    db.execute("UPDATE alerts SET emitted=1 WHERE run_id=?", (run,))
                elif printed:
                    db.executemany("UPDATE alerts SET emitted=1 WHERE id=? AND run_id=?",
                                   [(alert_id, run) for alert_id in printed])
                rows = db.execute("SELECT row, raw, rule_id, event_key, origin FROM alerts "
                                  "WHERE run_id=? AND emitted=0 ORDER BY event_time, event_key", (run,)).fetchall()
                taken.extend(alert_from_stored(*row) for row in rows)
                db.execute("UPDATE alerts SET run_id=? WHERE run_id=? AND emitted=0", (self.run_id, run))
        runlock.sweep(self.path, keep=self._unmarked_runs())
        return taken

    def _unmarked_runs(self) -> set[str]:
        """Runs with alerts not yet marked emitted, or still holding claims on deliveries: their lock files
        (and what they say: printed, or delivered) must stay until the next run has read them."""
        return {r for (r,) in self.db.execute("SELECT DISTINCT run_id FROM alerts WHERE emitted=0 UNION "
                                              "SELECT DISTINCT claimed_by FROM deliveries WHERE claimed_by IS NOT NULL")}

    def mark_emitted(self, alerts: list[Alert]) -> None:
        """Record that these alerts were written out. When the store cannot take the write (a full disk, a
        lock held too long), the run's lock file says so instead: it was written when the run began, so
        overwriting it needs no new space, and the next run reads it and marks the alerts emitted rather
        than printing them again. Only a crash between writing and marking prints an alert twice."""
        if not self.track_delivery or not alerts:
            return
        try:
            with self.transaction() as db:
                db.executemany("UPDATE alerts SET emitted=1 WHERE id=?", [(a.id,) for a in alerts])
        except StateError:
            if self._lock is None or not self._lock.note_emitted([a.id for a in alerts]):
                raise

    def note_delivered(self, sink_id: str, alert_ids: list[str]) -> bool:
        """When the outbox cannot record that a sink accepted these alerts: say so in the run's lock file
        (no new space needed), so whoever next finds this run's claims marks them delivered, not resends
        them. False when there is no lock file or the note cannot be written."""
        return self._lock is not None and self._lock.note_delivered(sink_id, alert_ids)

    def pending(self) -> int:
        return cast(int, self.db.execute("SELECT count(*) FROM alerts WHERE emitted=0").fetchone()[0])

    def record_exclusions(self, excluded: list[tuple[Alert, Any]], now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.transaction() as db:
            for alert, entry in excluded:
                db.execute(
                    "INSERT OR IGNORE INTO exclusions (rule_id, event_key, reason, owner, excluded_at, origin,"
                    " row, raw) VALUES (?,?,?,?,?,?,?,?)",
                    (alert.rule_id, alert.key.split("|", 1)[1], entry.reason, entry.owner, now, alert.origin,
                     _json(alert.as_dict()), _json(alert.raw)))

    def save_related(self, events: list[RelatedEvent], keep_s: float | None = None) -> None:
        """Remember related events (context for later runs and for this run's alerts), then prune if `keep_s`."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO related_events (event_key, event_time, account, actor, subject, target, data)"
                " VALUES (?,?,?,?,?,?,?)",
                [(e["Key"], e["Time"], e["AccountId"], e["Actor"], e["Subject"], e["Target"], _json(e))
                 for e in events])
        if keep_s is not None:
            self.prune_related(keep_s)

    def prune_related(self, keep_s: float) -> None:
        """Forget related events older than `keep_s` before the newest one held, by event time, so replaying
        old logs ages out the same way as live ones."""
        with self.transaction() as db:
            newest = db.execute("SELECT max(event_time) FROM related_events").fetchone()[0]
            cutoff = _iso_minus(newest, keep_s)
            if cutoff:
                db.execute("DELETE FROM related_events WHERE event_time < ?", (cutoff,))

    def related_about(self, account: str, user: str, actor: str, start: str, end: str) -> list[RelatedEvent]:
        """Related events about an IAM user (its own calls and calls on it) at any time up to `end`, and the
        actor's calls between `start` and `end`; ISO 8601 UTC bounds compare as text."""
        rows = self.db.execute(
            "SELECT data FROM related_events WHERE account=? AND (subject=? OR target=?) AND event_time<=? "
            "UNION SELECT data FROM related_events WHERE actor=? AND event_time>=? AND event_time<=?",
            (account, user, user, end, actor, start, end)).fetchall()
        return [cast(RelatedEvent, orjson.loads(r[0])) for r in rows]  # written by save_related

    def context_about(self, account: str, user: str, actor: str, when: str, logins_until: str,
                      activity: tuple[str, str], activity_limit: int) -> list[RelatedEvent]:
        """Only the related events an alert's severity steps read, each query bounded: the user's successful
        creations up to `when`, its console sign-ins from `when` to `logins_until`, and the actor's first
        `activity_limit` calls in the `activity` window. An automation role with thousands of IAM calls, or a
        user with thousands of events, costs each alert a few index lookups, not a scan of them all."""
        name, outcome = "json_extract(data, '$.Name')", "json_extract(data, '$.Outcome')"
        queries = (
            (f"SELECT data FROM related_events WHERE account=? AND target=? AND event_time<=? "
             f"AND {name}='CreateUser' AND {outcome}='success' ORDER BY event_time DESC LIMIT 1",
             (account, user, when)),
            (f"SELECT data FROM related_events WHERE account=? AND subject=? AND event_time>=? AND event_time<=? "
             f"AND {name}='ConsoleLogin' ORDER BY event_time LIMIT ?",
             (account, user, when, logins_until, activity_limit)),
            ("SELECT data FROM related_events WHERE actor=? AND event_time>=? AND event_time<=? "
             "ORDER BY event_time, event_key LIMIT ?", (actor, *activity, activity_limit + 1)),
        )
        found: dict[str, RelatedEvent] = {}
        for sql, args in queries:
            for (data,) in self.db.execute(sql, args):
                event: RelatedEvent = orjson.loads(data)  # written by save_related
                found[event["Key"]] = event
        return list(found.values())

    def resolve_alert_id(self, alert_id: str, min_digits: int = 1) -> str:
        """The full id of the one stored alert that `alert_id` names: its id, or an unambiguous prefix of at
        least `min_digits` hex digits. A ConfigError naming the store says why not (the one finder of alerts
        by id: lifecycle, timeline and report go through it)."""
        key = alert_id.strip().lower()
        if len(key) < max(min_digits, 1) or not all(c in "0123456789abcdef" for c in key):
            raise ConfigError(f"{self.path}: no alert with id {alert_id!r}: give the 16-hex-digit id (or at least "
                              f"{max(min_digits, 1)} of its first digits) that `trailhound alerts list` shows")
        # Hex digits only, checked above: nothing in the key is a LIKE wildcard.
        found: list[str] = [row[0] for row in self.db.execute("SELECT id FROM alerts WHERE id LIKE ? ORDER BY id LIMIT 2",
                                                    (key + "%",))]
        if not found:
            raise ConfigError(f"{self.path}: no alert with id {alert_id!r}")
        if len(found) > 1:
            raise ConfigError(f"{self.path}: alert id {alert_id!r} names more than one alert; give more of its digits")
        return found[0]

    def alert_record(self, alert_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The stored alert (row as raised, raw record) that `alert_id` names (see resolve_alert_id)."""
        row, raw = self.db.execute("SELECT row, raw FROM alerts WHERE id=?",
                                   (self.resolve_alert_id(alert_id),)).fetchone()
        return orjson.loads(row), orjson.loads(raw)

    def _mark_processed(self, db: sqlite3.Connection, marks: Iterable[ObjectMark], now: float) -> None:
        db.executemany("INSERT OR IGNORE INTO processed_objects (bucket, key, etag, processed_at, run_id)"
                       " VALUES (?,?,?,?,?)", ((m.bucket, m.key, m.etag, now, self.run_id) for m in marks))

    def is_processed(self, mark: ObjectMark) -> bool:
        try:
            return self.db.execute("SELECT 1 FROM processed_objects WHERE bucket=? AND key=? AND etag=?",
                                   (mark.bucket, mark.key, mark.etag)).fetchone() is not None
        except sqlite3.Error as exc:
            raise state_error(self.path, exc) from None

    def count(self, table: str) -> int:
        assert table in ("alerts", "exclusions", "related_events", "processed_objects")
        return cast(int, self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


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


def queue_deliveries(db: sqlite3.Connection, alert_ids: Iterable[str], sink_ids: Iterable[str], now: float) -> None:
    """Queue each alert's delivery to each sink; one already queued is left as it is (pending or done)."""
    sinks = tuple(sink_ids)
    db.executemany("INSERT OR IGNORE INTO deliveries (alert_id, sink_id, queued_at) VALUES (?,?,?)",
                   [(alert_id, sink_id, now) for alert_id in alert_ids for sink_id in sinks])


def alert_from_stored(row: str, raw: str, rule_id: str, event_key: str, origin: str | None) -> Alert:
    """An Alert as an earlier run stored it (for the outbox, `alerts show`, `respond`)."""
    stored = orjson.loads(row)
    stored.pop("AlertId", None)
    return Alert(row=stored, raw=orjson.loads(raw), origin=origin or "", key=f"{rule_id}|{event_key}")


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


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _iso_minus(iso: str | None, seconds: float) -> str | None:
    when = parse_time(iso)
    return format_time(when - timedelta(seconds=seconds)) if when else None


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
