"""Amazon Security Lake: OCSF events (Parquet or JSON) read back to the CloudTrail records they came from."""

from __future__ import annotations

import orjson
import pytest

from trailhound import scan
from trailhound.demo import write_demo
from trailhound.engine.rules import load_rules
from trailhound.engine.rules.iam_login_profile import PasswordAssignedToExistingIAMUser
from trailhound.records.formats import parse
from trailhound.records.ocsf import to_cloudtrail
from trailhound.records.read import sift
from trailhound.records.record import Record
from trailhound.run.local import scan_paths
from trailhound.run.pipeline import Run
from trailhound.sources.files import FileInput, iter_files

from ..helpers import record, write
from ..ocsf_rows import to_ocsf, write_lake, write_parquet

RULE = PasswordAssignedToExistingIAMUser()


def _fields(raw: dict) -> tuple:
    r = Record(raw)
    return (r.event_name, r.event_source, r.event_type, r.event_id, r.region, r.source_ip, r.user_agent,
            r.error_code, r.recipient_account, r.request, r.response, r.identity_text("arn"),
            r.identity_text("userName"), r.identity_text("type"), r.identity_text("accountId"), r.time)


@pytest.mark.parametrize("json_data", [True, False], ids=["data-as-json-text", "data-as-objects"])
def test_api_activity_maps_back_to_every_field_the_rules_and_context_read(json_data):
    original = record(eventName="ListUsers", requestParameters={"maxItems": 5}, responseElements={"isTruncated": False})
    row = to_ocsf(original, json_data=json_data)
    assert row["class_uid"] == 6003
    assert _fields(to_cloudtrail(row)) == _fields(original)


def test_account_change_3001_create_login_profile_alerts_as_the_cloudtrail_record_does():
    row = to_ocsf(record())
    assert row["class_uid"] == 3001
    mapped = to_cloudtrail(row)
    assert RULE.matches(Record(mapped)) and RULE.row(Record(mapped)) == RULE.row(Record(record()))
    assert not RULE.matches(Record(to_cloudtrail(to_ocsf(record(flag=True)))))


def test_authentication_3002_keeps_the_sign_in_outcome_from_status():
    login = record(eventName="ConsoleLogin", eventSource="signin.amazonaws.com", eventType="AwsConsoleSignIn",
                   requestParameters=None, responseElements={"ConsoleLogin": "Failure"})
    row = to_ocsf(login)
    del row["api"]["response"]["data"]  # Security Lake keeps the outcome in status only
    mapped = to_cloudtrail(row)
    assert row["class_uid"] == 3002 and mapped["responseElements"] == {"ConsoleLogin": "Failure"}
    assert mapped["eventType"] == "AwsConsoleSignIn"


def test_an_assumed_role_session_keeps_its_issuer_and_the_role_name():
    identity = {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/bob",
                "accountId": "111122223333", "sessionContext": {"sessionIssuer": {
                    "type": "Role", "arn": "arn:aws:iam::111122223333:role/Admin", "userName": "Admin"}}}
    mapped = to_cloudtrail(to_ocsf(record(userIdentity=identity)))
    assert Record(mapped).session_issuer == identity["sessionContext"]["sessionIssuer"]


def test_without_event_code_the_class_says_it_was_an_api_call():
    row = to_ocsf(record())
    del row["metadata"]["event_code"]
    assert to_cloudtrail(row)["eventType"] == "AwsApiCall"


def test_unmapped_fields_go_back_where_they_came_from_never_over_a_mapped_one():
    row = to_ocsf(record())
    row["unmapped"] = {"additionalEventData.MFAUsed": "No", "eventName": "Forged", "readOnly": "false"}
    mapped = to_cloudtrail(row)
    assert mapped["additionalEventData"] == {"MFAUsed": "No"} and mapped["eventName"] == "CreateLoginProfile"
    assert mapped["readOnly"] == "false"


def test_ocsf_json_lines_are_read_like_parquet_rows():
    rows = [to_ocsf(record(eventID="j-1"), json_data=False), to_ocsf(record(eventID="j-2"))]
    data = b"\n".join(orjson.dumps(r) for r in rows)
    assert [Record(r).event_id for r in parse(data).records] == ["j-1", "j-2"]


def test_ocsf_events_of_other_classes_are_skipped_quietly():
    dns = {"class_uid": 4003, "metadata": {"product": {"name": "Route 53"}}, "query": {"hostname": "x"}}
    doc = parse(orjson.dumps([dns]))
    assert doc.records == [] and doc.skipped == 1 and doc.problem is None


def test_parquet_is_recognised_by_content_and_read_row_group_by_row_group(tmp_path):
    records = [record(eventID=f"p-{i}") for i in range(150)]
    path = write_parquet([to_ocsf(r) for r in records], tmp_path / "no-extension", row_group_size=50)
    doc = sift(FileInput(str(path)), None).document
    assert doc is not None and [r["eventID"] for r in doc.records] == [f"p-{i}" for i in range(150)]


def test_a_truncated_parquet_file_is_named_and_the_rest_of_the_run_goes_on(tmp_path):
    whole = write_parquet([to_ocsf(record(eventID="t-1"))], tmp_path / "a.parquet").read_bytes()
    write(tmp_path / "in/cut.parquet", whole[: len(whole) // 2])
    write(tmp_path / "in/good.json", [record(eventID="survivor")])
    result = scan_paths(Run(load_rules()), [str(tmp_path / "in")], workers=1)
    assert [a.row["EventID"] for a in result.alerts] == ["survivor"]
    ((origin, reason),) = result.summary.bad_inputs
    assert origin.endswith("cut.parquet") and "not a readable Parquet file" in reason


def test_a_parquet_file_of_another_schema_is_named_with_its_columns(tmp_path):
    path = write_parquet([{"flow_id": 1, "bytes": 20}], tmp_path / "flows.parquet")
    doc = sift(FileInput(str(path)), None).document
    assert doc is not None and doc.records == []
    assert "another schema" in doc.problem and "flow_id" in doc.problem


def test_parquet_of_cloudtrail_fields_as_columns_is_read_too(tmp_path):
    flat = [{**record(eventID="c-1"), "requestParameters": '{"userName":"bob","passwordResetRequired":false}',
             "userIdentity": {"type": "IAMUser", "userName": "x", "arn": "arn:aws:iam::111122223333:user/x"}}]
    path = write_parquet(flat, tmp_path / "ct.parquet")
    (got,) = sift(FileInput(str(path)), None).document.records
    assert RULE.matches(Record(got)) and RULE.target_user(Record(got)) == "bob"


def test_the_security_lake_copy_of_the_demo_gives_the_demo_verdicts_severities_and_reasons(tmp_path):
    write_demo(tmp_path / "demo")  # the demo as `make demo` writes it: its story's severities are known
    records = [r for f in iter_files([str(tmp_path / "demo")]) for r in parse(f.read()).records]
    write_lake(records, tmp_path / "lake")
    demo = scan([str(tmp_path / "demo")], workers=1)  # the whole run: context, severities and reasons
    lake = scan([str(tmp_path / "lake")], workers=1)
    assert len(demo.alerts) == 3 and not lake.summary.bad_inputs
    assert [a.as_dict() for a in lake.alerts] == [a.as_dict() for a in demo.alerts]
    assert [a.row["Severity"] for a in lake.alerts] == ["Low", "Low", "Critical"]
    assert any("signed in to the console" in reason for reason in lake.alerts[2].row["Reasons"])


def test_without_pyarrow_a_parquet_file_is_named_with_the_install_hint(tmp_path, monkeypatch):
    import sys

    path = write_parquet([to_ocsf(record())], tmp_path / "a.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as where the `lake` extra is not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    doc = sift(FileInput(str(path)), None).document
    assert doc.records == [] and "trailhound[lake]" in doc.problem
