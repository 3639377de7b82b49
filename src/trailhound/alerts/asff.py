"""An alert as an AWS Security Finding Format (ASFF) finding for Security Hub's BatchImportFindings.

Findings are imported into the importing identity's own account and default product (Security Hub refuses
others from a custom integration); the account the alert is about is named in the resource and ProductFields.
"""

from __future__ import annotations

from typing import Any

from .alert import Alert
from .attack import TECHNIQUES, pairs, split_tactic
from ..records.record import format_time, parse_time

SCHEMA_VERSION = "2018-10-08"
SEVERITY_LABELS = {"Informational": "INFORMATIONAL", "Low": "LOW", "Medium": "MEDIUM", "High": "HIGH",
                   "Critical": "CRITICAL"}
_TACTIC_TYPES = {"Initial Access": "Initial Access", "Persistence": "Persistence",
                 "Privilege Escalation": "Privilege Escalation", "Defense Evasion": "Defense Evasion",
                 "Credential Access": "Credential Access", "Discovery": "Discovery"}


def finding_id(alert: Alert) -> str:
    return f"trailhound/{alert.rule_id}/{alert.id}"


def to_asff(alert: Alert, region: str, account: str, partition: str = "aws", now: str | None = None
            ) -> dict[str, Any]:
    from ..engine.rules import get_rule

    row = alert.row
    when = parse_time(row.get("TimeGenerated"))
    observed = format_time(when) if when else (now or "1970-01-01T00:00:00Z")
    try:
        rule = get_rule(alert.rule_id)
        description, playbook = rule.description, rule.response_actions
    except KeyError:
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
        "Title": _cut(f"{row.get('RuleName', alert.rule_id)}: {row.get('TargetUserName', '')}", 256),
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
    target = next((e for e in alert.row.get("Entities") or []
                   if e.get("Type") == "account" and e.get("Role") == "target"), {})
    name = str(target.get("Name") or alert.row.get("TargetUserName") or "unknown")
    return {"Type": "AwsIamUser", "Id": str(target.get("Arn") or name), "Partition": partition,
            "Region": str(alert.row.get("AWSRegion") or region),
            "Details": {"AwsIamUser": {"UserName": _cut(name, 128)}}}


def _product_fields(alert: Alert) -> dict[str, str]:
    row = alert.row
    fields = {"trailhound/AlertId": alert.id, "trailhound/RuleId": alert.rule_id,
              "aws/cloudtrail/EventID": row.get("EventID"), "aws/cloudtrail/AccountId": row.get("RecipientAccountId"),
              "aws/cloudtrail/Actor": row.get("UserIdentityArn"), "aws/cloudtrail/SourceIp": row.get("SourceIpAddress"),
              "aws/cloudtrail/UserAgent": row.get("UserAgent"), "trailhound/Outcome": row.get("Outcome")}
    # ProductFields values are strings of at most 4,096 characters, and empty ones are refused.
    return {key: _cut(str(value), 4096) for key, value in fields.items() if value not in (None, "")}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
