"""`trailhound watch s3://...`: re-list the recent partitions on a schedule, read each new object once."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

import orjson

from ..helpers import jsonl, run_cli
from ..procs import Running
from ..s3helpers import bucket, delivery_key, hit, put_trail_file

A = "111122223333"


def _day(days_ago: int = 0) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%d")


def test_once_reads_the_lookback_partitions_and_a_rerun_only_new_objects(aws, tmp_path):
    bucket()
    put_trail_file("trail", delivery_key(A, "us-east-1", _day()), hit("today", _day()))
    put_trail_file("trail", delivery_key(A, "us-east-1", _day(5)), hit("old", _day(5)))
    state = str(tmp_path / "state.db")
    first = run_cli("watch", "s3://trail", "--state", state, "--once", "--lookback", "2h")
    assert first.returncode == 0, first.stderr
    assert [a["EventID"] for a in jsonl(first.stdout)] == ["today"]  # the old partition is never listed
    put_trail_file("trail", delivery_key(A, "us-east-1", _day(), stamp="2359"), hit("later", _day()))
    second = run_cli("watch", "s3://trail", "--state", state, "--once")
    assert [a["EventID"] for a in jsonl(second.stdout)] == ["later"]
    assert "objects=2 new=1" in second.stderr


def test_interval_polling_picks_up_new_objects_until_sigterm(aws, tmp_path):
    bucket()
    put_trail_file("trail", delivery_key(A, "eu-west-1", _day()), hit("first", _day()))
    watcher = Running("watch", "s3://trail", "--state", str(tmp_path / "state.db"), "--interval", "1s",
                      "--regions", "eu-west-1", "--log-format", "json")
    watcher.wait_for(watcher.stdout, lambda line: '"first"' in line)
    put_trail_file("trail", delivery_key(A, "eu-west-1", _day(), stamp="2359"), hit("second", _day()))
    put_trail_file("trail", delivery_key(A, "us-east-1", _day()), hit("other-region", _day()))
    watcher.wait_for(watcher.stdout, lambda line: '"second"' in line)
    watcher.proc.send_signal(signal.SIGTERM)
    assert watcher.finish() == 0
    assert [orjson.loads(line)["EventID"] for line in watcher.stdout] == ["first", "second"]
