"""watch retries the outbox's backlog on its own schedule, and waits out a state store it cannot write."""

from __future__ import annotations

import signal
import sqlite3

import pytest

from trailhound.state.store import StateStore

from ..fsfaults import fill, tmpfs
from ..helpers import run_cli
from ..procs import Running
from ..receivers import Receiver
from .test_watch_sqs import _one_notified_object, _queue


def test_watch_once_sends_the_backlog_though_no_new_alert_arrives(aws, tmp_path):
    url, _key, _etag, state = _one_notified_object(tmp_path)
    config = str(_fast_config(tmp_path))
    with Receiver(fail_first=10**6) as hook:  # down for the first run: its delivery stays pending
        sink = f"webhook:{hook.url()}"
        first = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once", "--sink", sink, "--config", config)
        assert first.returncode == 0, first.stderr
        assert hook.received == [] and _pending(state) == 1
        hook.fail_first = len(hook.requests)  # back up
        idle = run_cli("watch", "--sqs-queue-url", _queue("empty"), "--state", state, "--once", "--sink", sink,
                       "--config", config)
        assert idle.returncode == 0, idle.stderr
        assert len(hook.received) == 1 and _pending(state) == 0
    assert "delivery.backlog" in idle.stderr


def test_continuous_watch_retries_the_backlog_while_idle(aws, tmp_path):
    url, _key, _etag, state = _one_notified_object(tmp_path)
    with Receiver(fail_first=2, fail_status=503) as hook:  # the first attempt and its one retry fail
        sink = f"webhook:{hook.url()}"
        proc = Running("watch", "--sqs-queue-url", url, "--state", state, "--sink", sink,
                       "--config", str(_fast_config(tmp_path)))
        try:
            proc.wait_for(proc.stderr, lambda line: "delivery.backlog" in line and "pending=1" in line, 60)
            proc.wait_for(proc.stderr, lambda line: "delivery.backlog" in line and "pending=0" in line, 60)
        finally:
            proc.proc.send_signal(signal.SIGTERM)
            proc.finish()
        assert len(hook.received) == 1


def _pending(state: str) -> int:
    with sqlite3.connect(state) as db:
        return db.execute("SELECT count(*) FROM deliveries WHERE status='pending'").fetchone()[0]


def _fast_config(tmp_path):
    path = tmp_path / "delivery.toml"
    path.write_text("[delivery]\nretries = 1\nbackoff = 0.01\nmax_backoff = 0.05\ntimeout = 2\n")
    return path


def test_watch_started_on_a_full_disk_waits_for_space_instead_of_exiting(aws, tmp_path):
    folder = tmp_path / "small"
    with tmpfs(folder, "4m") as mounted:
        if not mounted:
            pytest.skip("needs root and tmpfs to fill a disk")
        url, _key, _etag, _ = _one_notified_object(tmp_path)
        state = folder / "state.db"
        StateStore(state, track_delivery=True).close()
        ballast = fill(folder)
        proc = Running("watch", "--sqs-queue-url", url, "--state", str(state), "--log-format", "json")
        try:
            proc.wait_for(proc.stderr, lambda line: '"event":"state.unavailable"' in line and "disk is full" in line)
            assert proc.proc.poll() is None, proc.stderr[-3:]
            ballast.unlink()
            proc.wait_for(proc.stdout, lambda line: '"EventID":"e-1"' in line, 60)
        finally:
            proc.proc.send_signal(signal.SIGTERM)
            code = proc.finish()
        assert code == 0
