"""Parallel S3 downloads: scan the same objects with 1 download thread and with N, report the ratio.

Runs against moto's server on loopback (started here), so it measures trailhound's pipeline, not a
network: on real S3, where each GET waits tens of milliseconds, the gain from threads is larger.

    .venv/bin/python benchmarks/s3_downloads.py [--objects 200] [--threads 8]
"""

from __future__ import annotations

import argparse
import gzip
import os
import socket
import subprocess
import sys
import time
import urllib.request

import orjson


def _moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not start")


def _fill(count: int, records_per_object: int) -> None:
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bench")
    record = {"eventVersion": "1.09", "eventTime": "2026-11-27T14:06:00Z", "eventSource": "iam.amazonaws.com",
              "eventName": "GetUser", "awsRegion": "us-east-1", "recipientAccountId": "111122223333"}
    for n in range(count):
        body = gzip.compress(orjson.dumps({"Records": [{**record, "eventID": f"{n}-{i}"}
                                                       for i in range(records_per_object)]}))
        s3.put_object(Bucket="bench", Key=f"AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/27/{n:05d}.json.gz",
                      Body=body)


def _scan(threads: int) -> float:
    from trailhound.engine.rules import load_rules
    from trailhound.run.incremental import process
    from trailhound.run.pipeline import Run
    from trailhound.sources.s3 import objects
    from trailhound.sources.s3_layout import Selection

    started = time.perf_counter()
    outcome = process(Run(load_rules()), objects("s3://bench", Selection()), threads)
    assert not outcome.failed, outcome.failed
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    proc, url = _moto()
    os.environ.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    try:
        _fill(args.objects, args.records)
        _scan(args.threads)  # warm-up: clients, connections
        serial = min(_scan(1) for _ in range(2))
        parallel = min(_scan(args.threads) for _ in range(2))
    finally:
        proc.terminate()
    print(f"{args.objects} objects: 1 thread {serial:.2f}s, {args.threads} threads {parallel:.2f}s, "
          f"speed-up x{serial / parallel:.2f}")


if __name__ == "__main__":
    main()
