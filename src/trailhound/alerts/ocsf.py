"""An alert as an OCSF Detection Finding (class 2004, category 2 Findings), OCSF 1.5.0 with the cloud profile.

OCSF 1.5's Detection Finding has no top-level actor or user: the acting identity, the affected user, the
source endpoint and the raw event go in `evidences`, the affected user is also a `resources` entry, and the
API call is `api` (cloud profile). Everything comes from what every alert carries: its Title, Resource and
entities, and the raw record (region, address, user agent); the rule's description and version are handed
in by the caller, which may know the rule (alerts sit below the engine).
"""

from __future__ import annotations

from typing import Any

from ..records.record import Record, parse_time
from ..version import __version__
from .alert import Alert, RuleText
from .attack import TECHNIQUES, pairs, split_tactic
from .severity import Severity

OCSF_VERSION = "1.5.0"
CLASS_UID, CATEGORY_UID, ACTIVITY_CREATE = 2004, 2, 1
# Alert lifecycle -> OCSF finding status_id (1 New, 2 In Progress, 4 Resolved).
STATUS_IDS = {"open": (1, "New"), "acknowledged": (2, "In Progress"), "closed": (4, "Resolved")}
_USER_TYPES = {"IAMUser": 1, "Root": 3, "AssumedRole": 99, "FederatedUser": 99, "AWSService": 99}


def to_ocsf(alert: Alert, status: str = "open", rule: RuleText | None = None) -> dict[str, Any]:
    """`rule`, when the caller has it, gives the finding its description and version."""
    row = alert.row
    record = Record(alert.raw)
    when = parse_time(row.get("TimeGenerated"))
    millis = int(when.timestamp() * 1000) if when else 0
    severity = str(row.get("Severity") or "Medium")
    known = Severity.__members__.get(severity.upper())
    status_id, status_name = STATUS_IDS.get(status, (99, status))
    finding: dict[str, Any] = {
        "activity_id": ACTIVITY_CREATE, "activity_name": "Create",
        "category_uid": CATEGORY_UID, "category_name": "Findings",
        "class_uid": CLASS_UID, "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE, "type_name": "Detection Finding: Create",
        "severity_id": known.rank if known else 99, "severity": severity,
        "status_id": status_id, "status": status_name,
        "time": millis,
        "message": alert.title,
        "finding_info": _finding_info(alert, millis, rule),
        "metadata": {
            "version": OCSF_VERSION, "profiles": ["cloud"], "uid": alert.id,
            "product": {"name": "trailhound", "vendor_name": "trailhound", "version": __version__},
            "log_provider": "AWS CloudTrail",
        },
        "cloud": _cloud(row, record),
        "api": {"operation": str(alert.raw.get("eventName") or ""),
                "service": {"name": str(alert.raw.get("eventSource") or "")}},
        "resources": _resources(alert, record),
        "evidences": [_evidence(alert, record)],
        "is_alert": True,
        "unmapped": {"Outcome": row.get("Outcome"), "DedupEntity": row.get("DedupEntity"),
                     "EventID": row.get("EventID")},
    }
    if alert.raw.get("requestID"):
        finding["api"]["request"] = {"uid": str(alert.raw["requestID"])}
    return finding


def _finding_info(alert: Alert, millis: int, rule: RuleText | None) -> dict[str, Any]:
    row = alert.row
    if rule is not None:
        desc, version = rule.description, rule.version
    else:  # an alert stored by a rule this build no longer has
        desc, version = str(row.get("RuleName", "")), None
    analytic: dict[str, Any] = {"uid": alert.rule_id, "name": str(row.get("RuleName", "")), "type_id": 1,
                                "type": "Rule"}
    if version:
        analytic["version"] = version
    info: dict[str, Any] = {
        "uid": alert.id, "title": str(row.get("RuleName", alert.rule_id)), "desc": desc,
        "analytic": analytic, "attacks": _attacks(row),
        "types": [f"Rule {alert.rule_id}"], "data_sources": ["AWS CloudTrail"],
    }
    if millis:
        info["first_seen_time"] = info["last_seen_time"] = millis
    return info


def _attacks(row: dict[str, Any]) -> list[dict[str, Any]]:
    attacks = []
    for tactic, technique in pairs(list(row.get("Tactics") or []), list(row.get("Techniques") or [])):
        parent = technique.split(".")[0]
        attack: dict[str, Any] = {"version": "v15",
                                  "technique": {"uid": parent, "name": TECHNIQUES.get(parent, parent)}}
        if "." in technique:
            attack["sub_technique"] = {"uid": technique, "name": TECHNIQUES.get(technique, technique)}
        if tactic:
            uid, name = split_tactic(tactic)
            attack["tactic"] = {"uid": uid, "name": name}
        attacks.append(attack)
    return attacks


def _cloud(row: dict[str, Any], record: Record) -> dict[str, Any]:
    cloud: dict[str, Any] = {"provider": "AWS"}
    if record.region:
        cloud["region"] = record.region
    if row.get("RecipientAccountId"):
        cloud["account"] = {"uid": str(row["RecipientAccountId"]), "type_id": 10, "type": "AWS Account"}
    return cloud


def _user(entity: dict[str, Any], type_name: str = "IAMUser") -> dict[str, Any]:
    user: dict[str, Any] = {"name": str(entity.get("Name") or "")}
    if entity.get("Arn"):
        user["uid"] = str(entity["Arn"])
    if entity.get("AccountId"):
        user["account"] = {"uid": str(entity["AccountId"]), "type_id": 10, "type": "AWS Account"}
    user["type_id"] = _USER_TYPES.get(type_name, 99)
    user["type"] = type_name or "Unknown"
    return user


# ASFF resource types (a rule's Resource Type) -> CloudFormation's, which OCSF uses.
_RESOURCE_TYPES = {"AwsIamUser": "AWS::IAM::User", "AwsIamAccessKey": "AWS::IAM::AccessKey"}


def _resources(alert: Alert, record: Record) -> list[dict[str, Any]]:
    about = alert.resource
    kind = str(about.get("Type") or "")
    resource: dict[str, Any] = {"type": _RESOURCE_TYPES.get(kind, kind), "name": str(about.get("Name") or "")}
    if about.get("Arn"):
        resource["uid"] = str(about["Arn"])
        resource["cloud_partition"] = str(about["Arn"]).split(":")[1]
    if record.region:
        resource["region"] = record.region
    return [resource]


def _evidence(alert: Alert, record: Record) -> dict[str, Any]:
    row = alert.row
    actor_user = _user(alert.entity("actor"), record.identity_text("type"))
    credential = (alert.raw.get("userIdentity") or {}).get("accessKeyId") if isinstance(
        alert.raw.get("userIdentity"), dict) else None
    if credential:
        actor_user["credential_uid"] = str(credential)
    evidence: dict[str, Any] = {
        "actor": {"user": actor_user},
        "user": _user(alert.entity("target"), "IAMUser"),
        "api": {"operation": str(alert.raw.get("eventName") or ""),
                "service": {"name": str(alert.raw.get("eventSource") or "")}},
        "data": alert.raw,
    }
    endpoint: dict[str, Any] = {}
    ips = [e["Address"] for e in row.get("Entities") or [] if e.get("Type") == "ip"]
    if ips:
        endpoint["ip"] = ips[0]
    elif record.source_ip:
        endpoint["name"] = record.source_ip  # a service name such as "AWS Internal"
    if record.user_agent:
        evidence["actor"]["app_name"] = record.user_agent
    if endpoint:
        evidence["src_endpoint"] = endpoint
    return evidence
