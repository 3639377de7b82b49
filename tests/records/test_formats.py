"""Every shape users keep CloudTrail in reads to the same records; shape comes from content, not names."""

from __future__ import annotations

import csv
import gzip
import io

import orjson
import pytest

from trailhound.records.formats import parse
from trailhound.records.record import Record

from ..helpers import record

R1 = record(eventID="e-1")
R2 = record(eventID="e-2", eventName="ListUsers")


def ids(data: bytes) -> list[str]:
    return [Record(r).event_id for r in parse(data).records]


def test_s3_delivery_file_reads_every_record():
    assert ids(orjson.dumps({"Records": [R1, R2]})) == ["e-1", "e-2"]


def test_gzip_is_detected_by_content_not_name():
    doc = parse(gzip.compress(orjson.dumps({"Records": [R1]})))
    assert [r["eventID"] for r in doc.records] == ["e-1"] and doc.problem is None


def test_multi_member_gzip_reads_every_member():
    data = gzip.compress(orjson.dumps(R1) + b"\n") + gzip.compress(orjson.dumps(R2) + b"\n")
    assert ids(data) == ["e-1", "e-2"]


def test_json_array():
    assert ids(orjson.dumps([R1, R2])) == ["e-1", "e-2"]


def test_one_record_per_line():
    assert ids(orjson.dumps(R1) + b"\n\n" + orjson.dumps(R2) + b"\n") == ["e-1", "e-2"]


def test_cloudwatch_logs_export_lines_with_timestamp_prefix():
    data = b"2026-11-27T14:06:00.000Z " + orjson.dumps(R1) + b"\n2026-11-27T14:07:00.000Z " + orjson.dumps(R2)
    assert ids(data) == ["e-1", "e-2"]


def test_single_record_object():
    assert ids(orjson.dumps(R1)) == ["e-1"]


def test_utf8_byte_order_mark_is_fine():
    assert ids(b"\xef\xbb\xbf" + orjson.dumps({"Records": [R1]})) == ["e-1"]


def test_eventbridge_envelope_yields_the_detail():
    envelope = {"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
                "account": "111122223333", "time": "2026-11-27T14:06:00Z", "region": "us-east-1", "detail": R1}
    assert ids(orjson.dumps(envelope)) == ["e-1"]
    assert ids(orjson.dumps([envelope, envelope])) == ["e-1", "e-1"]


def test_eventbridge_event_of_another_kind_is_skipped_quietly():
    doc = parse(orjson.dumps({"detail-type": "EC2 Instance State-change Notification", "detail": {"state": "x"}}))
    assert doc.records == [] and doc.problem is None and doc.skipped == 1


def test_digest_file_is_skipped_quietly():
    digest = {"awsAccountId": "111122223333", "digestStartTime": "2026-11-27T00:00:00Z",
              "digestEndTime": "2026-11-27T01:00:00Z", "digestS3Bucket": "b", "logFiles": []}
    doc = parse(gzip.compress(orjson.dumps(digest)))
    assert doc.records == [] and doc.problem is None and doc.skipped == 1


def test_insights_events_are_skipped_quietly():
    insight = {"eventVersion": "1.08", "eventTime": "2026-11-27T00:00:00Z", "eventType": "AwsCloudTrailInsight",
               "eventCategory": "Insight", "insightDetails": {"state": "Start"}, "eventID": "i-1"}
    doc = parse(orjson.dumps({"Records": [insight, R1]}))
    assert [r["eventID"] for r in doc.records] == ["e-1"] and doc.skipped == 1 and doc.problem is None


SENTINEL_ROW = {
    "TenantId": "00000000-0000-0000-0000-000000000000", "TimeGenerated": "2026-11-27T14:06:00.123Z",
    "EventVersion": "1.09", "EventSource": "iam.amazonaws.com", "EventName": "CreateLoginProfile",
    "EventTypeName": "AwsApiCall", "AwsEventId": "s-1", "AWSRegion": "us-east-1", "SourceIpAddress": "203.0.113.66",
    "UserAgent": "python-requests/2.31.0", "ErrorCode": "", "ErrorMessage": "",
    "RequestParameters": '{"userName":"svc-reporting","passwordResetRequired":false}',
    "ResponseElements": '{"loginProfile":{"userName":"svc-reporting","passwordResetRequired":false}}',
    "RecipientAccountId": "111122223333", "UserIdentityType": "IAMUser", "UserIdentityUserName": "ci-deploy",
    "UserIdentityArn": "arn:aws:iam::111122223333:user/ci-deploy", "UserIdentityAccountId": "111122223333",
    "SessionIssuerUserName": "", "Type": "AWSCloudTrail",
}


def test_sentinel_rows_become_native_records():
    (raw,) = parse(orjson.dumps([SENTINEL_ROW])).records
    rec = Record(raw)
    assert rec.event_id == "s-1" and rec.event_type == "AwsApiCall"
    assert rec.request == {"userName": "svc-reporting", "passwordResetRequired": False}
    assert rec.identity_text("arn") == "arn:aws:iam::111122223333:user/ci-deploy"
    assert rec.succeeded, "an empty ErrorCode is a success"
    assert "errorCode" not in raw and "sessionContext" not in rec.identity


def test_sentinel_row_with_error_code_is_a_failure():
    (raw,) = parse(orjson.dumps({**SENTINEL_ROW, "ErrorCode": "AccessDenied"})).records
    assert not Record(raw).succeeded


def test_sentinel_portal_csv_export():
    buffer = io.StringIO()
    columns = [("TimeGenerated [UTC]" if k == "TimeGenerated" else k) for k in SENTINEL_ROW]
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerow(SENTINEL_ROW.values())
    (raw,) = parse(buffer.getvalue().encode()).records
    assert Record(raw).event_id == "s-1" and Record(raw).time_text == "2026-11-27T14:06:00.123Z"


def test_log_analytics_api_tables():
    answer = {"tables": [{"name": "PrimaryResult", "columns": [{"name": k} for k in SENTINEL_ROW],
                          "rows": [list(SENTINEL_ROW.values())]}]}
    assert ids(orjson.dumps(answer)) == ["s-1"]


def test_lookup_events_output_with_the_record_as_a_json_string():
    answer = {"Events": [{"EventId": "e-1", "EventName": "CreateLoginProfile",
                          "CloudTrailEvent": orjson.dumps(R1).decode()}]}
    assert ids(orjson.dumps(answer)) == ["e-1"]


def test_cloudwatch_logs_subscription_payload():
    payload = {"messageType": "DATA_MESSAGE", "logGroup": "aws-cloudtrail", "logEvents": [
        {"id": "1", "timestamp": 0, "message": orjson.dumps(R1).decode()}]}
    assert ids(gzip.compress(orjson.dumps(payload))) == ["e-1"]


def test_cloudtrail_lake_result_rows():
    answer = {"QueryResultRows": [[{"eventID": "e-1"}, {"eventName": "CreateLoginProfile"}]]}
    assert ids(orjson.dumps(answer)) == ["e-1"]


def test_record_under_records_with_unknown_fields_is_kept_and_judged_on_what_it_has():
    doc = parse(orjson.dumps({"Records": [{"eventNameWrong": "x"}, R1]}))
    assert len(doc.records) == 2 and doc.problem is None


def test_broken_document_keeps_the_records_before_the_break():
    text = orjson.dumps({"Records": [R1, R2]}).decode()
    broken = text[: text.index('"e-2"') + 3]  # cut inside the second record
    doc = parse(broken.encode())
    assert [r["eventID"] for r in doc.records] == ["e-1"]
    assert "read the 1 record(s) before it" in doc.problem


def test_truncated_gzip_keeps_what_precedes_the_cut():
    lines = b"".join(orjson.dumps(record(eventID=f"e-{i}")) + b"\n" for i in range(200))
    data = gzip.compress(lines)
    doc = parse(data[: len(data) * 3 // 4])
    assert 0 < len(doc.records) < 200
    assert "truncated or corrupt gzip" in doc.problem


def test_bad_lines_are_counted_and_located():
    doc = parse(orjson.dumps(R1) + b"\n{not json\n" + orjson.dumps(R2) + b"\n")
    assert [r["eventID"] for r in doc.records] == ["e-1", "e-2"]
    assert doc.unreadable == 1 and "line 2" in doc.problem


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"   \n", "empty file"),
    (bytes(range(256)) * 4, "not valid JSON"),
    (b"[" * 200_000 + b"]" * 200_000, "nesting too deep"),
])
def test_unreadable_input_is_described_in_one_line(data, reason):
    doc = parse(data)
    assert doc.records == [] and reason in doc.problem and "\n" not in doc.problem


def test_invalid_utf8_is_replaced_and_reported_not_fatal():
    data = orjson.dumps(R1).replace(b"python-requests", b"python-\xff\xfequests") + b"\n" + orjson.dumps(R2)
    doc = parse(data)
    assert [r["eventID"] for r in doc.records] == ["e-1", "e-2"] and "invalid UTF-8" in doc.problem
