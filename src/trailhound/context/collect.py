"""Related events: the few non-matching records that tell an attack from onboarding, kept compact.

A rule's alert says *what* happened; these say what happened *around* it: who created the target and
when, whether the target then signed in to the console, what the actor did before and after. They are
identity-plane events (IAM, console sign-in, the STS calls that reveal a stolen key being tried), which is
all the context needs and a small share of any trail, so the prefilter can keep them by needle.
"""

from __future__ import annotations

from ..alerts.alert import event_key
from ..records.record import Record, as_text
from .plugin import RelatedEvent

# The identity-plane calls the context reads: the two the severity steps need (CreateUser, ConsoleLogin),
# the target's deletion (DeleteUser), the key that often follows a stolen key's password (CreateAccessKey)
# and the user listing that precedes it (ListUsers). Busy calls (GetCallerIdentity, which every SDK and
# Terraform run makes; data-plane calls) are left out on purpose: measured on the benchmark corpus,
# GetCallerIdentity alone added 60% to a scan.
KEPT_EVENTS = {
    "iam.amazonaws.com": ("CreateUser", "DeleteUser", "CreateLoginProfile", "CreateAccessKey", "ListUsers"),
    "signin.amazonaws.com": ("ConsoleLogin",),
}
_KEPT = {(source, name.lower()) for source, names in KEPT_EVENTS.items() for name in names}
_KEPT_NAMES = {name for _, name in _KEPT}


def principal(record: Record) -> str:
    """Who made a call, stable across sessions: an IAM user's or root's ARN, an assumed role's role ARN."""
    identity_type = record.identity_text("type").lower()
    if identity_type == "assumedrole":
        issuer = as_text(record.session_issuer.get("arn"))
        if issuer:
            return issuer
    arn = record.identity_text("arn")
    if arn:
        return arn
    if identity_type == "root":
        return f"root:{record.actor_account}"
    return record.identity_text("principalId") or record.identity_text("userName")


def subject(record: Record) -> str:
    """The IAM user the caller *is* (for a sign-in, the user who signed in): a user name, 'root', or ''."""
    identity_type = record.identity_text("type").lower()
    if identity_type == "root":
        return "root"
    if identity_type == "iamuser":
        return record.identity_text("userName")
    return ""


def outcome(record: Record) -> str:
    if record.error_code:
        return "failure"
    if record.event_source.lower() == "signin.amazonaws.com":
        # A failed sign-in has no errorCode in many trails, only ConsoleLogin: Failure in the response.
        result = as_text(record.response.get("ConsoleLogin"))
        if result and result.lower() != "success":
            return "failure"
    return "success"


# Every value below comes from the log. IAM caps names at 64 characters and ARNs at 2048; anything longer
# is an attacker's padding, and unbounded values here would be stored, copied and re-read for every alert.
_MAX_TEXT = 2048


def _cap(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def summarize(record: Record) -> RelatedEvent:
    """One related event as a small, picklable dict: what a timeline row and the severity steps need."""
    target = record.request.get("userName")
    return {
        "Key": _cap(event_key(record)),
        "Time": _cap(record.time_text),
        "Source": _cap(record.event_source.lower()),
        "Name": _cap(record.event_name),
        "Outcome": outcome(record),
        "ErrorCode": _cap(record.error_code),
        "AccountId": _cap(record.recipient_account or record.actor_account),
        "Actor": _cap(principal(record)),
        "ActorArn": _cap(record.identity_text("arn")),
        "ActorType": _cap(record.identity_text("type")),
        "Subject": _cap(subject(record)),
        "Target": "" if target in (None, "") else _cap(as_text(target)),
        "SourceIpAddress": _cap(record.source_ip),
        "UserAgent": _cap(record.user_agent),
    }


class RelatedEvents:
    """The collector: keeps those identity-plane records from every input, whatever file they are in."""

    # Files are searched for the event sources, not the names: every kept record holds both, and two
    # searches of every byte cost less than six (~0.1 s per GB each, measured here). The other IAM calls
    # that search lets by are dropped by their names before they are parsed (prefilter.Matcher.keeps).
    needles = sorted({source.encode() for source, _ in _KEPT})
    also_needles = [sorted({name.encode() for _, name in _KEPT})]

    def keep(self, record: Record) -> RelatedEvent | None:
        # The name first, cheaply: most records the needles let by are other IAM calls.
        name = record.raw.get("eventName")
        name = name.lower() if isinstance(name, str) else ""
        if name not in _KEPT_NAMES or (record.event_source.lower(), name) not in _KEPT:
            return None
        if record.time is None:  # context is about when; an undated record cannot be placed
            return None
        return summarize(record)
