"""Throughput of `watch` workers on one SQS queue and one PostgreSQL state: objects per second with 1, 2 and
4 workers, and the state's own cost per object (is_processed + claim + admit with one alert and the mark).

Everything runs here: moto's server (S3 and SQS) and a throwaway PostgreSQL cluster (tests/postgres.py).
    python benchmarks/queue_workers.py [OBJECTS] [WORKER COUNTS...]     e.g. 200 1 2 4
"""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.helpers import record  # noqa: E402
from tests.postgres import Cluster  # noqa: E402

ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **ENV})
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("moto did not start")


def fill(objects: int, name: str) -> str:
    """A queue announcing `objects` trail files (each 200 records, one an alert), each announced once."""
    import boto3

    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket=name)
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    for n in range(objects):
        quiet = [record(eventName="ListUsers", eventID=str(uuid.uuid4())) for _ in range(199)]
        body = gzip.compress(orjson.dumps({"Records": [record(eventID=str(uuid.uuid4()), user=f"u{n}"), *quiet]}))
        key = (f"AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/27/"
               f"111122223333_CloudTrail_us-east-1_20261127T{n:04d}Z_{n}.json.gz")
        s3.put_object(Bucket=name, Key=key, Body=body)
        etag = s3.head_object(Bucket=name, Key=key)["ETag"].strip('"')
        note = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                             "s3": {"bucket": {"name": name}, "object": {"key": key, "size": len(body), "eTag": etag}}}]}
        sqs.send_message(QueueUrl=url, MessageBody=orjson.dumps(note).decode())
    return url


def drain(url: str, state: str, workers: int, objects: int) -> float:
    from trailhound.state.open import open_state

    open_state(state).close()  # the schema, before the workers poll it
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "trailhound", "watch", "--sqs-queue-url", url, "--state", state,
                               "--format", "jsonl", "--no-context"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(workers)]
    with open_state(state, read_only=True) as store:
        while store.count("processed_objects") < objects:
            time.sleep(0.1)
    elapsed = time.perf_counter() - started
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=60)
    return elapsed


def state_cost(state: str, n: int = 300) -> float:
    """Milliseconds of state work per object, one worker, no S3: what a worker pays the database per object."""
    from trailhound.engine.rules import load_rules
    from trailhound.engine.rules.base import make_alert
    from trailhound.records.record import Record
    from trailhound.state.open import open_state

    rule = load_rules(["0xFF-0237"])[0]

    class Mark:
        def __init__(self, key: str) -> None:
            self.bucket, self.key, self.etag = "cost", key, "e"

    alerts = [make_alert(rule, Record(record(eventID=f"c-{i}", user=f"c{i}")), ("EventID",)) for i in range(n)]
    with open_state(state, track_delivery=True) as store:
        started = time.perf_counter()
        for i, alert in enumerate(alerts):
            mark = Mark(f"k{i}")
            store.is_processed(mark)
            store.claim_objects([mark])
            store.admit([alert], 7200.0, processed=[mark])
            store.mark_emitted([alert])
        return (time.perf_counter() - started) / n * 1000


def main() -> None:
    objects = int(sys.argv[1]) if len(sys.argv) > 1 else 120
    counts = [int(a) for a in sys.argv[2:]] or [1, 2, 4]
    proc, endpoint = moto()
    os.environ.update(ENV, AWS_ENDPOINT_URL=endpoint)
    cluster = Cluster()
    try:
        print(f"cpus={os.cpu_count()} objects={objects} (200 records each, 1 alert)")
        print(f"state cost: {state_cost(cluster.database()):.2f} ms/object (is_processed + claim + admit + mark)")
        for workers in counts:
            url, state = fill(objects, f"bench-{workers}"), cluster.database()
            elapsed = drain(url, state, workers, objects)
            print(f"workers={workers}: {objects / elapsed:.1f} objects/s ({elapsed:.1f} s, including start-up)")
    finally:
        cluster.stop()
        proc.terminate()


if __name__ == "__main__":
    main()
