"""The state store under faults: dead claimants, locks held by others, a store that cannot take the
'emitted' mark, read-only opening; each a StateError naming the file, never a bare OperationalError."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from trailhound.engine.rules import get_rule
from trailhound.engine.rules.base import make_alert
from trailhound.errors import StateError
from trailhound.records.record import Record
from trailhound.sinks.base import RetryPolicy
from trailhound.sinks.delivery import deliver
from trailhound.sinks.jsonl import JsonlSink
from trailhound.state import outbox
from trailhound.state.store import StateStore

from ..fsfaults import fill, tmpfs
from ..helpers import record, run_cli

SINK = "jsonl:/dev/null"


def _alerts(n: int):
    return [make_alert(get_rule("0xFF-0237"), Record(record(eventID=f"e-{i}", user=f"u{i}"), "t")) for i in range(n)]


def _stored(path: Path, n: int) -> list:
    with StateStore(path, track_delivery=True) as store:
        store.sink_ids = (SINK,)
        alerts = store.admit(_alerts(n), 0).new
        store.mark_emitted(alerts)
    return alerts


def test_a_killed_runs_claims_are_free_at_once(tmp_path):
    path = tmp_path / "s.db"
    _stored(path, 3)
    killer = ("import os, signal, sys; from trailhound.state.store import StateStore; from trailhound.state import outbox\n"
              f"s = StateStore(sys.argv[1], track_delivery=True); outbox.claim(s, {SINK!r})\n"
              "os.kill(os.getpid(), signal.SIGKILL)")
    subprocess.run([sys.executable, "-c", killer, str(path)], check=False)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM deliveries WHERE claimed_by IS NOT NULL").fetchone()[0] >= 1
    with StateStore(path, track_delivery=True) as store:
        assert len(outbox.claim(store, SINK)) == 3


def test_a_claim_covers_the_batch_being_sent_not_the_backlog(tmp_path):
    path = tmp_path / "s.db"
    _stored(path, 5)
    with StateStore(path, track_delivery=True) as store:
        assert len(outbox.claim(store, SINK, limit=2)) == 2
        claimed = store.db.execute("SELECT count(*) FROM deliveries WHERE claimed_by IS NOT NULL").fetchone()[0]
    assert claimed == 2


def test_a_lock_held_by_another_process_is_a_transient_state_error_naming_the_file(tmp_path):
    path = tmp_path / "s.db"
    store = StateStore(path, busy_timeout_s=0.2, track_delivery=True)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StateError) as caught:
            store.admit(_alerts(1), 0)
    finally:
        other.execute("ROLLBACK")
        store.close()
    assert caught.value.transient and str(path) in str(caught.value) and "lock" in str(caught.value)


def test_a_corrupt_state_file_exits_5_naming_it(tmp_path):
    path = tmp_path / "s.db"
    path.write_bytes(b"not sqlite at all" * 512)
    trail = tmp_path / "t.json"
    trail.write_text('{"Records": []}')
    result = run_cli("scan", str(trail), "--state", str(path))
    assert result.returncode == 5 and str(path) in result.stderr and "OperationalError" not in result.stderr


def test_a_mark_the_store_cannot_take_does_not_print_the_alerts_again(tmp_path):
    path = tmp_path / "s.db"
    store = StateStore(path, busy_timeout_s=0.2, track_delivery=True)
    alerts = store.admit(_alerts(3), 0).new
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the mark cannot be written now (as with a full disk)
    store.mark_emitted(alerts)  # printed: the run says so in its lock file
    other.execute("ROLLBACK")
    store.close()
    with StateStore(path, track_delivery=True) as later:
        assert later.take_orphans() == []
        assert later.pending() == 0


def test_read_only_commands_do_not_wait_for_a_writer(tmp_path):
    path = tmp_path / "s.db"
    _stored(path, 2)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE alerts SET status='closed'")
    try:
        started = time.monotonic()
        listed = subprocess.run([sys.executable, "-m", "trailhound", "alerts", "list", "--state", str(path)],
                                capture_output=True, text=True, timeout=20, env={**os.environ, "COLUMNS": "200"})
        assert listed.returncode == 0, listed.stderr
        assert time.monotonic() - started < 15 and listed.stdout.count("open") == 2
    finally:
        other.execute("ROLLBACK")


def test_read_only_media_opens_read_only(tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)]).returncode:
        pytest.skip("needs root and tmpfs to make read-only media")
    try:
        _stored(mount / "s.db", 2)
        assert subprocess.run(["mount", "-o", "remount,ro", str(mount)]).returncode == 0
        listed = run_cli("alerts", "list", "--state", str(mount / "s.db"))
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.count("open") == 2
    finally:
        subprocess.run(["umount", "-l", str(mount)])


def test_an_io_error_on_a_full_disk_is_a_transient_state_error(tmp_path):
    folder = tmp_path / "small"
    with tmpfs(folder, "4m") as mounted:
        if not mounted:
            pytest.skip("needs root and tmpfs to fill a disk")
        StateStore(folder / "s.db", track_delivery=True).close()  # closed cleanly: its -shm is gone
        fill(folder)
        with pytest.raises(StateError) as caught:  # SQLite says "disk I/O error" growing a new -shm
            StateStore(folder / "s.db", track_delivery=True)
    assert caught.value.transient and "disk is full" in str(caught.value) and "s.db" in str(caught.value)


def test_a_delivery_the_store_cannot_record_is_not_sent_again(tmp_path):
    path, out = tmp_path / "s.db", tmp_path / "out.jsonl"
    with StateStore(path, track_delivery=True) as store:
        store.sink_ids = (f"jsonl:{out}",)
        store.mark_emitted(store.admit(_alerts(3), 0).new)
    other = sqlite3.connect(path, isolation_level=None)

    class RefusedAfterSend(JsonlSink):  # the sink takes the batch, then the store cannot be written (as a full disk)
        batch_size = 2

        def send(self, alerts):
            results = super().send(alerts)
            if not out.with_suffix(".locked").exists():  # the first batch only
                out.with_suffix(".locked").touch()
                other.execute("BEGIN IMMEDIATE")
            return results

    sink = RefusedAfterSend(str(out), RetryPolicy())
    with StateStore(path, busy_timeout_s=0.2, track_delivery=True) as store, pytest.raises(StateError):
        deliver([], [sink], store)
    other.execute("ROLLBACK")
    with StateStore(path, track_delivery=True) as store:
        deliver([], [sink], store)
        assert outbox.backlog(store) == 0
    ids = [orjson.loads(line)["AlertId"] for line in out.read_text().splitlines()]
    assert len(ids) == 3 and len(set(ids)) == 3  # the batch the store could not record was not sent again
