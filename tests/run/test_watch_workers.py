"""Several `watch` workers on one SQS queue sharing one PostgreSQL state: every notification sent twice,
workers SIGKILLed at random and restarted, and still every alert is stored once, printed once (a reprint is
only ever a worker killed between printing and marking, counted) and delivered to the shared sink."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import orjson

from trailhound.state.open import open_state

from ..helpers import jsonl
from ..notifications import s3_event
from ..s3helpers import bucket, delivery_key, hit, put_trail_file

A = "111122223333"
WORKERS = 3
OBJECTS = 30
CHAOS_S = 20.0


def _start(url: str, state: str, sink: Path, out: Path) -> subprocess.Popen:
    with open(out, "w") as stdout, open(out.with_suffix(".log"), "w") as stderr:
        return subprocess.Popen([sys.executable, "-m", "trailhound", "watch", "--sqs-queue-url", url, "--state", state,
                                 "--format", "jsonl", "--sink", f"jsonl:{sink}", "--visibility-timeout", "5",
                                 "--no-context"], stdout=stdout, stderr=stderr, env=os.environ.copy())


def _depth(url: str) -> int:
    a = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in a["Attributes"].values())


def test_workers_on_one_queue_and_one_postgresql_state_alert_exactly_once_through_sigkills(aws, postgres_url,
                                                                                            tmp_path):
    bucket()
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="org-trail", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    expected: set[str] = set()
    for n in range(OBJECTS):
        events = [f"e-{n}-{i}" for i in range(1 + n % 2)]  # 45 alerts over 30 objects
        key = put_trail_file("trail", delivery_key(A, "us-east-1", "2026-11-27", stamp=f"{n:04d}"),
                             *(hit(e, user=f"user-{e}") for e in events))
        etag = boto3.client("s3").head_object(Bucket="trail", Key=key)["ETag"].strip('"')
        expected.update(events)
        for _ in range(2):  # as S3 and SQS's at-least-once delivery do
            sqs.send_message(QueueUrl=url, MessageBody=orjson.dumps(s3_event("trail", key, etag=etag)).decode())
    sink, outputs = tmp_path / "sink.jsonl", []

    def start(slot: int) -> subprocess.Popen:
        out = tmp_path / f"worker{slot}-{len(outputs)}.jsonl"
        outputs.append(out)
        return _start(url, postgres_url, sink, out)

    workers = [start(slot) for slot in range(WORKERS)]
    rng, kills = random.Random(17), 0
    deadline = time.monotonic() + CHAOS_S
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(0.5, 2.5))
        slot = rng.randrange(WORKERS)
        workers[slot].send_signal(signal.SIGKILL)
        workers[slot].wait()
        kills += 1
        workers[slot] = start(slot)
    settle = time.monotonic() + 90
    while time.monotonic() < settle:
        delivered_ids = {a["EventID"] for a in jsonl(sink.read_text())} if sink.exists() else set()
        if delivered_ids >= expected and _depth(url) == 0:
            break
        time.sleep(1)
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    # 0: stopped cleanly; -SIGTERM: one just restarted, still starting up (no handler yet).
    assert {worker.wait(timeout=60) for worker in workers} <= {0, -signal.SIGTERM}

    printed = [a["EventID"] for out in outputs for a in jsonl(out.read_text())]
    delivered = [a["EventID"] for a in jsonl(sink.read_text())] if sink.exists() else []
    with open_state(postgres_url, read_only=True) as store:
        stored = [r[0] for r in store.query("SELECT json_extract_path_text(row::json, 'EventID') FROM alerts")]
        unmarked = store.pending()
        undelivered = int(store.query("SELECT count(*) FROM deliveries WHERE status<>'delivered'")[0][0])
        processed = store.count("processed_objects")
    reprints, redeliveries = len(printed) - len(set(printed)), len(delivered) - len(set(delivered))
    print(f"\nworkers={WORKERS} kills={kills} expected={len(expected)} stored={len(stored)} "
          f"printed={len(printed)} (unique {len(set(printed))}, crash reprints {reprints}) "
          f"delivered={len(delivered)} (unique {len(set(delivered))}, crash redeliveries {redeliveries}) "
          f"processed_objects={processed} queue_left={_depth(url)}")
    assert sorted(stored) == sorted(expected)  # stored once each
    assert set(printed) == expected and set(delivered) == expected  # nothing lost
    # A copy is only ever a worker killed between writing and marking: at most one batch per kill.
    assert reprints <= kills * OBJECTS and redeliveries <= kills * OBJECTS
    assert unmarked == 0 and undelivered == 0 and processed == OBJECTS and _depth(url) == 0
