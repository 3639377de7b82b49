"""Record's accessors on the odd types attackers and broken exporters write: a record is judged on what it has."""

from __future__ import annotations

from datetime import UTC, datetime

from trailhound.records.record import Record, as_text, from_sentinel_row, parse_time


def test_a_number_for_event_name_reads_as_its_text():
    assert Record({"eventName": 42}).event_name == "42"


def test_a_boolean_reads_lower_case_and_null_as_empty():
    assert Record({"errorCode": True, "eventSource": None}).error_code == "true"
    assert Record({"eventSource": None}).event_source == ""


def test_a_list_for_request_parameters_reads_as_no_parameters():
    assert Record({"requestParameters": ["userName", "alice"]}).request == {}


def test_request_parameters_as_a_json_string_are_parsed():
    assert Record({"requestParameters": '{"userName": "alice"}'}).request == {"userName": "alice"}


def test_a_json_string_that_is_not_an_object_reads_as_no_parameters():
    assert Record({"requestParameters": '{"userName": '}).request == {}
    assert Record({"responseElements": "[1, 2]"}).response == {}


def test_a_null_user_identity_has_no_fields_and_the_account_falls_back_to_the_recipient():
    record = Record({"userIdentity": None, "recipientAccountId": "111122223333"})
    assert record.identity == {} and record.identity_text("arn") == ""
    assert record.actor_account == "111122223333" and record.session_issuer == {}


def test_user_identity_as_a_json_string_is_parsed():
    record = Record({"userIdentity": '{"type": "IAMUser", "accountId": "444455556666"}'})
    assert record.identity_text("type") == "IAMUser" and record.actor_account == "444455556666"


def test_a_failed_call_is_one_with_an_error_code():
    assert Record({}).succeeded and not Record({"errorCode": "AccessDenied"}).succeeded


def test_cloudtrail_times_are_kept_as_written():
    record = Record({"eventTime": "2026-11-27T14:06:00Z"})
    assert record.time == datetime(2026, 11, 27, 14, 6, tzinfo=UTC)
    assert record.time_text == "2026-11-27T14:06:00Z"


def test_other_time_forms_read_as_utc_and_are_written_as_cloudtrail_does():
    for value in ("2026-11-27 14:06:00", "2026-11-27T16:06:00+02:00", "2026-11-27T14:06:00.000Z",
                  1795788360, 1795788360000):
        record = Record({"eventTime": value})
        assert record.time == datetime(2026, 11, 27, 14, 6, tzinfo=UTC), value
        assert record.time_text == "2026-11-27T14:06:00Z", value


def test_milliseconds_are_kept_in_the_time_text():
    assert Record({"eventTime": "2026-11-27 14:06:00.250"}).time_text == "2026-11-27T14:06:00.250Z"


def test_an_unreadable_time_is_none_and_its_text_is_the_raw_value():
    for value in ("yesterday", "", True, [2026], 10**30):
        assert parse_time(value) is None, value
    assert Record({"eventTime": "yesterday"}).time_text == "yesterday"
    assert Record({}).time is None and Record({}).time_text == ""


def test_partition_comes_from_the_arn_then_the_region():
    assert Record({"userIdentity": {"arn": "arn:aws-cn:iam::1:user/a"}, "awsRegion": "us-east-1"}).partition == "aws-cn"
    assert Record({"awsRegion": "us-gov-west-1"}).partition == "aws-us-gov"
    assert Record({"awsRegion": "cn-north-1"}).partition == "aws-cn"
    assert Record({"userIdentity": {"arn": "not-an-arn"}, "awsRegion": "eu-west-1"}).partition == "aws"


def test_as_text_writes_structures_as_json():
    assert as_text({"a": [1, None]}) == '{"a":[1,null]}' and as_text(1.5) == "1.5"


def test_a_sentinel_row_is_rebuilt_as_a_native_record():
    native = from_sentinel_row({
        "TimeGenerated [UTC]": "2026-11-27T14:06:00Z", "EventName": "CreateLoginProfile", "ErrorCode": "",
        "RequestParameters": '{"userName": "alice"}', "UserIdentityArn": "arn:aws:iam::1:user/bob",
        "SessionIssuerUserName": "Admin", "SessionMfaAuthenticated": "false", "Extra": "kept"})
    assert native == {
        "eventTime": "2026-11-27T14:06:00Z", "eventName": "CreateLoginProfile",
        "requestParameters": {"userName": "alice"}, "Extra": "kept",
        "userIdentity": {"arn": "arn:aws:iam::1:user/bob",
                         "sessionContext": {"attributes": {"mfaAuthenticated": "false"},
                                            "sessionIssuer": {"userName": "Admin"}}}}
    assert Record(native).request == {"userName": "alice"} and Record(native).succeeded
