"""What a rule is: metadata from its use case, needles for the prefilter, and two small functions.

A rule knows nothing of files, S3 or Spark: it sees one `Record` at a time and says whether it matches and
what the alert shows. Severity, dedup, allowlists and delivery are the engine's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...records.record import Record

SEVERITIES = ("Informational", "Low", "Medium", "High", "Critical")


def lower_severity(severity: str, steps: int = 1) -> str:
    return SEVERITIES[max(0, SEVERITIES.index(severity) - steps)]


def raise_severity(severity: str, steps: int = 1) -> str:
    return SEVERITIES[min(len(SEVERITIES) - 1, SEVERITIES.index(severity) + steps)]


@dataclass(frozen=True)
class Example:
    """A record the rule must (or must not) match: documentation that runs as a test."""

    name: str
    record: dict
    expect: bool
    expect_row: dict[str, Any] = field(default_factory=dict)


class Rule:
    id: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[str] = "1.0"
    description: ClassVar[str] = ""
    attack: ClassVar[str] = ""  # how the attack works, in the use case's words
    permission_required: ClassVar[str] = ""
    false_positives: ClassVar[list[str]] = []
    blind_spots: ClassVar[list[str]] = []
    response_actions: ClassVar[list[str]] = []
    references: ClassVar[list[str]] = []
    tactics: ClassVar[list[str]] = []  # "TA0003 Persistence"
    techniques: ClassVar[list[str]] = []  # "T1098.001"
    severity: ClassVar[str] = "Medium"
    # Case-insensitive literals that every raw record this rule can match contains, lower-case bytes.
    # The engine skips records and files holding none of them; they must never change results.
    needles: ClassVar[list[bytes]] = []
    # Other needle lists, each of which every matchable record holds too (its event source, say). Files
    # are searched for one list per rule: the first one searched anyway for a collector, else `needles`;
    # a record the search lets by must then hold a member of every list before it is parsed.
    also_needles: ClassVar[list[list[bytes]]] = []
    # The exact eventNames the rule can match, when it knows them: lets API sources (event history) ask
    # for those events only. Empty: the rule cannot say, and such sources fetch every event.
    event_names: ClassVar[list[str]] = []
    examples: ClassVar[list[Example]] = []

    def matches(self, record: Record) -> bool:
        raise NotImplementedError

    def row(self, record: Record) -> dict[str, Any]:
        """The alert's columns for a matching record, in the order the alert shows them."""
        raise NotImplementedError

    def entities(self, record: Record, row: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "version": self.version, "severity": self.severity,
            "tactics": self.tactics, "techniques": self.techniques, "description": self.description,
            "attack": self.attack, "permission_required": self.permission_required,
            "false_positives": self.false_positives, "blind_spots": self.blind_spots,
            "response_actions": self.response_actions, "references": self.references,
        }
