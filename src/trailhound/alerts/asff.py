"""An alert as an AWS Security Finding Format (ASFF) finding for Security Hub's BatchImportFindings.

Findings are imported into the importing identity's own account and default product (Security Hub refuses
others from a custom integration); the account the alert is about is named in the resource and ProductFields.
The title, resource and actor are what every alert carries (Title, Resource, the actor entity); region,
address and user agent come from the raw record.
"""

from __future__ import annotations

from typing import Any

from ..records.record import Record, format_time, parse_time
from .alert import Alert, RuleText
from .attack import TECHNIQUES, pairs, split_tactic

SCHEMA_VERSION = "2018-10-08"
SEVERITY_LABELS = {"Informational": "INFORMATIONAL", "Low": "LOW", "Medium": "MEDIUM", "High": "HIGH",
                   "Critical": "CRITICAL"}
_TACTIC_TYPES = {"Initial Access": "Initial Access", "Persistence": "Persistence",
                 "Privilege Escalation": "Privilege Escalation", "Defense Evasion": "Defense Evasion",
                 "Credential Access": "Credential Access", "Discovery": "Discovery"}


def finding_id(alert: Alert) -> str:
    return f"trailhound/{alert.rule_id}/{alert.id}"


def to_asff(alert: Alert, region: str, account: str, partition: str = "aws", now: str | None = None,
            rule: RuleText | None = None) -> dict[str, Any]:
    """`rule`, when the caller has it, gives the finding its description and remediation."""
    row = alert.row
    when = parse_time(row.get("TimeGenerated"))
    observed = format_time(when) if when else (now or "1970-01-01T00:00:00Z")
    if rule is not None:
        description, playbook = rule.description, rule.response_actions
    else:  # an alert stored by a rule this build no longer has
        description, playbook = str(row.get("RuleName", "")), []
    finding: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(alert),
        "ProductArn": f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default",
        "GeneratorId": f"trailhound/{alert.rule_id}",
        "AwsAccountId": account,
        "Types": _types(row),
        "FirstObservedAt": observed, "LastObservedAt": observed,
        "CreatedAt": observed, "UpdatedAt": observed,
        "Severity": {"Label": SEVERITY_LABELS.get(str(row.get("Severity")), "MEDIUM"),
                     "Original": str(row.get("Severity", ""))},
        "Title": _cut(alert.title, 256),
        "Description": _cut(description, 1024),
        "ProductName": "trailhound", "CompanyName": "trailhound",
        "ProductFields": _product_fields(alert),
        "Resources": [_resource(alert, region, partition)],
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
    }
    if playbook:
        finding["Remediation"] = {"Recommendation": {"Text": _cut(" ".join(playbook), 512)}}
    ip = next((e["Address"] for e in row.get("Entities") or [] if e.get("Type") == "ip"), None)
    if ip:
        finding["Network"] = {"Direction": "IN", ("SourceIpV6" if ":" in ip else "SourceIpV4"): ip}
    return finding


def _types(row: dict[str, Any]) -> list[str]:
    types = []
    for tactic, technique in pairs(list(row.get("Tactics") or []), list(row.get("Techniques") or [])):
        name = _TACTIC_TYPES.get(split_tactic(tactic)[1], "Persistence") if tactic else "Persistence"
        types.append(f"TTPs/{name}/{technique} {TECHNIQUES.get(technique, '')}".strip())
    return types or ["TTPs/Persistence"]


def _resource(alert: Alert, region: str, partition: str) -> dict[str, Any]:
    """The alert's Resource; its Type is already ASFF's (AwsIamUser, AwsIamAccessKey, ...)."""
    about = alert.resource
    kind = str(about.get("Type") or "Other")
    name = str(about.get("Name") or "unknown")
    resource: dict[str, Any] = {"Type": kind, "Id": str(about.get("Arn") or name), "Partition": partition,
                                "Region": Record(alert.raw).region or region}
    if kind == "AwsIamUser":
        resource["Details"] = {"AwsIamUser": {"UserName": _cut(name, 128)}}
    return resource


def _product_fields(alert: Alert) -> dict[str, str]:
    row, record = alert.row, Record(alert.raw)
    fields = {"trailhound/AlertId": alert.id, "trailhound/RuleId": alert.rule_id,
              "aws/cloudtrail/EventID": row.get("EventID"), "aws/cloudtrail/AccountId": row.get("RecipientAccountId"),
              "aws/cloudtrail/Actor": alert.entity("actor").get("Arn"), "aws/cloudtrail/SourceIp": record.source_ip,
              "aws/cloudtrail/UserAgent": record.user_agent, "trailhound/Outcome": row.get("Outcome")}
    # ProductFields values are strings of at most 4,096 characters, and empty ones are refused.
    return {key: _cut(str(value), 4096) for key, value in fields.items() if value not in (None, "")}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
