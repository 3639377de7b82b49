"""One contract, both state stores: every behaviour the pipeline, watch, the outbox, the lifecycle and
context rely on, run against SQLite (a file) and PostgreSQL (a real server the tests start: conftest's
postgres_cluster). `opener()` opens another connection to the same store, as another run (or another
worker, on another host) would."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from trailhound.engine.rules import load_rules
from trailhound.engine.rules.base import make_alert
from trailhound.errors import ConfigError
from trailhound.records.record import Record
from trailhound.state import lifecycle, outbox
from trailhound.state.open import open_state

from ..helpers import record

RULE = load_rules(["0xFF-0237"])[0]
HOUR = 3600.0
SRC = Path(__file__).resolve().parents[2] / "src"


def _alert(event_id: str, user: str = "alice"):
    return make_alert(RULE, Record(record(user=user, eventID=event_id)), ("TargetUserName",))


class Mark:
    def __init__(self, key: str, etag: str = "e1", bucket: str = "trail") -> None:
        self.bucket, self.key, self.etag = bucket, key, etag


def _related(key: str, time: str, name: str = "ConsoleLogin", actor: str = "ci-deploy", subject: str = "",
             target: str = "", outcome: str = "success") -> dict:
    return {"Key": key, "Time": time, "Source": "iam.amazonaws.com", "Name": name, "Outcome": outcome,
            "ErrorCode": "", "AccountId": "111122223333", "Actor": actor, "ActorArn": "", "ActorType": "IAMUser",
            "Subject": subject, "Target": target, "SourceIpAddress": "203.0.113.1", "UserAgent": "ua"}


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def opener(where):
    opened = []

    def open_(track_delivery: bool = False, read_only: bool = False):
        store = open_state(where, track_delivery=track_delivery, read_only=read_only)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        try:
            store.close()
        except Exception:  # noqa: BLE001 - closed by the test already
            pass


def _ids(alerts) -> list[str]:
    return [a.row["EventID"] for a in alerts]


# -- admission and dedup -----------------------------------------------------------------------------

def test_an_event_is_stored_once_whichever_run_admits_it(opener):
    first, second = opener(), opener()
    assert _ids(first.admit([_alert("e-1")], HOUR, now=1000.0).new) == ["e-1"]
    assert _ids(second.admit([_alert("e-1")], HOUR, now=1e9).duplicate_events) == ["e-1"]
    assert first.count("alerts") == second.count("alerts") == 1


def test_the_dedup_window_sees_the_alerts_of_every_run(opener):
    first, other = opener(), opener()
    first.admit([_alert("e-1")], HOUR, now=1000.0)
    assert _ids(other.admit([_alert("e-2")], HOUR, now=1000.0 + HOUR - 1).within_window) == ["e-2"]
    assert _ids(other.admit([_alert("e-3")], HOUR, now=1000.0 + HOUR + 1).new) == ["e-3"]
    assert _ids(other.admit([_alert("e-4", "bob")], HOUR, now=1000.0).new) == ["e-4"]


def test_runs_racing_on_the_same_events_store_each_once(where, opener):
    barrier, new, errors = threading.Barrier(4), [], []

    def admit():
        try:
            with open_state(where) as store:  # its own connection, in its thread (as SQLite wants)
                barrier.wait()
                new.extend(_ids(store.admit([_alert(f"e-{i}", f"user{i}") for i in range(20)], HOUR).new))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=admit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(new) == sorted(f"e-{i}" for i in range(20)) and opener().count("alerts") == 20


def test_objects_are_marked_processed_with_their_alerts(opener):
    store = opener()
    store.admit([_alert("e-1")], HOUR, processed=[Mark("a.json.gz")])
    assert opener().is_processed(Mark("a.json.gz")) and not store.is_processed(Mark("a.json.gz", etag="e2"))


def test_exclusions_are_recorded_once(opener):
    class Entry:
        reason, owner = "break-glass drill", "secops"

    store = opener()
    store.record_exclusions([(_alert("e-1"), Entry())])
    store.record_exclusions([(_alert("e-1"), Entry())])
    assert store.count("exclusions") == 1


# -- orphans: alerts stored and never printed --------------------------------------------------------

def test_a_live_runs_unprinted_alerts_are_left_to_it(opener):
    live, other = opener(track_delivery=True), opener(track_delivery=True)
    live.admit([_alert("e-1")], HOUR)
    assert other.take_orphans() == [] and live.pending() == 1


def test_a_finished_runs_unprinted_alerts_are_taken_once(opener):
    gone, taker, late = opener(track_delivery=True), opener(track_delivery=True), opener(track_delivery=True)
    gone.admit([_alert("e-1"), _alert("e-2", "bob")], HOUR)
    gone.close()
    assert sorted(_ids(taker.take_orphans())) == ["e-1", "e-2"]
    assert late.take_orphans() == []  # the taker is alive: they are its now
    taker.mark_emitted([_alert("e-1"), _alert("e-2", "bob")])
    assert late.pending() == 0


def test_a_killed_workers_alerts_and_claims_are_free_at_once(where, opener):
    """A real SIGKILL: the process stores an alert, claims an object and a delivery, and dies unprinted."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(SRC)!r}); sys.path.insert(0, {str(SRC.parent)!r})
        from trailhound.state.open import open_state
        from trailhound.state import outbox
        from tests.state.test_contract import _alert, Mark
        store = open_state({where!r}, track_delivery=True)
        store.sink_ids = ("jsonl:/x",)
        store.claim_objects([Mark("b.json.gz")])
        store.admit([_alert("e-9")], 3600.0)
        store.claim_objects([Mark("c.json.gz")])
        outbox.claim(store, "jsonl:/x")
        print("ready", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL and "ready" in done.stdout, done.stderr
    peer = opener(track_delivery=True)
    # The server (or the kernel, for SQLite's lock file) ends the dead session; allow it a moment.
    for _ in range(50):
        if peer.claim_objects([Mark("c.json.gz")]) == [True]:
            break
        time.sleep(0.1)
    assert peer.claim_objects([Mark("c.json.gz")]) == [True]
    assert _ids(peer.take_orphans()) == ["e-9"]
    assert _ids(outbox.claim(peer, "jsonl:/x")) == ["e-9"]


# -- object claims -----------------------------------------------------------------------------------

def test_an_object_is_claimed_by_one_live_run_at_a_time(opener):
    first, second = opener(track_delivery=True), opener(track_delivery=True)
    assert first.claim_objects([Mark("a"), Mark("b")]) == [True, True]
    assert second.claim_objects([Mark("a"), Mark("c")]) == [False, True]
    assert first.claim_objects([Mark("a")]) == [True]  # its own claim still holds


def test_claims_end_when_the_run_stores_its_objects(opener):
    first, second = opener(track_delivery=True), opener(track_delivery=True)
    first.claim_objects([Mark("a")])
    first.admit([], HOUR, processed=[Mark("a")])
    assert second.claim_objects([Mark("a")]) == [True] and second.is_processed(Mark("a"))


def test_a_claim_of_a_run_that_is_over_is_taken_over(opener):
    first, second = opener(track_delivery=True), opener(track_delivery=True)
    first.claim_objects([Mark("a")])
    first.new_run()  # the run that claimed it ended (watch: the next batch)
    assert second.claim_objects([Mark("a")]) == [True]


def test_released_claims_are_free(opener):
    first, second = opener(track_delivery=True), opener(track_delivery=True)
    first.claim_objects([Mark("a")])
    first.release_claims()
    assert second.claim_objects([Mark("a")]) == [True]


# -- the outbox --------------------------------------------------------------------------------------

def test_deliveries_are_claimed_by_one_run_at_a_time(opener):
    writer = opener(track_delivery=True)
    writer.sink_ids = ("webhook:a",)
    writer.admit([_alert(f"e-{i}", f"u{i}") for i in range(6)], HOUR)
    one, two = opener(track_delivery=True), opener(track_delivery=True)
    got_one = _ids(outbox.claim(one, "webhook:a", limit=4))
    got_two = _ids(outbox.claim(two, "webhook:a", limit=4))
    assert len(got_one) == 4 and len(got_two) == 2 and not set(got_one) & set(got_two)


def test_a_recorded_delivery_is_never_claimed_again_and_a_failed_one_is(opener):
    writer = opener(track_delivery=True)
    writer.sink_ids = ("webhook:a",)
    stored = writer.admit([_alert("e-1"), _alert("e-2", "bob")], HOUR).new
    run = opener(track_delivery=True)
    outbox.claim(run, "webhook:a")
    outbox.record(run, "webhook:a", {stored[0].id: None, stored[1].id: "HTTP 503"})
    assert outbox.backlog(run) == 1 and [p.last_error for p in outbox.pending(run)] == ["HTTP 503"]
    assert _ids(outbox.claim(opener(track_delivery=True), "webhook:a")) == ["e-2"]
    assert [d["status"] for d in outbox.for_alert(run, stored[0].id)] == ["delivered"]


def test_released_deliveries_are_free_for_another_run(opener):
    writer = opener(track_delivery=True)
    writer.sink_ids = ("webhook:a",)
    writer.admit([_alert("e-1")], HOUR)
    one, two = opener(track_delivery=True), opener(track_delivery=True)
    assert len(outbox.claim(one, "webhook:a")) == 1 and outbox.claim(two, "webhook:a") == []
    outbox.release(one, "webhook:a")
    assert len(outbox.claim(two, "webhook:a")) == 1


# -- the lifecycle -----------------------------------------------------------------------------------

def test_the_lifecycle_keeps_status_and_history_in_order(opener):
    store = opener()
    alert = store.admit([_alert("e-1")], HOUR).new[0]
    lifecycle.set_status(store, alert.id[:8], "acknowledged", note="on it", who="ana")
    lifecycle.set_status(store, alert.id, "closed", note="drill", who="ana")
    with store.transaction() as db:
        lifecycle.add_event(db, alert.id, "respond:disable", result="done", who="bot", at=1.0)
        lifecycle.add_event(db, alert.id, "respond:again", result="done", who="bot", at=1.0)
    reader = opener(read_only=True)
    assert [s.status for s in lifecycle.list_alerts(reader)] == ["closed"]
    assert lifecycle.list_alerts(reader, status="open") == []
    assert [e["action"] for e in lifecycle.events(reader, alert.id)] == [
        "respond:disable", "respond:again", "acknowledged", "closed"]
    assert lifecycle.find(reader, alert.id[:6]).id == alert.id


def test_an_unknown_alert_id_is_a_config_error_naming_the_store(opener):
    store = opener()
    with pytest.raises(ConfigError, match="no alert with id 'abcdef12'"):
        lifecycle.find(store, "abcdef12")


# -- context: related events -------------------------------------------------------------------------

def test_related_events_are_shared_and_queried_by_time_as_text(opener):
    store = opener()
    store.save_related([
        _related("k1", "2024-05-01T10:00:00Z", name="CreateUser", target="bob"),
        _related("k2", "2024-05-01T10:05:00Z", subject="bob"),
        _related("k3", "2024-05-01T09:00:00Z", name="ListUsers", actor="ci-deploy"),
    ])
    store.save_related([_related("k1", "2024-05-01T10:00:00Z", name="CreateUser", target="bob")])
    other = opener()
    keys = {e["Key"] for e in other.related_about("111122223333", "bob", "ci-deploy",
                                                 "2024-05-01T08:59:00Z", "2024-05-01T11:00:00Z")}
    assert keys == {"k1", "k2", "k3"}
    found = other.context_about("111122223333", "bob", "nobody", "2024-05-01T10:01:00Z",
                                "2024-05-01T11:00:00Z", ("2024-05-01T00:00:00Z", "2024-05-01T23:00:00Z"), 10)
    assert {e["Key"] for e in found} == {"k1", "k2"}  # the creation before, the sign-in after


def test_pruning_keeps_the_newest_window_by_event_time(opener):
    store = opener()
    store.save_related([_related("old", "2024-05-01T00:00:00Z"), _related("new", "2024-05-03T00:00:00Z")],
                       keep_s=86400)
    assert store.count("related_events") == 1


# -- PostgreSQL only ---------------------------------------------------------------------------------

def test_workers_starting_at_once_apply_each_migration_once(postgres_url):
    from trailhound.state.postgres import SCHEMA_VERSION, PostgresStore

    stores: list[PostgresStore] = []
    barrier = threading.Barrier(4)

    def start():
        barrier.wait()
        stores.append(PostgresStore(postgres_url))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stores) == 4
    rows = stores[0].query("SELECT version FROM schema_migrations")
    assert rows == [(SCHEMA_VERSION,)]
    for store in stores:
        store.close()


def test_an_unreachable_database_is_a_transient_state_error_without_the_password(postgres_cluster):
    from trailhound.errors import StateError

    url = f"postgresql://trailhound:s3cret@127.0.0.1:{postgres_cluster.port + 1 if postgres_cluster.port < 65535 else 1}/x"
    with pytest.raises(StateError) as caught:
        open_state(url)
    assert caught.value.transient and "s3cret" not in str(caught.value) and "***" in str(caught.value)


def test_an_empty_database_read_only_says_there_is_no_state(postgres_url):
    from trailhound.errors import StateError

    with pytest.raises(StateError, match="no trailhound state in this database"):
        open_state(postgres_url, read_only=True)
