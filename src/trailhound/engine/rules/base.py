"""What a rule is: its use case, the events it reads, its row, title, resource and entities, and its examples.

A rule knows nothing of files, S3 or Spark: it sees one `Record` at a time and says whether it matches and
what the alert shows. Everything particular to the detection lives with the rule, so generic stages
(rendering, OCSF, ASFF, sinks, context, respond) read only what every alert carries (`Title`, `Resource`,
`Entities`, ...). Dedup, allowlists and delivery are the engine's business.

A rule declares its event source and names once; the prefilter's needles and the event-history filter are
derived from them (`__init_subclass__`), and a rule may add needles of its own (`extra_needles`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ...alerts.alert import DEFAULT_DEDUP_FIELDS, Alert, dedup_entity, event_key
from ...alerts.severity import Severity
from ...records.record import Record, as_text

if TYPE_CHECKING:
    from ...context.plugin import ContextPlugin


@dataclass(frozen=True)
class Example:
    """A record the rule must (or must not) match: documentation that runs as a test."""

    name: str
    record: dict[str, Any]
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
    response_actions: ClassVar[list[str]] = []  # the playbook, in words
    respond_actions: ClassVar[tuple[str, ...]] = ()  # the `trailhound respond` actions that undo this alert
    references: ClassVar[list[str]] = []
    tactics: ClassVar[list[str]] = []  # "TA0003 Persistence"
    techniques: ClassVar[list[str]] = []  # "T1098.001"
    severity: ClassVar[Severity] = Severity.MEDIUM
    # Shipped rules run unless `--rule` names others; a rule whose alerts would change what a deployment
    # already sees (the demo's story, a benchmark's count) may ship off until its owners turn it on.
    enabled: ClassVar[bool] = True
    # The event source ("iam.amazonaws.com") and the exact eventNames the rule can match. The prefilter's
    # needles come from them: every matchable record holds one of the names and the source. API sources
    # (event history) ask for those events only.
    event_source: ClassVar[str] = ""
    event_names: ClassVar[list[str]] = []
    extra_needles: ClassVar[list[list[bytes]]] = []  # further lists every matchable record holds one of
    # The row the rule shows, in order (generic fields follow it; see alerts.alert.GENERIC_COLUMNS).
    columns: ClassVar[tuple[str, ...]] = ()
    context: ClassVar[type[ContextPlugin] | None] = None  # a context plug-in ranking this rule's alerts
    examples: ClassVar[list[Example]] = []

    # Derived, never declared: case-insensitive literals every raw record this rule can match contains,
    # lower-case bytes. The engine skips records and files holding none of them; they never change results.
    needles: ClassVar[list[bytes]] = []
    also_needles: ClassVar[list[list[bytes]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.needles = [name.lower().encode() for name in cls.event_names]
        source = [[cls.event_source.lower().encode()]] if cls.event_source else []
        cls.also_needles = [*source, *([n.lower() for n in extra] for extra in cls.extra_needles)]

    def is_call(self, record: Record) -> bool:
        """An API call to one of this rule's events, every part compared case-insensitively."""
        return (record.event_source.lower() == self.event_source.lower()
                and record.event_name.lower() in {n.lower() for n in self.event_names}
                and record.event_type.lower() == "awsapicall")

    # A run-wide rule (a KQL rule) judges the run's table, not one record: per input it only `keep`s the
    # rows it needs (pure, anywhere), and `conclude` raises its alerts once per run, in the driver.
    run_wide: ClassVar[bool] = False

    def keep(self, record: Record) -> dict[str, Any] | None:
        return None

    def conclude(self, rows: list[dict[str, Any]], view: Any) -> list[Alert]:
        raise NotImplementedError

    def matches(self, record: Record) -> bool:
        raise NotImplementedError

    def row(self, record: Record) -> dict[str, Any]:
        """The alert's columns for a matching record, in `columns` order."""
        raise NotImplementedError

    def title(self, row: dict[str, Any], quote: Callable[[Any], str] = str) -> str:
        """One line saying what happened, for Slack, SNS, ASFF, OCSF and the table. Each value from the log
        goes through `quote`, so a destination can mark it up (Slack puts each in inline code)."""
        return self.name

    def resource(self, record: Record, row: dict[str, Any]) -> dict[str, Any]:
        """What the alert concerns: Type (an AWS resource type), Name, AccountId and Arn where known."""
        return {}

    def entities(self, record: Record, row: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "version": self.version, "severity": str(self.severity),
            "tactics": self.tactics, "techniques": self.techniques, "description": self.description,
            "attack": self.attack, "permission_required": self.permission_required,
            "false_positives": self.false_positives, "blind_spots": self.blind_spots,
            "response_actions": self.response_actions, "respond_actions": list(self.respond_actions),
            "references": self.references, "columns": list(self.columns),
        }


# Helpers the IAM rules share: who is named, who called, and the entities of "a caller acted on a user".

def named_user(record: Record) -> str | None:
    """requestParameters.userName, or None when the call names nobody (it then acts on the caller)."""
    named = record.request.get("userName")
    return None if named in (None, "") else as_text(named)


def acts_on_itself(record: Record) -> bool:
    """The caller acting on its own IAM user: no userName (the API's caller default), or an IAMUser identity
    whose own userName is the one named. Never an ARN suffix: assumed-role/Admin/bob is not IAM user bob."""
    named = named_user(record)
    if named is None:
        return True
    return record.identity_text("type").lower() == "iamuser" and record.identity_text("userName") == named


def iam_user_resource(record: Record, user: str) -> dict[str, Any]:
    """An IAM user as an alert's Resource; its ARN assumes the path "/", which these calls do not record."""
    account = record.recipient_account or record.actor_account
    resource: dict[str, Any] = {"Type": "AwsIamUser", "Name": user, "AccountId": account}
    if account and user:
        is_root = user == "root" and record.identity_text("type").lower() == "root"
        resource["Arn"] = f"arn:{record.partition}:iam::{account}:{'root' if is_root else f'user/{user}'}"
    return resource


def actor_and_addresses(record: Record) -> list[dict[str, Any]]:
    """The calling identity (Role "actor") and the source addresses, for any rule on an API call."""
    arn, name = record.identity_text("arn"), record.identity_text("userName")
    actor: dict[str, Any] = {"Type": "account", "Role": "actor", "Name": name or arn.rsplit("/", 1)[-1],
                             "AccountId": record.actor_account}
    if arn:
        actor["Arn"] = arn
    elif record.actor_account and name:
        actor["Arn"] = f"arn:{record.partition}:iam::{record.actor_account}:user/{name}"
    entities = [actor]
    # sourceIPAddress may be a service name ("AWS Internal") or two comma-separated addresses.
    for part in record.source_ip.split(","):
        try:
            entities.append({"Type": "ip", "Address": str(ipaddress.ip_address(part.strip()))})
        except ValueError:
            continue
    return entities


def target_entity(resource: dict[str, Any]) -> dict[str, Any]:
    """The Resource an IAM rule concerns, as its "target" account entity."""
    entity = {"Type": "account", "Role": "target", "Name": resource.get("Name", ""),
              "AccountId": resource.get("AccountId", "")}
    if resource.get("Arn"):
        entity["Arn"] = resource["Arn"]
    return entity


def example_call(event_name: str, request: dict[str, Any], response: Any = None, **extra: Any) -> dict[str, Any]:
    """An IAM API call by IAM user mallory for a rule's examples; `extra` replaces top-level fields."""
    record = {
        "eventVersion": "1.09", "eventTime": "2024-08-01T13:42:21Z", "eventSource": "iam.amazonaws.com",
        "eventName": event_name, "eventType": "AwsApiCall", "awsRegion": "us-east-1",
        "eventID": "0f0e0d0c-0000-4000-8000-000000000237", "recipientAccountId": "111122223333",
        "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15.0",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": "111122223333",
                         "arn": "arn:aws:iam::111122223333:user/mallory"},
        "requestParameters": request,
        "responseElements": response,
    }
    record.update(extra)
    return record


_UNREADABLE_REQUEST = " (requestParameters present but unreadable: what the request asked for is not known)"


def make_alert(rule: Rule, record: Record, dedup_fields: Sequence[str] = DEFAULT_DEDUP_FIELDS) -> Alert:
    """The alert for a record the rule matched: the time, the rule's row, then what every alert carries."""
    ekey = event_key(record)
    # A failed call still alerts (someone tried); the run ranks it below a success once every ranking is done
    # (alerts.severity.failed_call), so the rule's severity is where every alert starts.
    severity = rule.severity
    row: dict[str, Any] = {"TimeGenerated": record.time_text, **rule.row(record)}
    row.update({
        "RuleId": rule.id,
        "RuleName": rule.name,
        "Title": rule.title(row) + (_UNREADABLE_REQUEST if record.request_unreadable else ""),
        "EventID": record.event_id or ekey,
        "RecipientAccountId": record.recipient_account,
        "Outcome": "success" if record.succeeded else "failure",
        "Severity": str(severity),
        "DedupEntity": "",
        "Tactics": list(rule.tactics),
        "Techniques": list(rule.techniques),
        "Resource": rule.resource(record, row),
    })
    row["Entities"] = rule.entities(record, row)
    row["DedupEntity"] = dedup_entity(row, dedup_fields)
    return Alert(row=row, raw=record.raw, origin=record.origin, key=f"{rule.id}|{ekey}")
