"""Rule 0xFF-0237: the spec's logic, case-insensitive, with the issue's decided points, one test each."""

from __future__ import annotations

import orjson
import pytest

from trailhound.engine.rules import ALL_RULES, get_rule
from trailhound.engine.rules import columns_of as alert_columns
from trailhound.engine.rules.base import make_alert
from trailhound.engine.rules.iam_login_profile import PasswordAssignedToExistingIAMUser
from trailhound.records.record import Record
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.sources.files import iter_files

from ..helpers import MISSING, record, write

RULE = PasswordAssignedToExistingIAMUser()


def matches(raw: dict) -> bool:
    return RULE.matches(Record(raw))


def test_metadata_carries_the_whole_use_case():
    d = RULE.describe()
    assert d["id"] == "0xFF-0237" and d["name"] == "Password Assigned to Existing AWS IAM User"
    assert d["techniques"] == ["T1078.004", "T1098.001"]
    assert d["tactics"] == ["TA0001 Initial Access", "TA0003 Persistence"]
    assert d["version"] == "1.3" and d["severity"] == "Medium"
    assert "business reason" in d["false_positives"][0]
    assert len(d["response_actions"]) == 3 and "disable the access" in d["response_actions"][2]
    assert d["blind_spots"] and d["description"] and d["attack"] and d["permission_required"] == "User"


@pytest.mark.parametrize("flag", [False, "false", "FALSE", "False", "fAlSe"])
def test_reset_flag_false_in_any_form_matches(flag):
    assert matches(record(flag))


@pytest.mark.parametrize("flag", [True, "true", "TRUE", "no", "0", 0, ""])
def test_reset_flag_anything_but_false_does_not_match(flag):
    assert not matches(record(flag))


def test_request_parameters_as_a_json_string_are_read():
    assert matches(record(requestParameters='{"userName":"alice","passwordResetRequired":false}'))
    assert not matches(record(requestParameters='{"userName":"alice","passwordResetRequired":true}'))


def test_flag_missing_from_request_is_read_from_the_response():
    resp_false = {"loginProfile": {"userName": "alice", "passwordResetRequired": False}}
    resp_true = {"loginProfile": {"userName": "alice", "passwordResetRequired": True}}
    assert matches(record(MISSING, responseElements=resp_false))
    assert not matches(record(MISSING, responseElements=resp_true))


def test_request_flag_wins_over_the_response():
    resp_false = {"loginProfile": {"passwordResetRequired": False}}
    assert not matches(record(True, responseElements=resp_false))


def test_nothing_recorded_and_success_takes_the_api_default_and_matches():
    assert matches(record(MISSING))
    assert matches(record(MISSING, requestParameters=None))


def test_nothing_recorded_and_failure_does_not_match():
    assert not matches(record(MISSING, errorCode="AccessDenied", errorMessage="not authorized"))
    assert not matches(record(MISSING, requestParameters=None, errorCode="AccessDenied"))


def test_failed_call_recording_false_matches_as_failure_one_step_lower(tmp_path):
    raw = record(False, errorCode="AccessDenied", errorMessage="not authorized")
    assert matches(raw)
    assert make_alert(RULE, Record(raw)).row["Outcome"] == "failure"
    write(tmp_path / "a.json", [raw, record(False, eventID="ok")])
    # The run ranks a failure (with context or without): the rule alone gives Medium, the failure one step less.
    alerts = {a.row["EventID"]: a.row for a in scan_inputs(Run([RULE]), iter_files([str(tmp_path)])).alerts}
    assert alerts[raw["eventID"]]["Outcome"] == "failure" and alerts[raw["eventID"]]["Severity"] == "Low"
    assert alerts["ok"]["Outcome"] == "success" and alerts["ok"]["Severity"] == "Medium"


@pytest.mark.parametrize("field, value", [
    ("eventSource", "IAM.AMAZONAWS.COM"), ("eventType", "awsapicall"), ("eventName", "createLoginProfile"),
    ("eventName", "CREATELOGINPROFILE")])
def test_source_type_and_name_match_case_insensitively(field, value):
    assert matches(record(**{field: value}))


@pytest.mark.parametrize("field, value", [
    ("eventSource", "sts.amazonaws.com"), ("eventType", "AwsServiceEvent"), ("eventName", "UpdateLoginProfile"),
    ("eventName", "DeleteLoginProfile"), ("eventName", "CreateLoginProfiles"), ("eventSource", " iam.amazonaws.com")])
def test_other_sources_types_and_names_do_not_match(field, value):
    assert not matches(record(**{field: value}))


def test_no_user_name_means_the_caller_gave_itself_the_password():
    alert = make_alert(RULE, Record(record(user=MISSING)))
    assert alert.row["TargetUserName"] == "ci-deploy"


def test_root_through_assume_root_targets_root():
    root = {"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root",
            "accountId": "111122223333"}
    alert = make_alert(RULE, Record(record(user=MISSING, userIdentity=root)))
    assert alert.row["TargetUserName"] == "root"
    target = alert.row["Entities"][0]
    assert target["Role"] == "target" and target["Arn"] == "arn:aws:iam::111122223333:root"


def test_alert_row_has_the_original_columns_in_order_then_trailhounds():
    alert = make_alert(RULE, Record(record(False, user="svc-reporting")))
    assert tuple(alert.row) == alert_columns(RULE)
    assert alert.row["TimeGenerated"] == "2026-11-27T14:06:00Z"
    assert alert.row["TargetUserName"] == "svc-reporting"
    assert alert.row["UserIdentityUserName"] == "ci-deploy"
    assert alert.row["UserIdentityType"] == "IAMUser"
    assert alert.row["UserIdentityArn"] == "arn:aws:iam::111122223333:user/ci-deploy"
    assert (alert.row["AWSRegion"], alert.row["SourceIpAddress"]) == ("us-east-1", "203.0.113.66")
    assert alert.row["UserAgent"] == "python-requests/2.31.0"
    assert alert.row["RuleId"] == "0xFF-0237" and alert.row["EventID"] == "11111111-2222-4333-8444-555555555555"
    assert alert.row["RecipientAccountId"] == "111122223333"
    assert alert.row["Techniques"] == ["T1078.004", "T1098.001"]


def test_entities_name_target_actor_and_address_with_arns():
    alert = make_alert(RULE, Record(record(False, user="svc-reporting")))
    target, actor, ip = alert.row["Entities"]
    assert target == {"Type": "account", "Role": "target", "Name": "svc-reporting", "AccountId": "111122223333",
                      "Arn": "arn:aws:iam::111122223333:user/svc-reporting"}
    assert actor["Role"] == "actor" and actor["Arn"] == "arn:aws:iam::111122223333:user/ci-deploy"
    assert ip == {"Type": "ip", "Address": "203.0.113.66"}


def test_entities_use_the_partition_of_the_actor():
    identity = {"type": "IAMUser", "userName": "ops", "accountId": "123456789012",
                "arn": "arn:aws-us-gov:iam::123456789012:user/ops"}
    alert = make_alert(RULE, Record(record(False, awsRegion="us-gov-west-1", recipientAccountId="123456789012",
                                           userIdentity=identity)))
    assert alert.row["Entities"][0]["Arn"] == "arn:aws-us-gov:iam::123456789012:user/alice"


@pytest.mark.parametrize("source_ip, addresses", [
    ("AWS Internal", []), ("iam.amazonaws.com", []), ("203.0.113.1, 198.51.100.2", ["203.0.113.1", "198.51.100.2"]),
    ("2001:db8::1", ["2001:db8::1"])])
def test_ip_entities_only_for_addresses(source_ip, addresses):
    alert = make_alert(RULE, Record(record(False, sourceIPAddress=source_ip)))
    assert [e["Address"] for e in alert.row["Entities"] if e["Type"] == "ip"] == addresses


@pytest.mark.parametrize("odd", [
    {"eventName": 237}, {"requestParameters": ["a", "list"]}, {"userIdentity": None}, {"userIdentity": "root"},
    {"responseElements": "garbage"}, {"eventTime": "yesterday"}, {"eventVersion": "99.0"}, {"eventID": None},
    {"requestParameters": {"userName": {"nested": 1}, "passwordResetRequired": False}},
])
def test_records_with_odd_types_are_judged_not_crashed_on(odd):
    raw = record(False, **odd)
    result = RULE.matches(Record(raw))
    if result:
        orjson.dumps(make_alert(RULE, Record(raw)).as_dict())


def test_sentinel_row_matches_like_the_original_query():
    from trailhound.records.formats import parse

    from ..records.test_formats import SENTINEL_ROW

    (raw,) = parse(orjson.dumps(SENTINEL_ROW)).records
    alert = make_alert(RULE, Record(raw))
    assert RULE.matches(Record(raw)) and alert.row["TargetUserName"] == "svc-reporting"
    assert alert.row["EventID"] == "s-1" and alert.row["Outcome"] == "success"


@pytest.mark.parametrize("rule_cls", ALL_RULES, ids=lambda c: c.id)
def test_every_rules_own_examples_hold(rule_cls):
    rule = rule_cls()
    assert rule.examples, f"{rule.id} has no examples"
    for example in rule.examples:
        rec = Record(example.record)
        assert rule.matches(rec) == example.expect, example.name
        if example.expect:
            row = rule.row(rec)
            for key, value in example.expect_row.items():
                assert row[key] == value, example.name
    assert get_rule(rule.id.lower()).id == rule.id
