"""Sentinel's entityMappings become the alert's entities; without them, the caller and address the query kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from trailhound.engine.kql.load import load_rule_file
from trailhound.engine.kql.rule import RunView, kql_rule
from trailhound.records.record import Record

from ...helpers import record

ANALYTIC = """\
id: 11111111-2222-3333-4444-555555555555
name: Login profile created
severity: High
queryFrequency: 1h
queryPeriod: 1h
triggerOperator: gt
triggerThreshold: 0
query: |
  AWSCloudTrail
  | where EventName == "CreateLoginProfile"
  | extend TargetUser = tostring(parse_json(RequestParameters).userName)
  | project TimeGenerated, UserIdentityArn, UserIdentityAccountId, SourceIpAddress, TargetUser
entityMappings:
  - entityType: Account
    fieldMappings:
      - identifier: Name
        columnName: TargetUser
      - identifier: CloudAppAccountId
        columnName: UserIdentityAccountId
  - entityType: IP
    fieldMappings:
      - identifier: Address
        columnName: SourceIpAddress
  - entityType: CloudApplication
    fieldMappings:
      - identifier: Name
        columnName: NotAColumn
"""


def _alert(tmp_path: Path, text: str, name: str):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text)
    rule = kql_rule(load_rule_file(path))
    row = rule.keep(Record(record(user="victim")))
    (alert,) = rule.conclude([row] if row else [], RunView(now=datetime(2026, 11, 27, 14, 30, tzinfo=UTC)))
    return alert


def test_entity_mappings_become_the_alerts_entities(tmp_path):
    alert = _alert(tmp_path, ANALYTIC, "rule.yaml")
    assert alert.row["Entities"] == [
        {"Type": "account", "Role": "actor", "Name": "victim", "AccountId": "111122223333"},
        {"Type": "ip", "Address": "203.0.113.66"},
    ]  # the mapping whose column the query does not output gives no entity


def test_without_entity_mappings_the_caller_and_address_are_the_entities(tmp_path):
    query = 'AWSCloudTrail | where EventName == "CreateLoginProfile" | project UserIdentityArn, SourceIpAddress\n'
    alert = _alert(tmp_path, query, "plain.kql")
    assert alert.row["Entities"] == [
        {"Type": "account", "Role": "actor", "Name": "ci-deploy", "AccountId": "",
         "Arn": "arn:aws:iam::111122223333:user/ci-deploy"},
        {"Type": "ip", "Address": "203.0.113.66"},
    ]
