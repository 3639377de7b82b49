"""`trailhound watch --sqs-queue-url` on Security Lake's subscriber notifications (EventBridge "Object Created"
events for new Parquet objects, as Security Lake's SQS queue receives them) against moto's S3 and SQS."""

from __future__ import annotations

import boto3

from ..helpers import jsonl, run_cli
from ..notifications import eventbridge, s3_event
from ..ocsf_rows import lake_key
from ..s3helpers import bucket, hit
from ..sources.test_security_lake import LAKE, put_parquet, write_rows
from .test_watch_sqs import _depth, _queue, _send, _stored


def test_security_lake_notifications_of_new_parquet_objects_alert_once(aws, tmp_path):
    bucket(LAKE)
    url = _queue("security-lake-subscriber")
    first, second = hit("lake-1"), hit("lake-2", recipientAccountId="444455556666")
    keys = [put_parquet(LAKE, lake_key(r) + f"{r['eventID']}.gz.parquet", [r]) for r in (first, second)]
    dns = "aws/ROUTE53/2.0/region=us-east-1/accountId=111122223333/eventDay=20261127/dns.gz.parquet"
    write_rows(LAKE, dns, [{"class_uid": 4003, "metadata": {"product": {"name": "Route 53"}},
                            "query": {"hostname": "example.com"}}])  # another source's object: nothing for the rules
    etag = boto3.client("s3").head_object(Bucket=LAKE, Key=keys[0])["ETag"].strip('"')
    # Security Lake's own notice (EventBridge); the same object again straight from S3 (key URL-encoded: '=')
    _send(url, eventbridge(LAKE, keys[0], etag=etag), s3_event(LAKE, keys[0], etag=etag),
          eventbridge(LAKE, keys[1]), eventbridge(LAKE, dns))
    state = str(tmp_path / "state.db")
    result = run_cli("watch", "--sqs-queue-url", url, "--state", state, "--once")
    assert result.returncode == 0, result.stderr
    assert sorted(a["EventID"] for a in jsonl(result.stdout)) == ["lake-1", "lake-2"]
    assert _depth(url) == (0, 0) and _stored(state) == 2 and _stored(state, "processed_objects") == 3
