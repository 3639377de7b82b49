"""The moto fixture itself: a real server on loopback that boto3 reaches through AWS_ENDPOINT_URL."""

import boto3


def test_boto3_reaches_the_loopback_server_and_each_test_starts_clean(aws):
    s3 = boto3.client("s3")
    assert s3.meta.endpoint_url.startswith("http://127.0.0.1:")
    assert s3.list_buckets()["Buckets"] == []
    s3.create_bucket(Bucket="trail")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["trail"]
