"""CloudTrail records written as Security Lake writes them: OCSF events (the OCSF project's CloudTrail
mapping, forward), in Parquet with pyarrow, under Security Lake's layout. The inverse of records/ocsf.py,
written here from the published mapping so the tests check one against the other."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

# The OCSF project's mapping: IAM calls that change an account under Account Change, sign-ins under
# Authentication, every other call API Activity.
_ACCOUNT_CHANGE = {"CreateUser", "DeleteUser", "CreateLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile",
                   "CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey"}


def class_of(record: dict) -> int:
    if record.get("eventName") == "ConsoleLogin":
        return 3002
    if record.get("eventSource") == "iam.amazonaws.com" and record.get("eventName") in _ACCOUNT_CHANGE:
        return 3001
    return 6003


def to_ocsf(record: dict, json_data: bool = True) -> dict[str, Any]:
    """One CloudTrail record as a Security Lake OCSF row; `json_data`: request/response as JSON text (as in
    Security Lake's Parquet) rather than objects."""
    identity = record.get("userIdentity") or {}
    context = identity.get("sessionContext") or {}
    attributes = context.get("attributes") or {}
    cls = class_of(record)

    def data(value: Any) -> Any:
        return orjson.dumps(value).decode() if json_data and value is not None else value

    row: dict[str, Any] = {
        "class_uid": cls,
        "time": datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")),
        "metadata": {"uid": record.get("eventID"), "event_code": record.get("eventType"), "version": "1.1.0",
                     "product": {"name": "CloudTrail", "vendor_name": "AWS", "version": record.get("eventVersion"),
                                 "feature": {"name": record.get("eventCategory", "Management")}}},
        "api": {"operation": record.get("eventName"), "service": {"name": record.get("eventSource")},
                "request": {"uid": record.get("requestID"), "data": data(record.get("requestParameters"))},
                "response": {"error": record.get("errorCode"), "message": record.get("errorMessage"),
                             "data": data(record.get("responseElements"))}},
        "actor": {"user": {"type": identity.get("type"), "uid": identity.get("arn"),
                           "uid_alt": identity.get("principalId"), "name": identity.get("userName"),
                           "credential_uid": identity.get("accessKeyId"),
                           "account": {"uid": identity.get("accountId")}},
                  "session": {"issuer": (context.get("sessionIssuer") or {}).get("arn"),
                              "is_mfa": attributes.get("mfaAuthenticated") == "true" if attributes else None}},
        "cloud": {"region": record.get("awsRegion"), "provider": "AWS",
                  "account": {"uid": record.get("recipientAccountId")}},
        "src_endpoint": {"ip": record.get("sourceIPAddress")},
        "http_request": {"user_agent": record.get("userAgent")},
        "status": "Failure" if record.get("errorCode") else "Success",
    }
    if cls == 3002:  # sign-ins keep their outcome in status
        row["status"] = (record.get("responseElements") or {}).get("ConsoleLogin", row["status"])
    return row


def write_parquet(rows: list[dict], path: Path, row_group_size: int = 64) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


def lake_key(record: dict, version: str = "2.0") -> str:
    """Where Security Lake keeps a record's row: aws/CLOUD_TRAIL_MGMT/VERSION/region=/accountId=/eventDay=/."""
    day = record["eventTime"][:10].replace("-", "")
    return (f"aws/CLOUD_TRAIL_MGMT/{version}/region={record['awsRegion']}/accountId={record['recipientAccountId']}/"
            f"eventDay={day}/")


def write_lake(records: list[dict], root: Path) -> list[Path]:
    """A Security Lake copy of `records` below `root`: one Parquet file per partition."""
    parts: dict[str, list[dict]] = {}
    for record in records:
        parts.setdefault(lake_key(record), []).append(to_ocsf(record))
    return [write_parquet(rows, root / key / "part-0.zstd.parquet") for key, rows in sorted(parts.items())]
