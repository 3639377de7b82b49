"""Response actions: the use cases' playbooks as commands. Dry-run first: a plan says exactly which API call
it would make; executing it is a separate, explicit step, recorded on the alert.

Which actions apply to an alert is its rule's business (`Rule.respond_actions`); what an action acts on is
the alert's generic `Resource`, never a rule's column:
- disable-console-access: iam:DeleteLoginProfile on the IAM user the alert concerns. Refused for root, whose
  password IAM's DeleteLoginProfile cannot remove by user name.
- deactivate-access-key: iam:UpdateAccessKey Status=Inactive on the key the alert concerns (inactive, not
  deleted: the key stays for the investigation and can be turned back on).
Both are refused when the alert's account is not the credentials' account (the call would hit the wrong
user, or fail).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..alerts.alert import Alert
from ..errors import TrailhoundError
from ..sources.aws import client, error_code


class RefusedError(TrailhoundError):
    """The action must not run for this alert; str() says why."""


@dataclass
class Plan:
    action: str  # the `respond` option's name: "disable-console-access"
    service: str
    operation: str  # the API name, as CloudTrail would record it
    params: dict[str, Any]
    account: str
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        args = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.service}:{self.operation} {args} in account {self.account}"


def _applies(alert: Alert, action: str) -> None:
    """Refuse an action the alert's rule does not name (or an alert from a rule this build lacks)."""
    from ..engine.rules import find_rule

    rule = find_rule(alert.rule_id)
    if rule is None or action not in rule.respond_actions:
        offered = ", ".join(f"--{a}" for a in (rule.respond_actions if rule else ())) or "none"
        raise RefusedError(f"alert {alert.id} is from rule {alert.rule_id}, to which --{action} does not apply "
                           f"(its respond actions: {offered})")


def _account(alert: Alert) -> str:
    account = str(alert.resource.get("AccountId") or alert.row.get("RecipientAccountId") or "")
    if not account:
        raise RefusedError(f"alert {alert.id} does not say which account the resource is in")
    return account


def plan_disable_console_access(alert: Alert) -> Plan:
    _applies(alert, "disable-console-access")
    about = alert.resource
    user = str(about.get("Name") or "") if about.get("Type") == "AwsIamUser" else ""
    if not user:
        raise RefusedError(f"alert {alert.id} names no target user")
    if user == "root" and str(about.get("Arn", "")).endswith(":root"):
        raise RefusedError(f"alert {alert.id}: the target is the account's root user; remove its password from "
                           "the root user's security credentials (or iam:DeleteLoginProfile through AssumeRoot)")
    return Plan("disable-console-access", "iam", "DeleteLoginProfile", {"UserName": user}, _account(alert))


def plan_deactivate_access_key(alert: Alert) -> Plan:
    _applies(alert, "deactivate-access-key")
    about = alert.resource
    key, user = str(about.get("Name") or ""), str(about.get("UserName") or "")
    if about.get("Type") != "AwsIamAccessKey" or not key or not user:
        raise RefusedError(f"alert {alert.id} names no access key and user (the call's response recorded none)")
    return Plan("deactivate-access-key", "iam", "UpdateAccessKey",
                {"UserName": user, "AccessKeyId": key, "Status": "Inactive"}, _account(alert))


PLANS: dict[str, Callable[[Alert], Plan]] = {
    "disable-console-access": plan_disable_console_access,
    "deactivate-access-key": plan_deactivate_access_key,
}


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


def _user_exists(plan: Plan) -> bool:
    from botocore.exceptions import ClientError

    try:
        client("iam").get_user(UserName=plan.params["UserName"])
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return False
        raise
    return True


def _no_user(plan: Plan) -> RefusedError:
    return RefusedError(f"there is no IAM user {plan.params['UserName']} in account {plan.account}: the alert's "
                        "target was deleted (or renamed) since; nothing was changed")


def inspect(plan: Plan) -> str | None:
    """What the plan would act on, checked read-only (iam:GetLoginProfile / iam:ListAccessKeys, then
    iam:GetUser to tell a missing user from a missing profile): None when it is there to act on, else why
    there is nothing to do. A user that does not exist is a RefusedError, not "already removed"."""
    from botocore.exceptions import ClientError

    iam = client(plan.service)
    user = plan.params["UserName"]
    try:
        if plan.operation == "DeleteLoginProfile":
            iam.get_login_profile(UserName=user)
            return None
        keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        if not _user_exists(plan):
            raise _no_user(plan) from None
        return f"{user} has no login profile (console access already removed): nothing to do"
    status = {k["AccessKeyId"]: k.get("Status") for k in keys}.get(plan.params["AccessKeyId"])
    if status is None:
        return f"{user} has no access key {plan.params['AccessKeyId']} (already deleted): nothing to do"
    if status == "Inactive":
        return f"access key {plan.params['AccessKeyId']} of {user} is already inactive: nothing to do"
    return None


def execute(plan: Plan) -> str:
    """Run the plan; returns the result as one line. A login profile or key already gone is a result; a user
    that does not exist is a RefusedError."""
    from botocore.exceptions import ClientError

    try:
        iam = client(plan.service)
        if plan.operation == "DeleteLoginProfile":
            iam.delete_login_profile(**plan.params)
        else:
            iam.update_access_key(**plan.params)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            if not _user_exists(plan):
                raise _no_user(plan) from None
            if plan.operation == "DeleteLoginProfile":
                return f"no login profile for {plan.params['UserName']} (already removed)"
            return f"no access key {plan.params['AccessKeyId']} for {plan.params['UserName']} (already deleted)"
        raise
    if plan.operation == "DeleteLoginProfile":
        return f"deleted the login profile of {plan.params['UserName']}"
    return f"deactivated access key {plan.params['AccessKeyId']} of {plan.params['UserName']}"
