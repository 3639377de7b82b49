"""Sentinel's eventGroupingSettings: AlertPerResult raises one alert per result row, SingleAlert one per
evaluation carrying every result (and Sentinel's default, SingleAlert, when a YAML rule does not say)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from trailhound.engine.kql.load import load_rule_file
from trailhound.engine.kql.rule import RunView, kql_rule
from trailhound.engine.kql.table import cloudtrail_row
from trailhound.records.record import Record

from ...helpers import record

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
ROWS = [cloudtrail_row(Record(record(eventID=f"e-{i}", user=f"victim-{i}"), f"g-{i}.json")) for i in range(3)]


def _rule_file(tmp_path: Path, grouping: str | None) -> Path:
    setting = f"eventGroupingSettings:\n  aggregationKind: {grouping}\n" if grouping else ""
    path = tmp_path / f"rule-{grouping}.yaml"
    path.write_text(
        "id: 3f1c0c9e-0000-4000-8000-000000000014\nname: Login profiles\nseverity: Medium\n"
        "queryFrequency: 1h\nqueryPeriod: 1h\ntriggerOperator: gt\ntriggerThreshold: 0\n" + setting +
        "query: |\n  AWSCloudTrail\n  | where EventName == \"CreateLoginProfile\"\n"
        "  | project TimeGenerated, AwsEventId, Target = tostring(parse_json(RequestParameters).userName)\n")
    return path


def _alerts(path: Path) -> list:
    return kql_rule(load_rule_file(path)).conclude(ROWS, RunView(now=NOW, scheduled=False))


def test_alert_per_result_raises_one_alert_per_row(tmp_path: Path) -> None:
    alerts = _alerts(_rule_file(tmp_path, "AlertPerResult"))
    assert sorted(a.row["AwsEventId"] for a in alerts) == ["e-0", "e-1", "e-2"]


def test_single_alert_raises_one_alert_carrying_every_result(tmp_path: Path) -> None:
    alerts = _alerts(_rule_file(tmp_path, "SingleAlert"))
    assert len(alerts) == 1
    assert alerts[0].row["EventCount"] == 3
    assert sorted(e["Target"] for e in alerts[0].row["Events"]) == ["victim-0", "victim-1", "victim-2"]


def test_a_yaml_rule_without_the_setting_gets_sentinels_default_single_alert(tmp_path: Path) -> None:
    assert len(_alerts(_rule_file(tmp_path, None))) == 1


def test_the_single_alert_of_other_results_is_another_alert(tmp_path: Path) -> None:
    rule = kql_rule(load_rule_file(_rule_file(tmp_path, "SingleAlert")))
    first = rule.conclude(ROWS, RunView(now=NOW, scheduled=False))
    second = rule.conclude(ROWS[:2], RunView(now=NOW, scheduled=False))
    assert first[0].key != second[0].key
