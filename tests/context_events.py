"""Related CloudTrail events written for the context tests: creations, sign-ins, the actor's other calls."""

from __future__ import annotations

import itertools
from typing import Any

from .helpers import record

ACCOUNT = "111122223333"
ATTACKER_IP = "203.0.113.66"
OFFICE_IP = "198.51.100.24"
_ids = itertools.count(1)


def user(name: str) -> dict:
    return {"type": "IAMUser", "userName": name, "accountId": ACCOUNT, "principalId": f"AIDA{name.upper()}",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "accessKeyId": "AKIAEXAMPLE"}


def role(name: str, session: str) -> dict:
    return {"type": "AssumedRole", "accountId": ACCOUNT, "principalId": f"AROAEXAMPLE:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
                                                 "accountId": ACCOUNT, "userName": name}}}


ROOT = {"type": "Root", "accountId": ACCOUNT, "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root"}
STOLEN = user("ci-deploy")


def event(name: str, when: str, identity: dict, source: str = "iam.amazonaws.com", request: Any = None,
          ip: str = ATTACKER_IP, **extra: Any) -> dict:
    base = {"eventVersion": "1.09", "eventTime": when, "eventSource": source, "eventName": name,
            "eventType": "AwsApiCall", "awsRegion": "us-east-1", "eventID": f"ev-{next(_ids):06d}",
            "recipientAccountId": ACCOUNT, "sourceIPAddress": ip, "userAgent": "aws-cli/2.15.0",
            "userIdentity": identity, "requestParameters": request, "responseElements": None}
    base.update(extra)
    return base


def create_user(target: str, when: str, identity: dict, ip: str = OFFICE_IP) -> dict:
    return event("CreateUser", when, identity, request={"userName": target}, ip=ip,
                 responseElements={"user": {"userName": target}})


def login_profile(target: str | None, when: str, identity: dict = STOLEN, ip: str = ATTACKER_IP, **extra: Any
                  ) -> dict:
    request = {"passwordResetRequired": False, **({"userName": target} if target is not None else {})}
    return record(eventTime=when, userIdentity=identity, sourceIPAddress=ip, requestParameters=request,
                  eventID=f"clp-{next(_ids):06d}", **extra)


def console_login(who: str, when: str, ip: str, success: bool = True) -> dict:
    identity = ROOT if who == "root" else user(who)
    extra: dict[str, Any] = {"responseElements": {"ConsoleLogin": "Success" if success else "Failure"},
                             "eventType": "AwsConsoleSignIn"}
    if not success:
        extra["errorMessage"] = "Failed authentication"
    return event("ConsoleLogin", when, identity, source="signin.amazonaws.com", ip=ip, **extra)
