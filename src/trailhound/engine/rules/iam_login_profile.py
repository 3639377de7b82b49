"""Use case 0xFF-0237: a console password given to an existing IAM user without forcing a reset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...alerts.severity import Severity
from ...context.identity import IdentityContext
from ...records.record import Record, as_text
from .base import Example, Rule, actor_and_addresses, example_call, iam_user_resource, named_user, target_entity


def _iam_call(flag: Any = False, user: str | None = "alice", **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {}
    if user is not None:
        request["userName"] = user
    if flag is not None:
        request["passwordResetRequired"] = flag
    response = {"loginProfile": {"userName": user, "passwordResetRequired": flag}}
    return example_call("CreateLoginProfile", request, response, **extra)


class PasswordAssignedToExistingIAMUser(Rule):
    id = "0xFF-0237"
    name = "Password Assigned to Existing AWS IAM User"
    version = "1.3"
    description = (
        "Monitors for modifications in the AWS console access of an IAM user. Threat actors that gain access "
        "to an IAM user can enable the access to the AWS Management Console by abusing the "
        "'CreateLoginProfile' API call without resetting the user's password, thus remaining stealthy and "
        "gaining the ability to manipulate and control critical AWS resources."
    )
    attack = (
        "When attackers enable the AWS Management Console for a user who initially lacked access, they can "
        "achieve unhindered control over AWS resources: manipulate configurations, launch instances, modify "
        "security settings and manage storage without detection, leading to service disruption, loss of data "
        "integrity, exfiltration of sensitive data and privilege escalation."
    )
    permission_required = "User"
    false_positives = ["There might be a business reason for assigning a console password to an existing user."]
    blind_spots = [
        "None expected by the use case. trailhound closes the original query's gaps: a request that does not "
        "record passwordResetRequired (read from the response, else the API default, false), a caller giving "
        "itself a password (no userName: the target is the caller), case variants, Sentinel's JSON-string "
        "columns, and de-duplication on TimeGenerated that let two events in the same second hide each other "
        "(the default dedup field is EventID).",
        "UpdateLoginProfile (changing an existing console password) is out of this use case's scope.",
    ]
    response_actions = [
        "Confirm if the user responsible for the account that triggered this alert is aware of the change. "
        "Verify whether legitimate business or operational reasons exist for enabling console access.",
        "In case of a suspected breach or insider threat, investigate the latest activities of the associated "
        "account that occurred around the time of the alert.",
        "If the console access is deemed suspicious, ensure to disable the access to prior levels.",
    ]
    references = [
        "https://github.com/DataDog/stratus-red-team",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateLoginProfile.html",
    ]
    tactics = ["TA0001 Initial Access", "TA0003 Persistence"]
    techniques = ["T1078.004", "T1098.001"]
    severity = Severity.MEDIUM
    event_source = "iam.amazonaws.com"
    event_names = ["CreateLoginProfile"]
    # The original query's columns, in its order (TimeGenerated, first in every row, is generic).
    columns = ("TargetUserName", "UserIdentityUserName", "UserIdentityType", "UserIdentityArn", "AWSRegion",
               "SourceIpAddress", "UserAgent")
    respond_actions = ("disable-console-access",)
    context = IdentityContext  # onboarding, the target's console sign-ins, the actor's activity

    examples = [
        Example("no reset required", _iam_call(False), True, {"TargetUserName": "alice"}),
        Example("reset required", _iam_call(True), False),
        Example("flag as a string in another case", _iam_call("FALSE"), True),
        Example("case variants of source, type and name",
                _iam_call(False, eventSource="IAM.amazonaws.com", eventType="awsapicall",
                          eventName="createloginprofile"), True),
        Example("another event", _iam_call(False, eventName="UpdateLoginProfile"), False),
        Example("caller gives itself a password", _iam_call(False, user=None), True,
                {"TargetUserName": "mallory"}),
    ]

    @staticmethod
    def reset_flag(record: Record) -> str | None:
        """passwordResetRequired as Kusto's tostring() gives it, or None when the event does not record it."""
        value = record.request.get("passwordResetRequired")
        if value is None:
            profile = record.response.get("loginProfile")
            value = profile.get("passwordResetRequired") if isinstance(profile, dict) else None
        return None if value is None else as_text(value)

    def matches(self, record: Record) -> bool:
        if not self.is_call(record):
            return False
        flag = self.reset_flag(record)
        if flag is None:
            # Nothing recorded: a call that succeeded took the API's default, which is no reset. A failed call
            # that recorded nothing tells us nothing about what was asked for.
            return record.succeeded
        return flag.lower() == "false"

    @staticmethod
    def target_user(record: Record) -> str:
        """The user given a password; with no userName in the request, the caller itself (root via AssumeRoot)."""
        named = named_user(record)
        if named is not None:
            return named
        identity = record.identity
        if record.identity_text("userName"):
            return record.identity_text("userName")
        if str(identity.get("type", "")).lower() == "root":
            return "root"
        issuer = record.session_issuer.get("userName")
        if issuer:
            return str(issuer)
        arn = record.identity_text("arn")
        return arn.rsplit("/", 1)[-1] if "/" in arn else arn

    def row(self, record: Record) -> dict[str, Any]:
        return {
            "TargetUserName": self.target_user(record),
            "UserIdentityUserName": record.identity_text("userName"),
            "UserIdentityType": record.identity_text("type"),
            "UserIdentityArn": record.identity_text("arn"),
            "AWSRegion": record.region,
            "SourceIpAddress": record.source_ip,
            "UserAgent": record.user_agent,
        }

    def title(self, row: dict[str, Any], quote: Callable[[Any], str] = str) -> str:
        actor = row["UserIdentityArn"] or row["UserIdentityUserName"]
        who = quote(actor) if actor else "an unknown caller"
        return f"{who} gave {quote(row['TargetUserName'])} a console password without a forced reset"

    def resource(self, record: Record, row: dict[str, Any]) -> dict[str, Any]:
        return iam_user_resource(record, row["TargetUserName"])

    def entities(self, record: Record, row: dict[str, Any]) -> list[dict[str, Any]]:
        return [target_entity(self.resource(record, row)), *actor_and_addresses(record)]
