"""Alerts: a rule's row plus what every alert carries (ids, outcome, severity, title, resource, entities).

Generic stages read only the generic fields (GENERIC_COLUMNS), never a rule's own columns: a rule's title,
resource and entities say, in generic terms, what its columns mean.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ..records.record import Record, as_text
from .severity import Severity

# Every row: the event's time first (TimeGenerated, as the original query names it), then the rule's own
# columns, then these, which every alert carries and generic stages read.
LEADING_COLUMNS = ("TimeGenerated",)
GENERIC_COLUMNS = ("RuleId", "RuleName", "Title", "EventID", "RecipientAccountId", "Outcome", "Severity",
                   "DedupEntity", "Tactics", "Techniques", "Resource", "Entities")
DEFAULT_DEDUP_FIELDS = ("EventID",)


class RuleText(Protocol):
    """What a finding (OCSF, ASFF) quotes from the rule that raised an alert. Alerts sit below the engine:
    whoever knows the rule (a sink, the CLI) hands it in; an alert of a rule this build lacks has none."""

    # Read-only (properties): a rule declares them as class variables.
    @property
    def description(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def response_actions(self) -> Sequence[str]: ...


def event_key(record: Record) -> str:
    """What makes an event the same event: its eventID, or a digest of its content when it has none."""
    return record.event_id or "sha1:" + hashlib.sha1(orjson.dumps(record.raw, option=orjson.OPT_SORT_KEYS),
                                                     usedforsecurity=False).hexdigest()


def dedup_entity(row: dict[str, Any], fields: Sequence[str]) -> str:
    """The original's DedupEntity: the dedup fields' values, fields sorted by name, joined with '|'."""
    return "|".join(as_text(row.get(name)) for name in sorted(fields))


@dataclass
class Alert:
    row: dict[str, Any]
    raw: dict[str, Any]
    origin: str = ""
    key: str = ""  # rule id + event key: the same event never alerts twice for a rule

    @property
    def id(self) -> str:
        return hashlib.sha1(self.key.encode(), usedforsecurity=False).hexdigest()[:16]

    @property
    def rule_id(self) -> str:
        return str(self.row["RuleId"])

    @property
    def severity(self) -> Severity:
        return Severity.parse(self.row["Severity"], f"alert {self.id}: Severity")

    @property
    def title(self) -> str:
        return str(self.row.get("Title") or self.row.get("RuleName") or self.rule_id)

    @property
    def resource(self) -> dict[str, Any]:
        """What the alert concerns (Type, Name, AccountId, Arn); {} for an alert stored before it had one."""
        value = self.row.get("Resource")
        return value if isinstance(value, dict) else {}

    def entity(self, role: str) -> dict[str, Any]:
        """The account entity with this Role ("target", "actor"), or {}."""
        return next((e for e in self.row.get("Entities") or []
                     if e.get("Type") == "account" and e.get("Role") == role), {})

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.row["TimeGenerated"], self.row["EventID"])

    def as_dict(self) -> dict[str, Any]:
        return {**self.row, "AlertId": self.id}
