"""TH-0002: an access key created for another IAM user.

A classic persistence step (the demo's 14:08 call): a long-lived key for a user the attacker does not own.
Decided here:
- Self-service is judged per call, never by an ARN suffix: a call naming no userName creates the caller's
  own key; an IAMUser identity naming its own userName too. Anything else (a role session named like the
  user, another user, root naming a user) is another principal's key.
- A failed call alerts too (someone tried), one step lower; it has no key to deactivate.
- No context plug-in: the identity plug-in ranks console sign-ins, which a key does not give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...alerts.severity import Severity
from ...records.record import Record, as_text
from .base import (
    Example,
    Rule,
    actor_and_addresses,
    acts_on_itself,
    example_call,
    iam_user_resource,
    named_user,
    target_entity,
)

_ROLE = {"type": "AssumedRole", "accountId": "111122223333", "principalId": "AROAEXAMPLE:alice",
         "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice"}


def _create(user: str | None = "alice", **extra: Any) -> dict[str, Any]:
    request = {} if user is None else {"userName": user}
    response = {"accessKey": {"userName": user or "mallory", "status": "Active", "accessKeyId": "AKIAEXAMPLEKEY1"}}
    return example_call("CreateAccessKey", request, response, **extra)


class AccessKeyCreatedForAnotherUser(Rule):
    id = "TH-0002"
    name = "Access Key Created for Another IAM User"
    description = "Detects iam:CreateAccessKey creating a key for an IAM user other than the caller."
    attack = ("An attacker with iam:CreateAccessKey on other users gives one of them a new key and keeps it: "
              "persistent programmatic access under that user's permissions.")
    permission_required = "User"
    false_positives = ["Administrators or automation issuing keys for service users."]
    response_actions = ["Confirm with the user's owner whether the key was asked for.",
                        "If not, deactivate the key and review what it has been used for."]
    respond_actions = ("deactivate-access-key",)
    references = ["https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html"]
    tactics = ["TA0003 Persistence"]
    techniques = ["T1098.001"]
    severity = Severity.MEDIUM
    enabled = False  # see README: the demo's story holds such a call
    event_source = "iam.amazonaws.com"
    event_names = ["CreateAccessKey"]
    columns = ("TargetUserName", "AccessKeyId", "UserIdentityArn", "UserIdentityType", "AWSRegion",
               "SourceIpAddress", "UserAgent")

    examples = [
        Example("key for another user", _create(), True, {"AccessKeyId": "AKIAEXAMPLEKEY1"}),
        Example("own key, named", _create(user="mallory"), False),
        Example("own key, no userName", _create(user=None), False),
        Example("a role session named alice is not IAM user alice", _create(userIdentity=_ROLE), True),
        Example("another event", _create(eventName="DeleteAccessKey"), False),
    ]

    def matches(self, record: Record) -> bool:
        return self.is_call(record) and not acts_on_itself(record)

    @staticmethod
    def key_id(record: Record) -> str:
        key = record.response.get("accessKey")
        return as_text(key.get("accessKeyId")) if isinstance(key, dict) and key.get("accessKeyId") else ""

    def row(self, record: Record) -> dict[str, Any]:
        return {
            "TargetUserName": named_user(record) or "",
            "AccessKeyId": self.key_id(record),
            "UserIdentityArn": record.identity_text("arn"),
            "UserIdentityType": record.identity_text("type"),
            "AWSRegion": record.region,
            "SourceIpAddress": record.source_ip,
            "UserAgent": record.user_agent,
        }

    def title(self, row: dict[str, Any], quote: Callable[[Any], str] = str) -> str:
        who = quote(row["UserIdentityArn"]) if row["UserIdentityArn"] else "an unknown caller"
        key = f" {quote(row['AccessKeyId'])}" if row["AccessKeyId"] else ""
        return f"{who} created access key{key} for {quote(row['TargetUserName'])}"

    def resource(self, record: Record, row: dict[str, Any]) -> dict[str, Any]:
        user = iam_user_resource(record, row["TargetUserName"])
        if not row["AccessKeyId"]:  # a failed call made no key: what it concerns is the user
            return user
        return {"Type": "AwsIamAccessKey", "Name": row["AccessKeyId"], "UserName": row["TargetUserName"],
                "AccountId": user["AccountId"]}

    def entities(self, record: Record, row: dict[str, Any]) -> list[dict[str, Any]]:
        return [target_entity(iam_user_resource(record, row["TargetUserName"])), *actor_and_addresses(record)]
