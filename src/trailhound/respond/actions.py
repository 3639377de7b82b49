"""Response actions: the use case's playbook as commands. Dry-run first: a plan says exactly which API call
it would make; executing it is a separate, explicit step, recorded on the alert.

Disabling console access is iam:DeleteLoginProfile on the user the alert says was given a password. It is
refused when the alert's account is not the credentials' account (the call would hit the wrong user, or
fail), and for root, whose password IAM's DeleteLoginProfile cannot remove by user name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..alerts.alert import Alert
from ..errors import TrailhoundError
from ..sources.aws import client, error_code

# Rules whose alerts mean "someone was given a console password": the action undoes exactly that.
CONSOLE_PASSWORD_RULES = {"0xFF-0237"}


class RefusedError(TrailhoundError):
    """The action must not run for this alert; str() says why."""


@dataclass
class Plan:
    service: str
    operation: str  # the API name, as CloudTrail would record it
    params: dict[str, Any]
    account: str
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        args = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.service}:{self.operation} {args} in account {self.account}"


def plan_disable_console_access(alert: Alert) -> Plan:
    row = alert.row
    if alert.rule_id not in CONSOLE_PASSWORD_RULES:
        raise RefusedError(f"alert {alert.id} is from rule {alert.rule_id}, which gives no console password "
                           "to take away")
    target = next((e for e in row.get("Entities") or [] if e.get("Type") == "account" and e.get("Role") == "target"),
                  {})
    user = str(row.get("TargetUserName") or "")
    account = str(target.get("AccountId") or row.get("RecipientAccountId") or "")
    if not user:
        raise RefusedError(f"alert {alert.id} names no target user")
    if user == "root" and str(target.get("Arn", "")).endswith(":root"):
        raise RefusedError(f"alert {alert.id}: the target is the account's root user; remove its password from "
                           "the root user's security credentials (or iam:DeleteLoginProfile through AssumeRoot)")
    if not account:
        raise RefusedError(f"alert {alert.id} does not say which account the user is in")
    return Plan(service="iam", operation="DeleteLoginProfile", params={"UserName": user}, account=account)


@dataclass
class Identity:
    account: str
    arn: str


def caller_identity() -> Identity:
    found = client("sts").get_caller_identity()
    return Identity(account=found["Account"], arn=found["Arn"])


def check_account(plan: Plan, identity: Identity) -> None:
    if plan.account != identity.account:
        raise RefusedError(f"the alert's account {plan.account} is not the credentials' account "
                           f"{identity.account} ({identity.arn}); use credentials for {plan.account}")


def execute(plan: Plan) -> str:
    """Run the plan; returns the result as one line. A login profile already gone is a result, not an error."""
    from botocore.exceptions import ClientError

    try:
        client(plan.service).delete_login_profile(**plan.params)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return f"no login profile for {plan.params['UserName']} (already removed)"
        raise
    return f"deleted the login profile of {plan.params['UserName']}"
