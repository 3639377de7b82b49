"""S3 object notifications, in every shape they reach an SQS queue, -> the objects to read.

- S3 event notifications sent straight to SQS: `{"Records": [{"eventSource": "aws:s3", "s3": {...}}]}`,
  keys URL-encoded (a space arrives as '+').
- The same, or CloudTrail's own delivery notice (`{"s3Bucket": ..., "s3ObjectKey": [...]}`), wrapped in an
  SNS envelope (`{"Type": "Notification", "Message": "<json>"}`); with raw message delivery there is no
  envelope and the inner shape arrives as it is.
- EventBridge "Object Created" events (`{"source": "aws.s3", "detail": {"bucket", "object"}}`), keys as
  they are.
- `s3:TestEvent` (sent when a notification is configured), removals and other events: nothing to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import orjson

from .s3 import S3Object


@dataclass
class Notification:
    objects: list[S3Object] = field(default_factory=list)
    ignored: str | None = None  # why a well-formed message asks for nothing (a test event, a removal)
    problem: str | None = None  # why a message could not be understood


def parse_message(body: str | bytes) -> Notification:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return Notification(problem=f"not JSON ({exc})")
    if not isinstance(value, dict):
        return Notification(problem="not a JSON object")
    if value.get("Type") == "Notification" and isinstance(value.get("Message"), str):
        inner = parse_message(value["Message"])  # SNS envelope
        if inner.problem:
            inner.problem = f"SNS message: {inner.problem}"
        return inner
    for reader in (_s3_event, _eventbridge, _cloudtrail_notice, _test_event):
        found = reader(value)
        if found is not None:
            return found
    return Notification(problem="not an S3 object notification (direct, SNS or EventBridge)")


def _s3_event(value: dict[str, Any]) -> Notification | None:
    records = value.get("Records")
    if not isinstance(records, list):
        return None
    out = Notification()
    others: list[str] = []
    for item in records:
        if not isinstance(item, dict) or item.get("eventSource") != "aws:s3":
            others.append("not an S3 event")
            continue
        name = str(item.get("eventName", ""))
        if not name.startswith("ObjectCreated:"):
            others.append(name or "unnamed event")
            continue
        s3 = _dict(item.get("s3"))
        bucket, obj = _dict(s3.get("bucket")).get("name"), _dict(s3.get("object"))
        if not isinstance(bucket, str) or not isinstance(obj.get("key"), str):
            return Notification(problem="S3 event without s3.bucket.name or s3.object.key")
        out.objects.append(S3Object(bucket, unquote_plus(obj["key"]), _etag(obj.get("eTag")), _size(obj)))
    if not out.objects:
        out.ignored = ", ".join(sorted(set(others))) or "no records"
    return out


def _eventbridge(value: dict[str, Any]) -> Notification | None:
    if value.get("source") != "aws.s3" or "detail" not in value:
        return None
    if value.get("detail-type") != "Object Created":
        return Notification(ignored=f"EventBridge {value.get('detail-type')!s}")
    detail = _dict(value.get("detail"))
    bucket, obj = _dict(detail.get("bucket")).get("name"), _dict(detail.get("object"))
    if not isinstance(bucket, str) or not isinstance(obj.get("key"), str):
        return Notification(problem="EventBridge event without detail.bucket.name or detail.object.key")
    return Notification(objects=[S3Object(bucket, obj["key"], _etag(obj.get("etag")), _size(obj))])


def _cloudtrail_notice(value: dict[str, Any]) -> Notification | None:
    bucket, keys = value.get("s3Bucket"), value.get("s3ObjectKey")
    if bucket is None and keys is None:
        return None
    if not isinstance(bucket, str) or not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        return Notification(problem="CloudTrail notice without s3Bucket or s3ObjectKey list")
    return Notification(objects=[S3Object(bucket, key) for key in keys])


def _test_event(value: dict[str, Any]) -> Notification | None:
    if value.get("Event") == "s3:TestEvent":
        return Notification(ignored="s3:TestEvent")
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _etag(value: Any) -> str:
    return value.strip('"') if isinstance(value, str) else ""


def _size(obj: dict[str, Any]) -> int:
    size = obj.get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) else -1
