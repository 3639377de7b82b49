"""Trails written into moto's S3 the way CloudTrail delivers them."""

from __future__ import annotations

import gzip
import uuid

import boto3
import orjson

from .helpers import record


def delivery_key(account: str, region: str, day: str, org: str | None = None, prefix: str = "",
                 stamp: str = "1405") -> str:
    """`day` is YYYY-MM-DD; the key is CloudTrail's own layout for it."""
    y, m, d = day.split("-")
    head = f"{prefix}AWSLogs/" + (f"{org}/" if org else "")
    return (f"{head}{account}/CloudTrail/{region}/{y}/{m}/{d}/"
            f"{account}_CloudTrail_{region}_{y}{m}{d}T{stamp}Z_{uuid.uuid4().hex[:16]}.json.gz")


def put_trail_file(bucket: str, key: str, *records: dict) -> str:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=gzip.compress(orjson.dumps({"Records": list(records)})))
    return key


def bucket(name: str = "trail") -> str:
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def hit(event_id: str, day: str = "2026-11-27", **overrides) -> dict:
    """A matching CreateLoginProfile record with its own eventID, on `day`."""
    return record(eventID=event_id, eventTime=f"{day}T14:06:00Z", **overrides)
