"""The PostgreSQL state store: one database that any number of `watch` workers, on any number of hosts,
share through psycopg 3 (the `postgres` extra). It holds what the SQLite store holds, with the same
guarantees:

- every write transaction first takes one transaction-level advisory lock, so check-then-insert (an
  event's alert, the dedup window, a claim) excludes every other writer exactly as SQLite's BEGIN
  IMMEDIATE does; reads never wait. The lock is released at COMMIT or ROLLBACK, and by the server when the
  session dies, so a killed worker never leaves it held.
- a run is alive while its database session holds a session-level advisory lock keyed by its run id. The
  server drops the lock when the session ends, however the worker died: SIGKILL closes its socket at once;
  a host that vanishes is noticed by the TCP keepalives set on every session (about 25 s). So a dead
  worker's claims on objects and deliveries, and its unprinted alerts, are free for its peers.
- the schema is versioned migrations (`schema_migrations`), applied on first use under a session-level
  advisory lock, so two workers starting at once apply each migration once.

Text columns use the "C" collation: ISO 8601 times and ids then compare and sort byte by byte, as they do
in SQLite, whatever the database's default locale.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError, StateError
from .base import State

if TYPE_CHECKING:
    import psycopg

LOCK_SPACE = 0x7448  # 'tH': the (int, int) advisory-lock space trailhound's own locks live in
WRITE_LOCK = 1  # every write transaction
MIGRATION_LOCK = 2  # schema upgrades
URL_SCHEMES = ("postgresql://", "postgres://")

_TEXT = 'TEXT COLLATE "C"'
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, f"""
CREATE TABLE alerts (
    id           {_TEXT} PRIMARY KEY,
    rule_id      {_TEXT} NOT NULL,
    event_key    {_TEXT} NOT NULL,
    dedup_entity {_TEXT} NOT NULL,
    event_time   {_TEXT},
    raised_at    DOUBLE PRECISION NOT NULL,
    run_id       {_TEXT} NOT NULL,
    severity     {_TEXT} NOT NULL,
    status       {_TEXT} NOT NULL DEFAULT 'open',
    origin       {_TEXT},
    row          {_TEXT} NOT NULL,
    raw          {_TEXT} NOT NULL,
    emitted      INTEGER NOT NULL DEFAULT 1,
    UNIQUE (rule_id, event_key)
);
CREATE INDEX alerts_dedup ON alerts (rule_id, dedup_entity, raised_at);
CREATE INDEX alerts_pending ON alerts (run_id) WHERE emitted = 0;
CREATE TABLE exclusions (
    rule_id     {_TEXT} NOT NULL,
    event_key   {_TEXT} NOT NULL,
    reason      {_TEXT} NOT NULL,
    owner       {_TEXT},
    excluded_at DOUBLE PRECISION NOT NULL,
    origin      {_TEXT},
    row         {_TEXT} NOT NULL,
    raw         {_TEXT} NOT NULL,
    UNIQUE (rule_id, event_key)
);
CREATE TABLE deliveries (
    alert_id     {_TEXT} NOT NULL,
    sink_id      {_TEXT} NOT NULL,
    status       {_TEXT} NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   {_TEXT},
    queued_at    DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION,
    claimed_by   {_TEXT},
    claimed_at   DOUBLE PRECISION,
    PRIMARY KEY (alert_id, sink_id)
);
CREATE INDEX deliveries_pending ON deliveries (sink_id, status);
CREATE TABLE alert_events (
    seq      BIGSERIAL PRIMARY KEY,
    alert_id {_TEXT} NOT NULL,
    at       DOUBLE PRECISION NOT NULL,
    who      {_TEXT} NOT NULL,
    action   {_TEXT} NOT NULL,
    note     {_TEXT},
    result   {_TEXT}
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, at);
CREATE TABLE related_events (
    event_key  {_TEXT} PRIMARY KEY,
    event_time {_TEXT} NOT NULL,
    account    {_TEXT} NOT NULL,
    actor      {_TEXT} NOT NULL,
    subject    {_TEXT} NOT NULL,
    target     {_TEXT} NOT NULL,
    data       {_TEXT} NOT NULL
);
CREATE INDEX related_subject ON related_events (account, subject, event_time);
CREATE INDEX related_target ON related_events (account, target, event_time);
CREATE INDEX related_actor ON related_events (actor, event_time);
CREATE TABLE processed_objects (
    bucket       {_TEXT} NOT NULL,
    key          {_TEXT} NOT NULL,
    etag         {_TEXT} NOT NULL,
    processed_at DOUBLE PRECISION NOT NULL,
    run_id       {_TEXT} NOT NULL,
    PRIMARY KEY (bucket, key, etag)
);
CREATE TABLE object_claims (
    bucket     {_TEXT} NOT NULL,
    key        {_TEXT} NOT NULL,
    etag       {_TEXT} NOT NULL,
    run_id     {_TEXT} NOT NULL,
    claimed_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (bucket, key, etag)
);
"""),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

# Each session tells the server to probe its client: a worker whose host vanished is found dead (and its
# run lock freed) in about idle + interval * count seconds.
_SESSION = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}


def is_url(where: object) -> bool:
    return isinstance(where, str) and where.startswith(URL_SCHEMES)


def redacted(url: str) -> str:
    """The URL without its password, to name the store in messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def run_key(run_id: str) -> int:
    """The bigint advisory-lock key of a run (its id is 32 hex digits: the first 16, as a signed 64-bit)."""
    return int(run_id[:16], 16) - (1 << 63)


class _Connection:
    """The base.Connection a transaction hands its body: `?` placeholders become psycopg's `%s` (the SQL in
    base.py holds no literal `?` or `%`)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.conn.execute(_placeholders(sql), tuple(parameters))

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any:
        rows = [tuple(p) for p in parameters]
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(_placeholders(sql), rows)


class PostgresStore(State):
    insertion_order = "seq"

    def __init__(self, url: str, track_delivery: bool = False, read_only: bool = False,
                 connect_timeout_s: float = 10.0) -> None:
        try:
            import psycopg
        except ImportError:
            raise ConfigError(f"{redacted(url)}: a PostgreSQL state needs psycopg: "
                              "pip install 'trailhound[postgres]'") from None
        self._psycopg = psycopg
        self.url, self.path = url, redacted(url)
        self.run_id = uuid.uuid4().hex
        self.track_delivery = track_delivery and not read_only
        self.read_only = read_only
        self.sink_ids = ()
        self._held: int | None = None
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(connect_timeout_s)),
                                        application_name="trailhound")
        except psycopg.Error as exc:
            raise self.error(exc, "connect to") from None
        self.db = _Connection(self.conn)
        try:
            for name, value in _SESSION.items():
                self.conn.execute(f"SET {name} = {value}")
            if read_only:
                self.conn.execute("SET default_transaction_read_only = on")
                if self.schema_version() < 1:
                    raise StateError(f"{self.path}: no trailhound state in this database (write one with "
                                     f"`trailhound scan --state URL`)")
            else:
                migrate(self.conn)
            if self.track_delivery:
                self._hold(self.run_id)
        except psycopg.Error as exc:
            self.conn.close()
            raise self.error(exc, "open") from None
        except StateError:
            self.conn.close()
            raise

    def error(self, exc: BaseException, doing: str = "use") -> StateError:
        """A StateError naming the database; transient where waiting may help (the server unreachable or
        restarting, a lock held too long, a full disk)."""
        psycopg = self._psycopg
        text = " ".join(str(exc).split()) or type(exc).__name__
        transient = isinstance(exc, (psycopg.OperationalError, psycopg.errors.LockNotAvailable,
                                     psycopg.errors.DiskFull, psycopg.errors.SerializationFailure))
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            advice = ": give this database user the rights trailhound needs (docs/deploy.md)"
        elif isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            advice = ": the database or session is read-only"
        elif transient:
            advice = ": it is retried (watch backs off and goes on)"
        else:
            advice = ""
        now = " now" if transient else ""
        return StateError(f"{self.path}: cannot {doing} the state store{now} ({text}){advice}", transient=transient)

    def schema_version(self) -> int:
        return schema_version(self.conn)

    # -- runs ----------------------------------------------------------------------------------------------
    def _hold(self, run_id: str) -> None:
        self.conn.execute("SELECT pg_advisory_lock(%s)", (run_key(run_id),))
        self._held = run_key(run_id)

    def _let_go(self) -> None:
        if self._held is not None:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", (self._held,))
            self._held = None

    def is_alive(self, run_id: str) -> bool:
        if run_id == self.run_id:
            return True
        key = run_key(run_id)
        got = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if got is None or not got[0]:
            return True  # another session holds it: that run's worker is alive
        self.conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return False

    def new_run(self) -> None:
        try:
            self._let_go()
            self.run_id = uuid.uuid4().hex
            if self.track_delivery:
                self._hold(self.run_id)
        except self._psycopg.Error as exc:
            raise self.error(exc) from None

    def close(self) -> None:
        self.conn.close()  # ends the session: its run lock goes with it

    # -- SQL -------------------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[_Connection]:
        psycopg = self._psycopg
        try:
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_SPACE, WRITE_LOCK))
                yield self.db
        except psycopg.Error as exc:
            raise self.error(exc) from None

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        try:
            return self.conn.execute(_placeholders(sql), tuple(params)).fetchall()
        except self._psycopg.Error as exc:
            raise self.error(exc) from None

    def json_text(self, column: str, field: str) -> str:
        return f"(({column})::jsonb ->> '{field}')"


def schema_version(conn: psycopg.Connection[Any]) -> int:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply the migrations this database lacks, each in its own transaction, under a session advisory lock
    so that workers starting together wait for one another; the versions applied (none when up to date)."""
    applied: list[int] = []
    conn.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_SPACE, MIGRATION_LOCK))
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                     "applied_at DOUBLE PRECISION NOT NULL)")
        current = schema_version(conn)
        for version, script in MIGRATIONS:
            if version <= current:
                continue
            with conn.transaction():
                for statement in (s.strip() for s in script.split(";")):
                    if statement:
                        conn.execute(statement.encode())
                conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
                             (version, time.time()))
            applied.append(version)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_SPACE, MIGRATION_LOCK))
    return applied


def _placeholders(sql: str) -> str:
    return re.sub(r"\?", "%s", sql)
