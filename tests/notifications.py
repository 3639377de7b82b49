"""S3 notifications written in the shapes AWS sends them (from the S3, SNS, EventBridge and CloudTrail docs)."""

from __future__ import annotations

from urllib.parse import quote_plus

import orjson


def s3_event(bucket: str, key: str, etag: str = "", size: int = 1024, name: str = "ObjectCreated:Put") -> dict:
    obj = {"key": quote_plus(key, safe="/"), "size": size, "sequencer": "0055AED6DCD90281E5"}
    if etag:
        obj["eTag"] = etag
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-27T14:10:00.000Z", "eventName": name,
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "trail-new-objects",
               "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}, "object": obj}}]}


def sns(message: dict) -> dict:
    return {"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:us-east-1:111122223333:trail", "Subject": "Amazon S3 Notification",
            "Message": orjson.dumps(message).decode(), "Timestamp": "2026-11-27T14:10:01.000Z",
            "SignatureVersion": "1", "Signature": "EXAMPLE", "SigningCertURL": "https://example.invalid/cert.pem",
            "UnsubscribeURL": "https://example.invalid/unsubscribe"}


def eventbridge(bucket: str, key: str, etag: str = "", detail_type: str = "Object Created") -> dict:
    obj = {"key": key, "size": 1024, "sequencer": "00617F08299329D189"}
    if etag:
        obj["etag"] = etag
    return {"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": detail_type,
            "source": "aws.s3", "account": "111122223333", "time": "2026-11-27T14:10:00Z", "region": "us-east-1",
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {"version": "0", "bucket": {"name": bucket}, "object": obj, "request-id": "N4N7GDK58NMKJ12R",
                       "requester": "cloudtrail.amazonaws.com", "reason": "PutObject"}}


def cloudtrail_notice(bucket: str, *keys: str) -> dict:
    return {"s3Bucket": bucket, "s3ObjectKey": list(keys)}


TEST_EVENT = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-27T14:00:00.000Z",
              "Bucket": "trail", "RequestId": "5582815E1AEA5ADF",
              "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}
