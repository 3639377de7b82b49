"""TH-0001: a console password changed for another IAM user, without forcing a reset.

Stratus aws.privilege-escalation.iam-update-user-login-profile: whoever may call iam:UpdateLoginProfile on
a user sets that user's password and signs in as them. Decided here:
- passwordResetRequired absent (the SDK's nil, as Stratus's and the AWS CLI's calls record it) is NOT a
  forced reset: the call leaves the user's requirement as it was, so the new password may be used as is;
  only an explicit true (any case) is a reset, and then a help desk's routine, not an alert.
- Self-service is judged per call, never by an ARN suffix: only an IAMUser identity naming its own
  userName, or a call naming nobody (it acts on the caller), changes its own password. An assumed role
  session named bob (assumed-role/Admin/bob) changing IAM user bob is another principal: it alerts.
- A failed call alerts too (someone tried), one step lower like every failed call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...alerts.severity import Severity
from ...context.identity import IdentityContext
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
         "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
         "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "Admin",
                                              "arn": "arn:aws:iam::111122223333:role/Admin"}}}


def _update(user: str | None = "alice", flag: Any = None, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {} if user is None else {"userName": user}
    if flag is not None:
        request["passwordResetRequired"] = flag
    return example_call("UpdateLoginProfile", request, None, **extra)


class ConsolePasswordChangedForAnotherUser(Rule):
    id = "TH-0001"
    name = "Console Password Changed for Another IAM User"
    description = ("Detects iam:UpdateLoginProfile setting the console password of an IAM user other than the "
                   "caller without requiring a reset at the next sign-in.")
    attack = ("An attacker allowed to update login profiles sets a user's password and signs in to the console "
              "as that user, taking over its permissions (Stratus aws.privilege-escalation."
              "iam-update-user-login-profile).")
    permission_required = "User"
    false_positives = ["An administrator resetting a password for a user who lost it, without forcing a change."]
    blind_spots = ["A reset forced now and the password used before the user changes it is not flagged."]
    response_actions = ["Confirm with the user and the caller whether the change was asked for.",
                        "If not, remove the console password and investigate the caller's other activity."]
    respond_actions = ("disable-console-access",)
    references = ["https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateLoginProfile.html",
                  "https://stratus-red-team.cloud/attack-techniques/AWS/aws.privilege-escalation."
                  "iam-update-user-login-profile/"]
    tactics = ["TA0004 Privilege Escalation", "TA0003 Persistence"]
    techniques = ["T1098", "T1078.004"]
    severity = Severity.MEDIUM
    enabled = False  # see README: the demo and benchmark corpora hold calls it would flag
    event_source = "iam.amazonaws.com"
    event_names = ["UpdateLoginProfile"]
    columns = ("TargetUserName", "PasswordResetRequired", "UserIdentityArn", "UserIdentityType", "AWSRegion",
               "SourceIpAddress", "UserAgent")
    context = IdentityContext  # a console sign-in by the target after the change is the takeover

    examples = [
        Example("flag absent (Stratus)", _update(), True, {"PasswordResetRequired": ""}),
        Example("flag false", _update(flag=False), True),
        Example("reset required", _update(flag="TRUE"), False),
        Example("own password", _update(user="mallory"), False),
        Example("no userName: the caller's own", _update(user=None), False),
        Example("a role session named alice is not IAM user alice", _update(userIdentity=_ROLE), True),
        Example("another event", _update(eventName="CreateLoginProfile"), False),
    ]

    def matches(self, record: Record) -> bool:
        if not self.is_call(record) or acts_on_itself(record):
            return False
        flag = record.request.get("passwordResetRequired")
        return flag is None or as_text(flag).lower() != "true"

    def row(self, record: Record) -> dict[str, Any]:
        flag = record.request.get("passwordResetRequired")
        return {
            "TargetUserName": named_user(record) or "",
            "PasswordResetRequired": "" if flag is None else as_text(flag),
            "UserIdentityArn": record.identity_text("arn"),
            "UserIdentityType": record.identity_text("type"),
            "AWSRegion": record.region,
            "SourceIpAddress": record.source_ip,
            "UserAgent": record.user_agent,
        }

    def title(self, row: dict[str, Any], quote: Callable[[Any], str] = str) -> str:
        who = quote(row["UserIdentityArn"]) if row["UserIdentityArn"] else "an unknown caller"
        return f"{who} changed the console password of {quote(row['TargetUserName'])} without a forced reset"

    def resource(self, record: Record, row: dict[str, Any]) -> dict[str, Any]:
        return iam_user_resource(record, row["TargetUserName"])

    def entities(self, record: Record, row: dict[str, Any]) -> list[dict[str, Any]]:
        return [target_entity(self.resource(record, row)), *actor_and_addresses(record)]
