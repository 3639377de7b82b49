"""The state interface: what the pipeline, watch, the outbox, the lifecycle, context and the report use of a
state store, with the SQL they share. Two stores implement it: SQLite (store.py, the embedded default: one
file, one host) and PostgreSQL (postgres.py: one database shared by any number of `watch` workers).

The SQL here is the dialect both speak (`?` placeholders, which the PostgreSQL store turns into `%s`;
`INSERT ... ON CONFLICT DO NOTHING`). What differs is behind a few methods: how a write transaction
excludes every other writer (SQLite: BEGIN IMMEDIATE; PostgreSQL: one transaction-level advisory lock), how
a run is known to be alive (SQLite: a lock file beside the state file; PostgreSQL: an advisory lock held by
the run's database session, which the server drops when the session's process dies), and how a JSON field
is read.

An alert is raised when it is stored. With `track_delivery`, it is stored as not yet emitted, and marked
emitted once written out; a run killed in between leaves it pending, and the next run (once the killed one
is known to be over) emits it. So no alert is lost to a crash; one printed just before a crash may be
printed again, with the same AlertId.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, cast

import orjson

from ..alerts.alert import Alert
from ..context.plugin import RelatedEvent
from ..errors import ConfigError
from ..records.record import format_time, parse_time


class ObjectMark(Protocol):
    """An object read whole (an S3 object: bucket, key and ETag, so a rewritten object is read again)."""

    # Read-only (properties): a frozen dataclass such as sources.s3.S3Object is one.
    @property
    def bucket(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def etag(self) -> str: ...


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What a write transaction hands its body: sqlite3.Connection is one, postgres.py's adapter another."""

    def execute(self, sql: str, parameters: Any = (), /) -> Any: ...
    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any: ...


@dataclass
class Admission:
    new: list[Alert]
    duplicate_events: list[Alert]  # this event already alerted in an earlier run
    within_window: list[Alert]  # same rule and DedupEntity raised by an earlier run inside the window


class State(ABC):
    """A state store. `path` names it in messages (a file, or a database URL without its password)."""

    path: Path | str
    run_id: str
    track_delivery: bool
    read_only: bool
    sink_ids: tuple[str, ...]  # sinks this run delivers to: `admit` queues their deliveries
    insertion_order: str = "rowid"  # the column that orders alert_events as written

    # -- what each store does its own way ----------------------------------------------------------------
    @abstractmethod
    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction that excludes every other writer for its length, so check-then-insert cannot
        race another run (on this host or another); an error in it is a StateError naming the store."""

    @abstractmethod
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """Rows of one read, outside any write transaction."""

    @abstractmethod
    def is_alive(self, run_id: str) -> bool:
        """Whether the run that wrote `run_id` is still running (anywhere): a dead run's claims are free."""

    @abstractmethod
    def new_run(self) -> None:
        """Begin another run on this connection (watch: each batch is one run, as each hourly run of the
        original rule was, so the dedup window applies between batches)."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def json_text(self, column: str, field: str) -> str:
        """SQL for the text of a top-level field of a JSON column."""

    def printed_by(self, run_id: str) -> list[str] | None:
        """Alert ids a finished run printed but could not mark (["*"]: all of them), or None."""
        return None

    def note_emitted(self, alert_ids: list[str]) -> bool:
        """Say, somewhere other than the alerts table, that these alerts were printed; False: nowhere."""
        return False

    def note_delivered(self, sink_id: str, alert_ids: list[str]) -> bool:
        """Say, somewhere other than the outbox, that a sink accepted these alerts (the outbox could not take
        it: a full disk); False: nowhere, and a later run may send them again."""
        return False

    def delivered_by(self, run_id: str) -> dict[str, set[str]]:
        """What a finished run noted its sinks accepted but could not record: sink id -> alert ids."""
        return {}

    def orphans_taken(self) -> None:
        """After take_orphans: tidy what dead runs left behind."""
        return None

    # -- shared ------------------------------------------------------------------------------------------
    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def admit(self, alerts: list[Alert], window_s: float, now: float | None = None,
              processed: Iterable[ObjectMark] = ()) -> Admission:
        """Store the alerts that are new; say which were already raised (same event) or deduplicated.

        `processed` (S3 objects read whole) is marked in the same transaction as the alerts, so a crash
        leaves either both or neither: an object is never marked done without its alerts. This run's claims
        on objects end with it.
        """
        now = time.time() if now is None else now
        result = Admission([], [], [])
        with self.transaction() as db:
            db.executemany("INSERT INTO processed_objects (bucket, key, etag, processed_at, run_id)"
                           " VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
                           [(m.bucket, m.key, m.etag, now, self.run_id) for m in processed])
            db.execute("DELETE FROM object_claims WHERE run_id=?", (self.run_id,))
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
                     now, self.run_id, alert.row["Severity"], alert.origin, to_json(alert.as_dict()),
                     to_json(alert.raw), 0 if self.track_delivery else 1))
                # Queued with the alert, in its transaction: a crash before the sinks are reached leaves the
                # deliveries pending for the next run, never an alert stored and silently never sent.
                queue_deliveries(db, [alert.id], self.sink_ids, now)
                result.new.append(alert)
        return result

    def claim_objects(self, marks: Iterable[ObjectMark], now: float | None = None) -> list[bool]:
        """Claim objects for this run, so that of several workers handed the same object (SQS delivers a
        notification more than once, and S3 may announce an object twice) one reads it at a time. Per mark:
        True when this run holds it now (it was free, already this run's, or held by a run that is over);
        False when a live run holds it (the caller leaves it; its message comes back later and finds it
        processed, or free again if that run died). The claims end when the run admits its objects."""
        now = time.time() if now is None else now
        out: list[bool] = []
        with self.transaction() as db:
            for mark in marks:
                key = (mark.bucket, mark.key, mark.etag)
                row = db.execute("SELECT run_id FROM object_claims WHERE bucket=? AND key=? AND etag=?",
                                 key).fetchone()
                if row is not None and row[0] != self.run_id and self.is_alive(row[0]):
                    out.append(False)
                    continue
                db.execute("INSERT INTO object_claims (bucket, key, etag, run_id, claimed_at) VALUES (?,?,?,?,?) "
                           "ON CONFLICT (bucket, key, etag) DO UPDATE SET run_id=excluded.run_id, "
                           "claimed_at=excluded.claimed_at", (*key, self.run_id, now))
                out.append(True)
        return out

    def release_claims(self) -> None:
        """Give back this run's object claims (a run that stops before storing its objects)."""
        with self.transaction() as db:
            db.execute("DELETE FROM object_claims WHERE run_id=?", (self.run_id,))

    def take_orphans(self) -> list[Alert]:
        """Alerts stored by runs that are over but never marked emitted: taken over by this run, to emit."""
        if not self.track_delivery:
            return []
        taken: list[Alert] = []
        with self.transaction() as db:
            runs = [r for (r,) in db.execute("SELECT DISTINCT run_id FROM alerts WHERE emitted=0 AND run_id<>?",
                                             (self.run_id,)).fetchall()]
            for run in runs:
                if self.is_alive(run):
                    continue  # still writing them out itself
                printed = self.printed_by(run)  # it printed them but could not mark them
                if printed == ["*"]:
                    db.execute("UPDATE alerts SET emitted=1 WHERE run_id=?", (run,))
                elif printed:
                    db.executemany("UPDATE alerts SET emitted=1 WHERE id=? AND run_id=?",
                                   [(alert_id, run) for alert_id in printed])
                rows = db.execute("SELECT row, raw, rule_id, event_key, origin FROM alerts "
                                  "WHERE run_id=? AND emitted=0 ORDER BY event_time, event_key", (run,)).fetchall()
                taken.extend(alert_from_stored(*row) for row in rows)
                db.execute("UPDATE alerts SET run_id=? WHERE run_id=? AND emitted=0", (self.run_id, run))
        self.orphans_taken()
        return taken

    def unmarked_runs(self) -> set[str]:
        """Runs with alerts not yet marked emitted, or still holding claims on deliveries: what they may have
        noted (printed, or delivered) must stay until the next run has read it."""
        return {r for (r,) in self.query("SELECT DISTINCT run_id FROM alerts WHERE emitted=0 UNION "
                                         "SELECT DISTINCT claimed_by FROM deliveries WHERE claimed_by IS NOT NULL")}

    def mark_emitted(self, alerts: list[Alert]) -> None:
        """Record that these alerts were written out. When the store cannot take the write, `note_emitted`
        may keep the fact elsewhere (SQLite: the run's lock file); only a crash between writing and marking
        prints an alert twice."""
        from ..errors import StateError

        if not self.track_delivery or not alerts:
            return
        try:
            with self.transaction() as db:
                db.executemany("UPDATE alerts SET emitted=1 WHERE id=?", [(a.id,) for a in alerts])
        except StateError:
            if not self.note_emitted([a.id for a in alerts]):
                raise

    def pending(self) -> int:
        return int(self.query("SELECT count(*) FROM alerts WHERE emitted=0")[0][0])

    def record_exclusions(self, excluded: list[tuple[Alert, Any]], now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.transaction() as db:
            for alert, entry in excluded:
                db.execute(
                    "INSERT INTO exclusions (rule_id, event_key, reason, owner, excluded_at, origin,"
                    " row, raw) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                    (alert.rule_id, alert.key.split("|", 1)[1], entry.reason, entry.owner, now, alert.origin,
                     to_json(alert.as_dict()), to_json(alert.raw)))

    def save_related(self, events: list[RelatedEvent], keep_s: float | None = None) -> None:
        """Remember related events (context for later runs and for this run's alerts), then prune if `keep_s`."""
        if events:
            with self.transaction() as db:
                db.executemany(
                    "INSERT INTO related_events (event_key, event_time, account, actor, subject, target, data)"
                    " VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                    [(e["Key"], e["Time"], e["AccountId"], e["Actor"], e["Subject"], e["Target"], to_json(e))
                     for e in events])
        if keep_s is not None:
            self.prune_related(keep_s)

    def prune_related(self, keep_s: float) -> None:
        """Forget related events older than `keep_s` before the newest one held, by event time, so replaying
        old logs ages out the same way as live ones."""
        with self.transaction() as db:
            newest = db.execute("SELECT max(event_time) FROM related_events").fetchone()[0]
            cutoff = iso_minus(newest, keep_s)
            if cutoff:
                db.execute("DELETE FROM related_events WHERE event_time < ?", (cutoff,))

    def related_about(self, account: str, user: str, actor: str, start: str, end: str) -> list[RelatedEvent]:
        """Related events about an IAM user (its own calls and calls on it) at any time up to `end`, and the
        actor's calls between `start` and `end`; ISO 8601 UTC bounds compare as text."""
        rows = self.query(
            "SELECT data FROM related_events WHERE account=? AND (subject=? OR target=?) AND event_time<=? "
            "UNION SELECT data FROM related_events WHERE actor=? AND event_time>=? AND event_time<=?",
            (account, user, user, end, actor, start, end))
        return [cast(RelatedEvent, orjson.loads(r[0])) for r in rows]  # written by save_related

    def context_about(self, account: str, user: str, actor: str, when: str, logins_until: str,
                      activity: tuple[str, str], activity_limit: int) -> list[RelatedEvent]:
        """Only the related events an alert's severity steps read, each query bounded: the user's successful
        creations up to `when`, its console sign-ins from `when` to `logins_until`, and the actor's first
        `activity_limit` calls in the `activity` window. An automation role with thousands of IAM calls, or a
        user with thousands of events, costs each alert a few index lookups, not a scan of them all."""
        name, outcome = self.json_text("data", "Name"), self.json_text("data", "Outcome")
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
            for (data,) in self.query(sql, args):
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
        found: list[str] = [row[0] for row in self.query("SELECT id FROM alerts WHERE id LIKE ? ORDER BY id LIMIT 2",
                                                         (key + "%",))]
        if not found:
            raise ConfigError(f"{self.path}: no alert with id {alert_id!r}")
        if len(found) > 1:
            raise ConfigError(f"{self.path}: alert id {alert_id!r} names more than one alert; give more of its digits")
        return found[0]

    def alert_record(self, alert_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The stored alert (row as raised, raw record) that `alert_id` names (see resolve_alert_id)."""
        row, raw = self.query("SELECT row, raw FROM alerts WHERE id=?", (self.resolve_alert_id(alert_id),))[0]
        return orjson.loads(row), orjson.loads(raw)

    def is_processed(self, mark: ObjectMark) -> bool:
        return bool(self.query("SELECT 1 FROM processed_objects WHERE bucket=? AND key=? AND etag=?",
                               (mark.bucket, mark.key, mark.etag)))

    def alert_history(self) -> list[tuple[dict[str, Any], float]]:
        """Every stored alert's row with the time it was raised: Sentinel's SecurityAlert for KQL rules."""
        return [(orjson.loads(row), float(raised))
                for row, raised in self.query("SELECT row, raised_at FROM alerts ORDER BY raised_at")]

    def count(self, table: str) -> int:
        assert table in ("alerts", "exclusions", "related_events", "processed_objects", "deliveries")
        return int(self.query(f"SELECT count(*) FROM {table}")[0][0])


def queue_deliveries(db: Connection, alert_ids: Iterable[str], sink_ids: Iterable[str], now: float) -> None:
    """Queue each alert's delivery to each sink; one already queued is left as it is (pending or done)."""
    sinks = tuple(sink_ids)
    rows = [(alert_id, sink_id, now) for alert_id in alert_ids for sink_id in sinks]
    if rows:
        db.executemany("INSERT INTO deliveries (alert_id, sink_id, queued_at) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                       rows)


def alert_from_stored(row: str, raw: str, rule_id: str, event_key: str, origin: str | None) -> Alert:
    """An Alert as an earlier run stored it (for the outbox, `alerts show`, `respond`)."""
    stored = orjson.loads(row)
    stored.pop("AlertId", None)
    return Alert(row=stored, raw=orjson.loads(raw), origin=origin or "", key=f"{rule_id}|{event_key}")


def to_json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def iso_minus(iso: str | None, seconds: float) -> str | None:
    when = parse_time(iso)
    return format_time(when - timedelta(seconds=seconds)) if when else None
