"""OCSF events (Amazon Security Lake's CloudTrail source) mapped back to CloudTrail records.

Security Lake keeps CloudTrail management events as OCSF: API Activity (class 6003), and, following the OCSF
project's CloudTrail mapping, Account Change (3001) for IAM calls such as CreateLoginProfile,
Authentication (3002) for sign-ins, and the other IAM classes (User Access Management 3005, Group
Management 3006). Every one carries the call in `api`, the caller in `actor`, and the record's id in
`metadata.uid`, so one mapping serves them all. This module reverses the OCSF project's published
mapping (ocsf/examples, mappings/markdown/AWS/v1.1.0/CloudTrail/) field by field; docs/sources.md lists it,
and names what OCSF does not keep.

The mapping is pure and tolerant: a row is judged on what it has, and odd types never raise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

# The OCSF classes CloudTrail events land in (the OCSF project's mapping; Security Lake's CLOUD_TRAIL_MGMT).
CLOUDTRAIL_CLASSES = frozenset({6003, 3001, 3002, 3005, 3006})
# The top-level columns the mapping reads: a Parquet reader asks for these only.
COLUMNS = ("class_uid", "time", "time_dt", "metadata", "api", "actor", "src_endpoint", "cloud",
           "http_request", "status", "status_detail", "unmapped")


def is_ocsf(obj: dict[str, Any]) -> bool:
    """An OCSF event: it names its class."""
    return "class_uid" in obj and ("metadata" in obj or "api" in obj)


def is_cloudtrail(obj: dict[str, Any]) -> bool:
    """An OCSF event that came from CloudTrail: one of CloudTrail's classes, with an API call in it."""
    return _int(obj.get("class_uid")) in CLOUDTRAIL_CLASSES and isinstance(obj.get("api"), dict)


def to_cloudtrail(row: dict[str, Any]) -> dict[str, Any]:
    """The CloudTrail record an OCSF CloudTrail event was made from, as far as OCSF kept it."""
    api, actor, meta = _dict(row.get("api")), _dict(row.get("actor")), _dict(row.get("metadata"))
    request, response = _dict(api.get("request")), _dict(api.get("response"))
    service, cloud, src = _dict(api.get("service")), _dict(row.get("cloud")), _dict(row.get("src_endpoint"))
    out: dict[str, Any] = {
        "eventVersion": _dict(meta.get("product")).get("version"),
        "eventTime": _time(row),
        "eventSource": service.get("name"),
        "eventName": api.get("operation"),
        "eventType": meta.get("event_code") or _event_type(row, service.get("name")),
        "eventID": meta.get("uid"),
        "awsRegion": cloud.get("region"),
        "recipientAccountId": _dict(cloud.get("account")).get("uid") or cloud.get("account_uid"),
        # OCSF splits sourceIPAddress into an address and a domain (a service name such as iam.amazonaws.com)
        "sourceIPAddress": src.get("ip") or src.get("domain"),
        "vpcEndpointId": src.get("uid"),
        "userAgent": _dict(row.get("http_request")).get("user_agent"),
        "requestID": request.get("uid"),
        "apiVersion": api.get("version"),
        "errorCode": response.get("error"),
        "errorMessage": response.get("message"),
        "requestParameters": _json(request.get("data")),
        "responseElements": _json(response.get("data")),
        "userIdentity": _identity(actor),
    }
    if out["responseElements"] is None and _int(row.get("class_uid")) == 3002 and row.get("status"):
        # Authentication keeps ConsoleLogin's outcome in `status`, not in the response
        out["responseElements"] = {"ConsoleLogin": row.get("status")}
    if out["errorMessage"] is None and _int(row.get("class_uid")) == 3002 and row.get("status_detail"):
        out["errorMessage"] = row.get("status_detail")
    _fold_unmapped(out, row.get("unmapped"))
    feature = _dict(_dict(meta.get("product")).get("feature")).get("name")
    if feature and "eventCategory" not in out:
        out["eventCategory"] = feature
    return {k: v for k, v in out.items() if v is not None and v != {}}


def _identity(actor: dict[str, Any]) -> dict[str, Any]:
    user, session = _dict(actor.get("user")), _dict(actor.get("session"))
    account = _dict(user.get("account")).get("uid") or user.get("account_uid")
    identity: dict[str, Any] = {
        "type": user.get("type"),
        "principalId": user.get("uid_alt"),
        "arn": user.get("uid"),
        "accountId": account,
        "accessKeyId": user.get("credential_uid"),
        "userName": user.get("name"),
        "invokedBy": actor.get("invoked_by"),
    }
    attributes: dict[str, Any] = {}
    created = session.get("created_time_dt") or session.get("created_time")
    if created is not None:
        attributes["creationDate"] = time_text(created)
    if session.get("is_mfa") is not None:  # CloudTrail writes the flag as a string
        attributes["mfaAuthenticated"] = "true" if session.get("is_mfa") is True else str(session.get("is_mfa")).lower()
    context: dict[str, Any] = {}
    if attributes:
        context["attributes"] = attributes
    issuer = session.get("issuer")
    if isinstance(issuer, str) and issuer:
        # OCSF keeps only the issuer's ARN; its type and name are read back from it (role/NAME, user/NAME)
        kind = issuer.split(":", 5)[-1].split("/", 1)[0] if issuer.count(":") >= 5 else ""
        context["sessionIssuer"] = {"arn": issuer, "type": kind.capitalize() or None,
                                    "userName": issuer.rsplit("/", 1)[-1] if "/" in issuer else None}
        context["sessionIssuer"] = {k: v for k, v in context["sessionIssuer"].items() if v is not None}
    if context:
        identity["sessionContext"] = context
    return {k: v for k, v in identity.items() if v is not None}


def _event_type(row: dict[str, Any], service: Any) -> str | None:
    """OCSF has no eventType field; Security Lake keeps it in metadata.event_code. Without it, the class
    says what the record was: an API call, or (Authentication through signin) a console sign-in."""
    if not is_cloudtrail(row):
        return None
    if _int(row.get("class_uid")) == 3002 and str(service).lower() == "signin.amazonaws.com":
        return "AwsConsoleSignIn"
    return "AwsApiCall"


def _fold_unmapped(out: dict[str, Any], unmapped: Any) -> None:
    """Fields OCSF has no place for (recipientAccountId, additionalEventData, ...) sit in `unmapped`, a
    map keyed by dotted CloudTrail paths (Security Lake: strings; JSON: any value). They go back where they
    came from, never over a field the mapping already set."""
    if isinstance(unmapped, list):  # pyarrow reads a Parquet map as a list of (key, value) pairs
        unmapped = dict(item for item in unmapped if isinstance(item, tuple) and len(item) == 2)
    if not isinstance(unmapped, dict):
        return
    for key, value in unmapped.items():
        if not isinstance(key, str) or not key or value is None:
            continue
        path = key.split(".")
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                break
            node = child
        else:
            node.setdefault(path[-1], _json(value) if path[0] in ("additionalEventData", "resources") else value)


def _time(row: dict[str, Any]) -> Any:
    """eventTime as CloudTrail writes it: from time_dt (a datetime or ISO text), else time (epoch ms)."""
    value = row.get("time_dt")
    if value is None:
        value = row.get("time")
    return None if value is None else time_text(value)


def time_text(value: Any) -> Any:
    """A time as CloudTrail writes it (2026-11-27T14:06:00Z); text stays as it is."""
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return text + (f".{value.microsecond // 1000:03d}Z" if value.microsecond else "Z")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:  # OCSF's timestamp_t is epoch milliseconds
            return time_text(datetime.fromtimestamp(value / 1000, tz=UTC))
        except (OverflowError, OSError, ValueError):
            return value
    return value  # text: as it is (the record's time parser reads ISO 8601)


def _json(value: Any) -> Any:
    """OCSF's `json_t` fields: Security Lake writes them as JSON text, OCSF JSON as the object itself. Text
    that is not JSON is kept as it is: the rules then see a request they cannot read, never an empty one."""
    if isinstance(value, (str, bytes)) and value[:1] in ("{", "[", b"{", b"["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
