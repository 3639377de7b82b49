"""The Sentinel portal's CSV export: `TimeGenerated [UTC]` in the browser's locale, read to UTC, with the
day/month order decided per file from its values."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from trailhound.engine.evaluate import ScanOptions
from trailhound.engine.rules import load_rules
from trailhound.records.formats import parse
from trailhound.records.record import Record
from trailhound.records.times import day_order, portal_time
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.sources.files import FileInput

from ..helpers import write

HEADER = ("TenantId,SourceSystem,TimeGenerated [UTC],EventVersion,EventSource,EventName,EventTypeName,AWSRegion,"
          "AwsEventId,UserIdentityType,UserIdentityUserName,UserIdentityArn,SourceIpAddress,RequestParameters,"
          "RecipientAccountId")


def _row(time: str, event_id: str) -> str:
    return (f'00000000-0000-0000-0000-000000000000,RestAPI,"{time}",1.08,iam.amazonaws.com,CreateLoginProfile,'
            f"AwsApiCall,us-east-1,{event_id},IAMUser,ci-deploy,arn:aws:iam::111122223333:user/ci-deploy,"
            f'203.0.113.66,"{{""userName"":""bob"",""passwordResetRequired"":false}}",111122223333')


def _csv(*rows: str) -> bytes:
    return ("\n".join((HEADER, *rows)) + "\n").encode()


def test_microsofts_portal_header_and_day_first_values_read_to_utc():
    doc = parse(_csv(_row("21/04/2025, 09:45:54.000", "a"), _row("1/05/2025, 10:00:00.000", "b")))
    assert [Record(r).time for r in doc.records] == [datetime(2025, 4, 21, 9, 45, 54, tzinfo=UTC),
                                                     datetime(2025, 5, 1, 10, 0, tzinfo=UTC)]
    assert doc.notices == [] and doc.problem is None


def test_us_locale_month_first_with_a_12_hour_clock():
    doc = parse(_csv(_row("6/8/2018, 3:31:37.000 PM", "a"), _row("6/13/2018, 12:05:00.000 AM", "b")))
    assert [Record(r).time_text for r in doc.records] == ["2018-06-08T15:31:37Z", "2018-06-13T00:05:00Z"]
    assert doc.notices == []


def test_when_no_value_settles_the_order_the_assumption_is_said():
    (assumed,) = parse(_csv(_row("6/8/2018, 3:31:37.000 PM", "a"))).notices
    assert "month first" in assumed and "6/8/2018" in assumed
    (assumed,) = parse(_csv(_row("06/08/2018, 15:31:37.000", "a"))).notices
    assert "day first" in assumed


def test_day_order_is_settled_by_any_value_with_a_day_above_12():
    assert day_order(["1/2/2025, 10:00:00.000", "2/13/2025, 10:00:00.000"]) == (False, True)
    assert day_order(["13/2/2025, 10:00:00.000"]) == (True, True)
    assert portal_time("31/02/2025, 10:00:00.000", True) is None  # not a date: left as it was


def test_portal_times_drive_the_failed_call_step_and_since_until(tmp_path):
    path = write(tmp_path / "export.csv", _csv(_row("21/04/2025, 09:45:54.000", "in"), _row("19/04/2025, 09:00:00.000",
                                                                                       "before")))
    options = ScanOptions(since=datetime(2025, 4, 20, tzinfo=UTC))
    result = scan_inputs(Run(load_rules(), options), [FileInput(str(path))])
    assert [a.row["EventID"] for a in result.alerts] == ["in"]
    assert result.alerts[0].row["TimeGenerated"] == "2025-04-21T09:45:54Z"
    assert result.summary.out_of_range == 1 and result.summary.undated == 0


def test_json_rows_from_the_portal_read_the_same_in_arrays_and_lines():
    rows = [{"TimeGenerated [UTC]": "21/04/2025, 09:45:54.000", "EventName": "ListUsers", "AwsEventId": "j"},
            {"TimeGenerated [UTC]": "1/05/2025, 09:00:00.000", "EventName": "ListUsers", "AwsEventId": "k"}]
    for data in (orjson.dumps(rows), b"\n".join(orjson.dumps(r) for r in rows)):
        assert [Record(r).time_text for r in parse(data).records] == ["2025-04-21T09:45:54Z", "2025-05-01T09:00:00Z"]


def test_log_analytics_api_times_with_seven_decimals_read_as_they_are():
    tables = {"tables": [{"name": "PrimaryResult", "columns": [{"name": "TimeGenerated", "type": "datetime"},
                                                               {"name": "EventName", "type": "string"}],
                          "rows": [["2025-04-21T09:45:54.1234567Z", "ListUsers"]]}]}
    (got,) = parse(orjson.dumps(tables)).records
    assert Record(got).time == datetime(2025, 4, 21, 9, 45, 54, 123456, tzinfo=UTC)
