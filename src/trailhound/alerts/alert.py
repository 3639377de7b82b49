"""Alerts: a rule's row plus what every alert carries (ids, outcome, severity, dedup entity, ATT&CK, entities)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..records.record import Record, as_text
from ..engine.rules.base import Rule, lower_severity

# The original query's columns, in its order, then trailhound's.
RULE_COLUMNS = ("TimeGenerated", "TargetUserName", "UserIdentityUserName", "UserIdentityType", "UserIdentityArn",
                "AWSRegion", "SourceIpAddress", "UserAgent")
ALERT_COLUMNS = RULE_COLUMNS + ("RuleId", "RuleName", "EventID", "RecipientAccountId", "Outcome", "Severity",
                                "DedupEntity", "Tactics", "Techniques", "Entities")
DEFAULT_DEDUP_FIELDS = ("EventID",)


def event_key(record: Record) -> str:
    """What makes an event the same event: its eventID, or a digest of its content when it has none."""
    return record.event_id or "sha1:" + hashlib.sha1(orjson.dumps(record.raw, option=orjson.OPT_SORT_KEYS),
                                                     usedforsecurity=False).hexdigest()


def dedup_entity(row: dict[str, Any], fields: tuple[str, ...] | list[str]) -> str:
    """The original's DedupEntity: the dedup fields' values, fields sorted by name, joined with '|'."""
    return "|".join(as_text(row.get(name)) for name in sorted(fields))


@dataclass
class Alert:
    row: dict[str, Any]
    raw: dict[str, Any]
    origin: str = ""
    key: str = ""  # rule id + event key: the same event never alerts twice for a rule
    extra: dict[str, Any] = field(default_factory=dict)  # rule-independent additions (context, reasons)

    @property
    def id(self) -> str:
        return hashlib.sha1(self.key.encode(), usedforsecurity=False).hexdigest()[:16]

    @property
    def rule_id(self) -> str:
        return self.row["RuleId"]

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.row["TimeGenerated"], self.row["EventID"])

    def as_dict(self) -> dict[str, Any]:
        return {**self.row, **self.extra, "AlertId": self.id}


def make_alert(rule: Rule, record: Record, dedup_fields: tuple[str, ...] | list[str] = DEFAULT_DEDUP_FIELDS
               ) -> Alert:
    row = rule.row(record)
    ekey = event_key(record)
    outcome = "success" if record.succeeded else "failure"
    # A failed call gave nobody a password, but shows someone trying: still an alert, one step lower.
    severity = rule.severity if record.succeeded else lower_severity(rule.severity)
    row.update({
        "RuleId": rule.id,
        "RuleName": rule.name,
        "EventID": record.event_id or ekey,
        "RecipientAccountId": record.recipient_account,
        "Outcome": outcome,
        "Severity": severity,
        "DedupEntity": "",
        "Tactics": list(rule.tactics),
        "Techniques": list(rule.techniques),
    })
    row["Entities"] = rule.entities(record, row)
    row["DedupEntity"] = dedup_entity(row, dedup_fields)
    return Alert(row=row, raw=record.raw, origin=record.origin, key=f"{rule.id}|{ekey}")
