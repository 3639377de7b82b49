"""`trailhound watch --sqs-queue-url` against moto's S3 and SQS: exactly-once alerts, at-least-once messages."""

from __future__ import annotations

import signal
import sqlite3
import time

import boto3
import orjson

from ..helpers import jsonl, run_cli
from ..notifications import TEST_EVENT, cloudtrail_notice, eventbridge, s3_event, sns
from ..procs import Running
from ..s3helpers import bucket, delivery_key, hit, put_trail_file

A = "111122223333"


def _queue(name: str = "trail-events", visibility: int = 30, dlq_after: int | None = None) -> str:
    sqs = boto3.client("sqs")
    attributes = {"VisibilityTimeout": str(visibility)}
    if dlq_after:
        dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = orjson.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": dlq_after}).decode()
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def _send(url: str, *bodies: dict | str) -> None:
    for body in bodies:
        boto3.client("sqs").send_message(QueueUrl=url, MessageBody=body if isinstance(body, str) else orjson.dumps(body).decode())


def _depth(url: str) -> tuple[int, int]:
    """(visible, in flight) messages on the queue."""
    a = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def _stored(state: str, table: str = "alerts") -> int:
    with sqlite3.connect(state) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _object(event_id: str, stamp: str = "1405") -> tuple[str, str]:
    key = put_trail_file("trail", delivery_key(A, "us-east-1", "2026-11-27", stamp=stamp), hit(event_id))
    etag = boto3.client("s3").head_object(Bucket="trail", Key=key)["ETag"].strip('"')
    return key, etag


def _one_notified_object(tmp_path, visibility: int = 30) -> tuple[str, str, str, str]:
    """A bucket holding one trail file (event e-1) announced once on a fresh queue: (queue url, key, etag, state)."""
    bucket()
    url = _queue(visibility=visibility)
    key, etag = _object("e-1")
    _send(url, s3_event("trail", key, etag=etag))
    return url, key, etag, str(tmp_path / "state.db")


def test_every_notification_shape_is_consumed_and_test_events_are_dropped(aws, tmp_path):
    bucket()
    url = _queue()
    keys = [_object(f"e-{n}", stamp=f"14{n}0") for n in range(5)]
    _send(url, s3_event("trail", keys[0][0], etag=keys[0][1]), sns(s3_event("trail", keys[1][0])),
          eventbridge("trail", keys[2][0], etag=keys[2][1]), sns(cloudtrail_notice("trail", keys[3][0])),
          cloudtrail_notice("trail", keys[4][0]), TEST_EVENT, sns(TEST_EVENT))
    state = str(tmp_path / "state.db")
    result = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once")
    assert result.returncode == 0, result.stderr
    assert sorted(a["EventID"] for a in jsonl(result.stdout)) == [f"e-{n}" for n in range(5)]
    assert _depth(url) == (0, 0) and _stored(state, "processed_objects") == 5
    assert result.stderr.count("message.ignored") == 2


def test_a_redelivered_notification_alerts_once(aws, tmp_path):
    bucket()
    url = _queue()
    key, etag = _object("e-1")
    state = str(tmp_path / "state.db")
    _send(url, s3_event("trail", key, etag=etag))
    first = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once")
    _send(url, s3_event("trail", key, etag=etag), eventbridge("trail", key, etag=etag))  # at-least-once delivery
    second = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once")
    assert [a["EventID"] for a in jsonl(first.stdout)] == ["e-1"] and jsonl(second.stdout) == []
    assert second.returncode == 0 and "already_processed=1" in second.stderr
    assert _depth(url) == (0, 0) and _stored(state) == 1


def test_poison_messages_are_reported_and_left_to_the_redrive_policy(aws, tmp_path):
    bucket()
    url = _queue(visibility=1, dlq_after=1)
    key, etag = _object("e-1")
    _send(url, "this is not a notification", s3_event("trail", "AWSLogs/gone.json.gz", etag="abc"),
          s3_event("trail", key, etag=etag))
    state = str(tmp_path / "state.db")
    first = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once")
    assert first.returncode == 1
    assert [a["EventID"] for a in jsonl(first.stdout)] == ["e-1"]
    left = [line for line in first.stderr.splitlines() if "message.left_for_redrive" in line]
    assert len(left) == 2 and any("not JSON" in line for line in left)
    assert any("s3://trail/AWSLogs/gone.json.gz" in line and "NoSuchKey" in line for line in left), left
    time.sleep(1.5)  # past the visibility timeout: the next receive moves both to the dead-letter queue
    second = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once")
    assert second.returncode == 0 and jsonl(second.stdout) == []
    dlq = boto3.client("sqs").get_queue_url(QueueName="trail-events-dlq")["QueueUrl"]
    assert _depth(dlq)[0] == 2 and _depth(url) == (0, 0)


def test_a_crash_between_storing_and_deleting_duplicates_nothing(aws, tmp_path):
    url, key, etag, state = _one_notified_object(tmp_path, visibility=1)
    crashed = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once",
                      env={"TRAILHOUND_TEST_CRASH_AT": "after-store"})
    assert crashed.returncode == 70 and _stored(state) == 1 and sum(_depth(url)) == 1
    time.sleep(1.5)
    restarted = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once")
    # The crash came after storing and before printing: the restart prints the stored alert (once), and
    # the redelivered message finds its object processed, so nothing is stored twice.
    assert restarted.returncode == 0 and [a["EventID"] for a in jsonl(restarted.stdout)] == ["e-1"]
    assert _stored(state) == 1 and _depth(url) == (0, 0)
    again = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once")
    assert again.returncode == 0 and jsonl(again.stdout) == []


def test_a_crash_before_storing_loses_nothing(aws, tmp_path):
    url, key, etag, state = _one_notified_object(tmp_path, visibility=1)
    crashed = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once",
                      env={"TRAILHOUND_TEST_CRASH_AT": "before-store"})
    assert crashed.returncode == 70 and _stored(state) == 0 and _stored(state, "processed_objects") == 0
    time.sleep(1.5)
    restarted = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once")
    assert [a["EventID"] for a in jsonl(restarted.stdout)] == ["e-1"] and _depth(url) == (0, 0)


def test_sigterm_finishes_the_object_it_is_reading_and_exits_0_keeping_the_message_hidden_meanwhile(aws, tmp_path):
    url, key, etag, state = _one_notified_object(tmp_path, visibility=30)
    watcher = Running("watch", "--sqs-queue-url", url, "--state", state, "--visibility-timeout", "2",
                      "--log-format", "json", env={"TRAILHOUND_TEST_SLOW_INPUT_S": "4"})
    watcher.wait_for(watcher.stderr, lambda line: '"event":"object.started"' in line)
    time.sleep(2.5)  # past the 2 s visibility timeout: only the heartbeat keeps it hidden
    peek = boto3.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=0, VisibilityTimeout=0)
    assert peek.get("Messages", []) == []
    watcher.proc.send_signal(signal.SIGTERM)
    assert watcher.finish() == 0
    assert [a["EventID"] for a in map(orjson.loads, watcher.stdout)] == ["e-1"]
    logs = [orjson.loads(line) for line in watcher.stderr]  # every log line is one JSON object
    assert {"watch.started", "watch.stop_requested", "batch.stored", "messages.deleted", "watch.stopped"} <= {
        line["event"] for line in logs}
    assert _depth(url) == (0, 0) and _stored(state) == 1


def test_sigint_while_waiting_on_the_queue_exits_0_at_once(aws, tmp_path):
    url = _queue()
    watcher = Running("watch", "--sqs-queue-url", url, "--state", str(tmp_path / "state.db"))
    watcher.wait_for(watcher.stderr, lambda line: "watch.started" in line)
    time.sleep(0.5)  # inside the 20 s long poll
    started = time.monotonic()
    watcher.proc.send_signal(signal.SIGINT)
    assert watcher.finish(timeout=15) == 0 and time.monotonic() - started < 10


def test_watch_needs_state_and_one_source(aws, tmp_path):
    url = _queue()
    no_state = run_cli("watch", "--sqs-queue-url", url, "--once")
    assert no_state.returncode == 2 and "--state" in no_state.stderr
    both = run_cli("watch", "s3://trail", "--sqs-queue-url", url, "--state", str(tmp_path / "s.db"))
    assert both.returncode == 2 and "either" in both.stderr
    missing = run_cli("watch", "--sqs-queue-url", url + "-nope", "--state", str(tmp_path / "s.db"), "--once")
    assert missing.returncode == 2 and "trail-events-nope" in missing.stderr


def test_watch_ranks_and_delivers_like_scan(aws, tmp_path):
    # The same engine as scan: context reasons on every alert, and each alert delivered once to each sink.
    url, key, etag, state = _one_notified_object(tmp_path)
    out = tmp_path / "delivered.jsonl"
    result = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once", "--sink", f"jsonl:{out}")
    assert result.returncode == 0, result.stderr
    (alert,) = jsonl(result.stdout)
    assert alert["Reasons"] and alert["Reasons"][0].endswith("baseline") and "Severity" in alert
    assert [a["EventID"] for a in jsonl(out.read_text())] == ["e-1"]
    _send(url, s3_event("trail", key, etag=etag))
    run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once", "--sink", f"jsonl:{out}")
    assert [a["EventID"] for a in jsonl(out.read_text())] == ["e-1"]
