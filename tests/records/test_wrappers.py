"""Shapes read as users store them: Lambda's awslogs payloads, SIEM exports that wrap the original record
(Elastic's event.original, Splunk's and Cribl's _raw), CloudTrail Lake's `{k=v}` rendering; and a request
that is present but unreadable, which is never taken for one that did not record a field."""

from __future__ import annotations

import base64
import gzip

import orjson

from trailhound.engine.rules import load_rules
from trailhound.engine.rules.iam_login_profile import PasswordAssignedToExistingIAMUser
from trailhound.records.formats import parse
from trailhound.records.record import Record
from trailhound.records.trino import parse as parse_rendering
from trailhound.run.local import scan_paths
from trailhound.run.pipeline import Run

from ..helpers import record, write

RULE = PasswordAssignedToExistingIAMUser()


def ids(data: bytes) -> list[str]:
    return [Record(r).event_id for r in parse(data).records]


def awslogs(*records: dict) -> dict:
    """What a Lambda subscribed to a CloudWatch Logs group receives (AWS's documented event)."""
    message = {"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "aws-cloudtrail-logs",
               "logStream": "111122223333_CloudTrail_us-east-1", "subscriptionFilters": ["all"],
               "logEvents": [{"id": str(i), "timestamp": 1795788360000, "message": orjson.dumps(r).decode()}
                             for i, r in enumerate(records)]}
    return {"awslogs": {"data": base64.b64encode(gzip.compress(orjson.dumps(message))).decode()}}


def test_lambda_awslogs_payload_is_decoded_to_its_records():
    assert ids(orjson.dumps(awslogs(record(eventID="l-1"), record(eventID="l-2")))) == ["l-1", "l-2"]
    lines = orjson.dumps(awslogs(record(eventID="l-3"))) + b"\n" + orjson.dumps(awslogs(record(eventID="l-4")))
    assert ids(lines) == ["l-3", "l-4"]


def test_a_broken_base64_payload_is_named_and_the_other_payloads_kept():
    broken = {"awslogs": {"data": "H4sI!!not-base64"}}
    doc = parse(orjson.dumps([broken, awslogs(record(eventID="kept"))]))
    assert [r["eventID"] for r in doc.records] == ["kept"]
    assert "awslogs.data is not base64" in doc.problem and doc.unreadable == 1


def test_elastic_event_original_nested_and_dotted():
    nested = {"@timestamp": "2026-11-27T14:06:00Z", "event": {"original": orjson.dumps(record(eventID="e-1")).decode(),
                                                             "action": "CreateLoginProfile"}}
    dotted = {"event.original": orjson.dumps(record(eventID="e-2")).decode()}
    assert ids(orjson.dumps([nested, dotted])) == ["e-1", "e-2"]


def test_elasticsearch_search_answer_and_hits():
    hit = {"_index": "logs-aws.cloudtrail", "_id": "x", "_source": {"event": {"original": orjson.dumps(
        record(eventID="es-1")).decode()}}}
    assert ids(orjson.dumps({"took": 3, "hits": {"total": {"value": 1}, "hits": [hit]}})) == ["es-1"]


def test_splunk_export_lines_and_cribl_events_carry_the_record_in_raw():
    splunk = {"preview": False, "result": {"_raw": orjson.dumps(record(eventID="s-1")).decode(),
                                           "_time": "2026-11-27T14:06:00.000+00:00", "sourcetype": "aws:cloudtrail"}}
    cribl = {"_raw": orjson.dumps(record(eventID="c-1")).decode(), "_time": 1795788360, "source": "s3://b/k"}
    assert ids(orjson.dumps(splunk) + b"\n" + orjson.dumps(cribl)) == ["s-1", "c-1"]


def test_splunk_csv_export_with_a_raw_column():
    raw = orjson.dumps(record(eventID="csv-raw")).decode().replace('"', '""')
    data = f'"_serial","_time","_raw"\n0,"2026-11-27T14:06:00.000+0000","{raw}"\n'.encode()
    assert ids(data) == ["csv-raw"]


def test_cloudtrail_lake_rendering_of_maps_and_structs_is_read():
    row = [{"eventVersion": "1.09"}, {"eventTime": "2026-11-27 14:06:00.000"}, {"eventSource": "iam.amazonaws.com"},
           {"eventName": "CreateLoginProfile"}, {"eventType": "AwsApiCall"}, {"eventID": "lake-1"},
           {"requestParameters": "{userName=svc-reporting, passwordResetRequired=true}"},
           {"userIdentity": "{type=IAMUser, principalid=AIDAX, arn=arn:aws:iam::111122223333:user/ci-deploy, "
                            "accountid=111122223333, accesskeyid=AKIAX, username=ci-deploy, "
                            "sessioncontext={attributes={creationdate=null, mfaauthenticated=false}}}"}]
    (got,) = parse(orjson.dumps({"QueryResultRows": [row]})).records
    rec = Record(got)
    assert rec.request == {"userName": "svc-reporting", "passwordResetRequired": "true"}
    assert not RULE.matches(rec), "the flag was true: no false alert"
    assert rec.identity_text("userName") == "ci-deploy" and rec.identity_text("accountId") == "111122223333"
    assert rec.identity["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    flagged = [{**c} for c in row]
    flagged[6] = {"requestParameters": "{userName=svc-reporting, passwordResetRequired=false}"}
    (hit,) = parse(orjson.dumps({"QueryResultRows": [flagged]})).records
    assert RULE.matches(Record(hit)) and RULE.row(Record(hit))["TargetUserName"] == "svc-reporting"


def test_the_rendering_reads_json_values_and_lists_and_refuses_what_does_not_parse_whole():
    assert parse_rendering('{policyDocument={"Version":"2012-10-17"}, tags=[a, b], n=null}') == {
        "policyDocument": {"Version": "2012-10-17"}, "tags": ["a", "b"], "n": None}
    assert parse_rendering("{userName=bob, broken") is None and parse_rendering("{}") == {}


def test_an_unreadable_request_is_not_a_flag_not_recorded_it_alerts_and_says_so(tmp_path):
    # A failed call that recorded nothing does not alert; the same call whose request cannot be read does,
    # since the request may have said false; the alert and the input both say the request was unreadable.
    unreadable = record(eventID="u-1", errorCode="AccessDenied", requestParameters="{userName=bob, oops")
    assert RULE.matches(Record(unreadable))
    silent = record(eventID="u-2", errorCode="AccessDenied", requestParameters=None)
    assert not RULE.matches(Record(silent))
    write(tmp_path / "in/mangled.json", [unreadable, silent])
    result = scan_paths(Run(load_rules()), [str(tmp_path / "in")], workers=1)
    (alert,) = result.alerts
    assert "requestParameters present but unreadable" in alert.row["Title"]
    ((origin, reason),) = result.summary.bad_inputs
    assert origin.endswith("mangled.json") and "u-1" in reason and "unreadable" in reason
