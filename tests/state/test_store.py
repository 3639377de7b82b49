"""StateStore on its own: admission, orphans, finding alerts by id, delivery queueing, related events."""

from __future__ import annotations

import os

import pytest

from trailhound.engine.rules import load_rules
from trailhound.engine.rules.base import make_alert
from trailhound.errors import ConfigError
from trailhound.records.record import Record
from trailhound.state import runlock
from trailhound.state.store import StateStore, queue_deliveries

from ..helpers import record

RULE = load_rules(["0xFF-0237"])[0]
HOUR = 3600.0


def _alert(event_id: str, user: str = "alice"):
    """An alert of the real rule; its DedupEntity is the target user, so two events can share one."""
    return make_alert(RULE, Record(record(user=user, eventID=event_id)), ("TargetUserName",))


def _related(key: str, time: str, name: str = "ConsoleLogin", actor: str = "ci-deploy", subject: str = "",
             target: str = "", outcome: str = "success") -> dict:
    return {"Key": key, "Time": time, "Source": "iam.amazonaws.com", "Name": name, "Outcome": outcome,
            "ErrorCode": "", "AccountId": "111122223333", "Actor": actor, "ActorArn": "", "ActorType": "IAMUser",
            "Subject": subject, "Target": target, "SourceIpAddress": "203.0.113.1", "UserAgent": "ua"}


@pytest.fixture
def store(tmp_path):
    with StateStore(tmp_path / "state.db") as opened:
        yield opened


# -- admit -------------------------------------------------------------------------------------------

def test_admit_stores_a_new_alert(store):
    admission = store.admit([_alert("e-1")], window_s=HOUR, now=1000.0)
    assert [a.row["EventID"] for a in admission.new] == ["e-1"] and store.count("alerts") == 1
    assert admission.duplicate_events == admission.within_window == []


def test_admit_knows_an_event_already_alerted_by_any_run(tmp_path, store):
    store.admit([_alert("e-1")], window_s=HOUR, now=1000.0)
    assert [a.row["EventID"] for a in store.admit([_alert("e-1")], HOUR, now=1001.0).duplicate_events] == ["e-1"]
    with StateStore(tmp_path / "state.db") as later:
        assert len(later.admit([_alert("e-1")], HOUR, now=1e9).duplicate_events) == 1  # whatever the window
    assert store.count("alerts") == 1


def test_admit_holds_back_another_event_of_the_same_entity_from_another_run_within_the_window(tmp_path, store):
    store.admit([_alert("e-1")], window_s=HOUR, now=1000.0)
    with StateStore(tmp_path / "state.db") as other:
        within = other.admit([_alert("e-2")], HOUR, now=1000.0 + HOUR - 1)
        assert [a.row["EventID"] for a in within.within_window] == ["e-2"] and within.new == []
        assert [a.row["EventID"] for a in other.admit([_alert("e-3")], HOUR, now=1000.0 + HOUR + 1).new] == ["e-3"]
        assert [a.row["EventID"] for a in other.admit([_alert("e-4", "bob")], HOUR, now=1000.0).new] == ["e-4"]


def test_admit_lets_the_same_run_store_several_events_of_one_entity(store):
    assert len(store.admit([_alert("e-1"), _alert("e-2")], window_s=HOUR, now=1000.0).new) == 2


def test_admit_marks_processed_objects_with_the_alerts(store):
    class Mark:
        bucket, key, etag = "b", "k", "etag-1"

    store.admit([], window_s=HOUR, processed=[Mark()])
    assert store.is_processed(Mark()) and store.count("processed_objects") == 1


# -- orphans -----------------------------------------------------------------------------------------

def test_take_orphans_leaves_the_alerts_of_a_live_run(tmp_path):
    with StateStore(tmp_path / "state.db", track_delivery=True) as live:
        live.admit([_alert("e-1")], window_s=HOUR)
        with StateStore(tmp_path / "state.db", track_delivery=True) as other:
            assert other.take_orphans() == []
        assert live.pending() == 1


def test_take_orphans_takes_over_the_unemitted_alerts_of_a_dead_run(tmp_path):
    dead = StateStore(tmp_path / "state.db", track_delivery=True)
    dead.admit([_alert("e-1"), _alert("e-2", "bob")], window_s=HOUR)
    dead.mark_emitted(dead.admit([_alert("e-3", "carol")], window_s=HOUR).new)
    run_id = dead.run_id
    dead.close()
    lock = runlock._folder(tmp_path / "state.db") / f"{run_id}.lock"
    lock.touch()  # what a killed run leaves: its lock file, no longer locked
    with StateStore(tmp_path / "state.db", track_delivery=True) as heir:
        taken = heir.take_orphans()
        assert sorted(a.row["EventID"] for a in taken) == ["e-1", "e-2"]
        assert heir.take_orphans() == []  # now its own: taken once
        assert not lock.exists()  # swept


def test_take_orphans_is_nothing_without_delivery_tracking(tmp_path):
    with StateStore(tmp_path / "state.db", track_delivery=True) as dead:
        dead.admit([_alert("e-1")], window_s=HOUR)
    with StateStore(tmp_path / "state.db") as untracked:
        assert untracked.take_orphans() == []


# -- alerts by id --------------------------------------------------------------------------------------

def test_resolve_alert_id_takes_the_id_or_an_unambiguous_prefix(store):
    (alert,) = store.admit([_alert("e-1")], window_s=HOUR).new
    assert store.resolve_alert_id(alert.id) == alert.id
    assert store.resolve_alert_id(" " + alert.id[:4].upper() + " ") == alert.id


def test_resolve_alert_id_refuses_short_non_hex_unknown_and_ambiguous_ids(store):
    ids = [a.id for a in store.admit([_alert(f"e-{i}", f"u{i}") for i in range(40)], window_s=HOUR).new]
    shared = next(a[:1] for a in ids if sum(b.startswith(a[:1]) for b in ids) > 1)
    for given, says in ((ids[0][:3], "no alert with id"), ("zz", "no alert with id"), ("%", "no alert with id"),
                        ("0" * 16 if "0" * 16 not in ids else "f" * 16, "no alert with id"),
                        (shared, "names more than one alert")):
        with pytest.raises(ConfigError, match=says):
            store.resolve_alert_id(given, min_digits=4 if given == ids[0][:3] else 1)


def test_alert_record_is_the_row_and_raw_record_as_stored(store):
    (alert,) = store.admit([_alert("e-1")], window_s=HOUR).new
    row, raw = store.alert_record(alert.id[:6])
    assert row["EventID"] == "e-1" and row["AlertId"] == alert.id and raw == alert.raw


# -- deliveries ---------------------------------------------------------------------------------------

def test_admit_queues_each_new_alert_for_each_sink(store):
    store.sink_ids = ("webhook:a", "sns:b")
    (alert,) = store.admit([_alert("e-1")], window_s=HOUR).new
    rows = store.db.execute("SELECT alert_id, sink_id, status FROM deliveries ORDER BY sink_id").fetchall()
    assert rows == [(alert.id, "sns:b", "pending"), (alert.id, "webhook:a", "pending")]


def test_queue_deliveries_leaves_a_queued_delivery_as_it_is(store):
    queue_deliveries(store.db, ["a1"], ["s1"], now=1.0)
    store.db.execute("UPDATE deliveries SET status='done' WHERE alert_id='a1'")
    queue_deliveries(store.db, ["a1", "a2"], iter(["s1"]), now=2.0)  # sink ids may be any iterable, read once
    rows = store.db.execute("SELECT alert_id, status, queued_at FROM deliveries ORDER BY alert_id").fetchall()
    assert rows == [("a1", "done", 1.0), ("a2", "pending", 2.0)]


# -- related events -------------------------------------------------------------------------------------

def test_save_related_keeps_one_copy_per_event_and_prunes_by_the_newest_event_time(store):
    store.save_related([_related("old", "2026-11-01T00:00:00Z"), _related("mid", "2026-11-20T00:00:00Z")])
    store.save_related([_related("mid", "2026-11-20T00:00:00Z"), _related("new", "2026-11-27T00:00:00Z")],
                       keep_s=10 * 86400)
    keys = {k for (k,) in store.db.execute("SELECT event_key FROM related_events")}
    assert keys == {"mid", "new"}  # "old" is 26 days before the newest; "mid" 7


def test_related_about_is_the_users_events_up_to_the_end_and_the_actors_in_the_window(store):
    store.save_related([
        _related("created", "2026-11-01T00:00:00Z", "CreateUser", actor="admin", target="alice"),
        _related("own", "2026-11-27T13:00:00Z", "ConsoleLogin", actor="alice", subject="alice"),
        _related("after-end", "2026-11-27T20:00:00Z", "ConsoleLogin", actor="alice", subject="alice"),
        _related("actor-in", "2026-11-27T13:30:00Z", "ListUsers", actor="ci-deploy"),
        _related("actor-before", "2026-11-27T10:00:00Z", "ListUsers", actor="ci-deploy"),
        _related("other-account", "2026-11-27T13:00:00Z", "ConsoleLogin", actor="alice", subject="alice")
        | {"AccountId": "999999999999"},
    ])
    found = store.related_about("111122223333", "alice", "ci-deploy", "2026-11-27T13:00:00Z", "2026-11-27T15:00:00Z")
    assert sorted(e["Key"] for e in found) == ["actor-in", "created", "own"]


def test_context_about_reads_the_latest_creation_the_bounded_logins_and_the_actors_first_calls(store):
    when = "2026-11-27T14:00:00Z"
    store.save_related([
        _related("create-1", "2026-11-01T00:00:00Z", "CreateUser", actor="admin", target="alice"),
        _related("create-2", "2026-11-20T00:00:00Z", "CreateUser", actor="admin", target="alice"),
        _related("create-failed", "2026-11-25T00:00:00Z", "CreateUser", actor="admin", target="alice",
                 outcome="failure"),
        _related("create-later", "2026-11-28T00:00:00Z", "CreateUser", actor="admin", target="alice"),
        *[_related(f"login-{i}", f"2026-11-27T{15 + i}:00:00Z", actor="alice", subject="alice") for i in range(3)],
        _related("login-before", "2026-11-27T13:00:00Z", actor="alice", subject="alice"),
        _related("login-past", "2026-11-28T03:00:00Z", actor="alice", subject="alice"),
        *[_related(f"call-{i}", f"2026-11-27T13:{10 + i}:00Z", "ListUsers", actor="ci-deploy") for i in range(4)],
    ])
    found = store.context_about("111122223333", "alice", "ci-deploy", when, "2026-11-28T02:00:00Z",
                                ("2026-11-27T13:00:00Z", "2026-11-27T15:00:00Z"), activity_limit=2)
    assert sorted(e["Key"] for e in found) == ["call-0", "call-1", "call-2", "create-2", "login-0", "login-1"]


def test_a_state_file_that_is_not_sqlite_is_one_config_error_naming_it(tmp_path):
    bad = tmp_path / "state.db"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(ConfigError, match="state.db: cannot open the state store .*not a trailhound state file"):
        StateStore(bad)
    assert os.path.getsize(bad) == 1400  # left as it was
