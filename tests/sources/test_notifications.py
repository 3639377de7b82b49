"""Every shape an S3 notification reaches a queue in -> the objects to read (or why there are none)."""

from __future__ import annotations

import orjson

from trailhound.sources.notifications import parse_message
from trailhound.sources.s3 import S3Object

from ..notifications import TEST_EVENT, cloudtrail_notice, eventbridge, s3_event, sns

KEY = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/27/111122223333_CloudTrail_us-east-1_20261127T1405Z_a b:c.json.gz"


def _parse(value: dict):
    return parse_message(orjson.dumps(value).decode())


def test_direct_s3_event_with_its_url_encoded_key_decoded():
    note = _parse(s3_event("trail", KEY, etag="0123abcd", size=77))
    assert note.objects == [S3Object("trail", KEY, "0123abcd", 77)] and note.problem is None


def test_s3_event_wrapped_in_sns_and_cloudtrail_notice_wrapped_in_sns():
    assert _parse(sns(s3_event("trail", KEY))).objects == [S3Object("trail", KEY, "", 1024)]
    assert _parse(sns(cloudtrail_notice("trail", KEY, "k2"))).objects == [S3Object("trail", KEY), S3Object("trail", "k2")]


def test_eventbridge_object_created_keys_are_not_encoded():
    assert _parse(eventbridge("trail", KEY, etag="ff-2")).objects == [S3Object("trail", KEY, "ff-2", 1024)]


def test_test_events_removals_and_other_eventbridge_types_ask_for_nothing():
    for value in (TEST_EVENT, sns(TEST_EVENT), s3_event("trail", KEY, name="ObjectRemoved:Delete"),
                  eventbridge("trail", KEY, detail_type="Object Deleted")):
        note = _parse(value)
        assert note.objects == [] and note.ignored and note.problem is None, value


def test_unreadable_messages_say_why():
    assert "not JSON" in parse_message("{oops").problem
    assert "SNS message: not JSON" in parse_message(orjson.dumps({"Type": "Notification", "Message": "x"})).problem
    assert "not an S3 object notification" in _parse({"hello": "world"}).problem
    assert "s3.object.key" in _parse({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                                    "s3": {"bucket": {"name": "b"}}}]}).problem
