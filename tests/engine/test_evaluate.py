"""scan_input and evaluate as pure functions: one input in, its alerts, related events and counts out."""

from __future__ import annotations

from datetime import UTC, datetime

from trailhound.context.collect import RelatedEvents
from trailhound.engine.evaluate import InputResult, ScanOptions, evaluate, matcher_for, scan_input
from trailhound.engine.rules import load_rules
from trailhound.records.record import Record
from trailhound.sources.files import FileInput

from ..helpers import record, write

RULE = "0xFF-0237"  # CreateLoginProfile for another, existing user
DAY = datetime(2026, 11, 27, tzinfo=UTC)


class _Raises:
    """A rule whose code breaks on some record: what one odd record must not turn into a lost scan."""

    id = "TEST-RAISES"
    needles = [b"createloginprofile"]

    def matches(self, record: Record) -> bool:
        raise KeyError("boom")


class _Anything:
    """A rule without needles: it could match any record."""

    id = "TEST-ANY"
    needles: list[bytes] = []


def _evaluate(records, rules=None, **options) -> InputResult:
    result = InputResult(origin="test")
    evaluate(records, load_rules([RULE]) if rules is None else rules, ScanOptions(**options), result)
    return result


def test_evaluate_counts_every_record_and_alerts_on_matches():
    result = _evaluate([record(eventID="a"), record(eventID="b", eventName="GetUser"), record(eventID="c")])
    assert result.records == 3 and [a.row["EventID"] for a in result.alerts] == ["a", "c"]
    assert result.alerts[0].origin == "test" and result.alerts[0].rule_id == RULE


def test_since_and_until_count_records_outside_them_and_judge_nothing_there():
    records = [record(eventID="early", eventTime="2026-11-26T23:59:59Z"), record(eventID="in"),
               record(eventID="late", eventTime="2026-11-28T00:00:01Z")]
    result = _evaluate(records, since=DAY, until=DAY.replace(hour=23, minute=59, second=59))
    assert result.records == 3 and result.out_of_range == 2
    assert [a.row["EventID"] for a in result.alerts] == ["in"]


def test_an_undated_record_is_counted_and_still_judged_under_since():
    result = _evaluate([record(eventTime="yesterday")], since=DAY)
    assert result.undated == 1 and result.out_of_range == 0 and len(result.alerts) == 1


def test_without_since_or_until_an_undated_record_is_not_counted_as_undated():
    assert _evaluate([record(eventTime="yesterday")]).undated == 0


def test_a_rule_that_raises_counts_the_record_unreadable_names_the_rule_and_others_still_judge():
    result = _evaluate([record(eventID="a"), record(eventID="b")], rules=[_Raises(), *load_rules([RULE])])
    assert result.unreadable == 2 and len(result.alerts) == 2
    assert result.problem == "rule TEST-RAISES could not judge a record (KeyError)"


def test_collectors_keep_their_related_events_beside_the_alerts():
    login = record(eventID="l", eventSource="signin.amazonaws.com", eventName="ConsoleLogin",
                   userIdentity={"type": "IAMUser", "userName": "alice", "accountId": "111122223333"})
    result = _evaluate([record(eventID="a"), login], collectors=(RelatedEvents(),))
    assert [e["Key"] for e in result.related] == ["a", "l"] and len(result.alerts) == 1


def test_scan_input_reads_a_file_and_counts_what_was_not_a_record(tmp_path):
    write(tmp_path / "a.json", [record(eventID="a"), {"not": "a record"}, record(eventID="b", eventName="GetUser")])
    result = scan_input(FileInput(str(tmp_path / "a.json")), load_rules([RULE]), ScanOptions(prefilter=False))
    assert result.origin == str(tmp_path / "a.json") and result.bytes == (tmp_path / "a.json").stat().st_size
    assert result.records == 2 and result.unreadable == 1 and len(result.alerts) == 1


def test_scan_input_skips_a_file_without_any_needle_unparsed(tmp_path):
    write(tmp_path / "a.json", {"Records": [record(eventName="GetUser")]})
    result = scan_input(FileInput(str(tmp_path / "a.json")), load_rules([RULE]), ScanOptions())
    assert result.prefiltered and result.records == 0 and result.alerts == []  # never parsed: nothing to count
    assert result.bytes == (tmp_path / "a.json").stat().st_size


def test_scan_input_turns_a_missing_file_into_its_problem(tmp_path):
    result = scan_input(FileInput(str(tmp_path / "gone.json")), load_rules([RULE]), ScanOptions())
    assert result.problem is not None and result.problem.startswith("cannot read") and result.alerts == []


def test_matcher_for_searches_a_rules_first_needle_list_and_keeps_all_of_its_lists():
    matcher = matcher_for(load_rules([RULE]), ScanOptions())
    assert matcher is not None and matcher.needles == [b"createloginprofile"]
    assert matcher.consumers == [((b"createloginprofile",), (b"iam.amazonaws.com",))]


def test_matcher_for_lets_a_rule_take_a_needle_list_the_collectors_search_anyway():
    matcher = matcher_for(load_rules([RULE]), ScanOptions(collectors=(RelatedEvents(),)))
    assert matcher is not None
    assert matcher.needles == [b"iam.amazonaws.com", b"signin.amazonaws.com"]  # not createloginprofile too


def test_matcher_for_is_none_when_the_prefilter_is_off_or_something_declares_no_needle():
    assert matcher_for(load_rules([RULE]), ScanOptions(prefilter=False)) is None
    assert matcher_for([*load_rules([RULE]), _Anything()], ScanOptions()) is None
    assert matcher_for([], ScanOptions()) is None
