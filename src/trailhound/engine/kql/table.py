"""The `AWSCloudTrail` table as Sentinel stores it, built from any record shape trailhound reads.

Microsoft's column names and types (../shared/kql/awscloudtrail-schema.md): nested objects as compact JSON
text, a missing value as "", TimeGenerated a datetime, the booleans as bools. `ingestion_time()` is hidden in
each row: the delivery time of the S3 object the record came from when its name says (CloudTrail names each
file ..._YYYYMMDDTHHMMZ_...), else TimeGenerated.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ...records.record import Record, as_text
from .evaluate import INGESTION, Table
from .values import parse_datetime_literal

COLUMNS = (
    "AdditionalEventData", "APIVersion", "AwsEventId", "AWSRegion", "AwsRequestId", "AwsRequestId_", "Category",
    "CidrIp", "CipherSuite", "ClientProvidedHostHeader", "DestinationPort", "EC2RoleDelivery", "ErrorCode",
    "ErrorMessage", "EventName", "EventSource", "EventTypeName", "EventVersion", "IpProtocol", "ManagementEvent",
    "OperationName", "ReadOnly", "RecipientAccountId", "RequestParameters", "Resources", "ResponseElements",
    "ServiceEventDetails", "SessionCreationDate", "SessionIssuerAccountId", "SessionIssuerArn",
    "SessionIssuerPrincipalId", "SessionIssuerType", "SessionIssuerUserName", "SessionMfaAuthenticated",
    "SharedEventId", "SourceIpAddress", "SourcePort", "SourceSystem", "TenantId", "TimeGenerated", "TlsVersion",
    "Type", "UserAgent", "UserIdentityAccessKeyId", "UserIdentityAccountId", "UserIdentityArn",
    "UserIdentityInvokedBy", "UserIdentityPrincipalid", "UserIdentityType", "UserIdentityUserName",
    "VpcEndpointId",
)
# Top-level CloudTrail fields copied verbatim (as text) into a column: the prefilter's needles may come
# from these, and only these, since the raw record holds their value as written.
VERBATIM = {
    "AwsEventId": "eventID", "AWSRegion": "awsRegion", "AwsRequestId": "requestID", "AwsRequestId_": "requestID",
    "Category": "eventCategory", "APIVersion": "apiVersion", "ErrorCode": "errorCode",
    "ErrorMessage": "errorMessage", "EventName": "eventName", "EventSource": "eventSource",
    "EventTypeName": "eventType", "EventVersion": "eventVersion", "RecipientAccountId": "recipientAccountId",
    "SharedEventId": "sharedEventID", "SourceIpAddress": "sourceIPAddress", "UserAgent": "userAgent",
    "VpcEndpointId": "vpcEndpointId",
}
JSON_TEXT = {"AdditionalEventData": "additionalEventData", "RequestParameters": "requestParameters",
             "ResponseElements": "responseElements", "Resources": "resources",
             "ServiceEventDetails": "serviceEventDetails"}
IDENTITY = {"UserIdentityAccessKeyId": "accessKeyId", "UserIdentityAccountId": "accountId",
            "UserIdentityArn": "arn", "UserIdentityInvokedBy": "invokedBy", "UserIdentityPrincipalid": "principalId",
            "UserIdentityType": "type", "UserIdentityUserName": "userName"}
ISSUER = {"SessionIssuerAccountId": "accountId", "SessionIssuerArn": "arn", "SessionIssuerPrincipalId": "principalId",
          "SessionIssuerType": "type", "SessionIssuerUserName": "userName"}
TLS = {"CipherSuite": "cipherSuite", "ClientProvidedHostHeader": "clientProvidedHostHeader",
       "TlsVersion": "tlsVersion"}
# Columns whose value is a field's text as it appears in the raw record (needles may be derived from them).
RAW_TEXT_COLUMNS = frozenset(VERBATIM) | frozenset(JSON_TEXT) | frozenset(IDENTITY) | frozenset(ISSUER)

_DELIVERY = re.compile(r"_(\d{8}T\d{4}Z)_")


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def delivery_time(origin: str) -> datetime | None:
    """The delivery time CloudTrail writes into each log file's name, or None."""
    match = _DELIVERY.search(origin)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _bag(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def cloudtrail_row(record: Record) -> dict[str, Any]:
    """One AWSCloudTrail row for a record, with its ingestion time under a hidden key."""
    raw = record.raw
    identity = record.identity
    context: dict[str, Any] = _bag(identity.get("sessionContext"))
    attributes: dict[str, Any] = _bag(context.get("attributes"))
    issuer = record.session_issuer
    tls: dict[str, Any] = _bag(raw.get("tlsDetails"))
    request: dict[str, Any] = _bag(raw.get("requestParameters"))
    row: dict[str, Any] = {c: as_text(raw.get(f)) for c, f in VERBATIM.items()}
    row.update({c: "" if raw.get(f) is None else as_text(raw.get(f)) for c, f in JSON_TEXT.items()})
    row.update({c: as_text(identity.get(f)) for c, f in IDENTITY.items()})
    row.update({c: as_text(issuer.get(f)) for c, f in ISSUER.items()})
    row.update({c: as_text(tls.get(f)) for c, f in TLS.items()})
    row["EC2RoleDelivery"] = as_text(context.get("ec2RoleDelivery"))
    row["SessionMfaAuthenticated"] = _bool(attributes.get("mfaAuthenticated"))
    row["SessionCreationDate"] = parse_datetime_literal(as_text(attributes.get("creationDate"))) \
        if attributes.get("creationDate") else None
    row["ReadOnly"] = _bool(raw.get("readOnly"))
    row["ManagementEvent"] = _bool(raw.get("managementEvent"))
    row["CidrIp"] = as_text(request.get("cidrIp"))
    row["SourcePort"] = as_text(request.get("fromPort"))
    row["DestinationPort"] = as_text(request.get("toPort"))
    row["IpProtocol"] = as_text(request.get("ipProtocol"))
    row["OperationName"] = "CloudTrail"
    row["SourceSystem"] = ""
    row["TenantId"] = ""
    row["Type"] = "AWSCloudTrail"
    when = record.time
    row["TimeGenerated"] = when
    row[INGESTION] = delivery_time(record.origin) or when
    return row


def cloudtrail_table(rows: list[dict[str, Any]]) -> Table:
    return Table(list(COLUMNS), rows)
