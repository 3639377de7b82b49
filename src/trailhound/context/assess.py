"""Context for an alert on an IAM user: was the user just onboarded, did it then sign in, what did the actor
do around it. The identity plug-in (context/identity.py) runs these steps for the rules that declare it.

The target is the alert's generic `Resource` (an IAM user), the actor and the address come from the raw
record: no rule's column is read. Severity starts from the rule's (Medium for 0xFF-0237) and each step that
changes it, or could have and did not, is written to the alert's `Reasons`, so an analyst reads why an alert
ranks where it does. Nothing is ever dropped: onboarding ranks Low, it does not disappear. The steps, in
order:

1. the target was created moments before by the same principal: onboarding (Low); otherwise, or with no
   creation seen in this scan or the state store, an existing user (Medium);
2. the caller gave itself a password (no userName, root, or its own name): at least High;
3. the target then signed in to the console within hours: at least High; from the address the password was
   assigned from: Critical. A new user signing in from elsewhere is what onboarding looks like, so that
   alone does not raise an onboarding alert;
4. the call failed: `failure_steps` lower, applied by the run after this ranking, once for every alert with
   context or without (alerts.severity.failed_call); the reasons say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..alerts.alert import Alert, event_key
from ..alerts.severity import FAILED_CALL_STEPS, Severity
from ..errors import ConfigError
from ..records.record import Record, format_time, parse_time
from ..records.times import parse_duration
from .collect import principal
from .plugin import RelatedEvent, RelatedStore

CONTEXT_COLUMNS = ("TargetCreatedAt", "TargetCreatedBy", "ConsoleLoginsAfter", "ActorRecentActivity", "Reasons")
STEP_NAMES = ("onboarding", "existing", "self", "login", "login_same_address")
_ACTIVITY_LIMIT = 25  # the actor's calls listed on the row; the timeline shows them all


@dataclass(frozen=True)
class ContextPolicy:
    onboarding_window: timedelta = timedelta(minutes=60)
    login_window: timedelta = timedelta(hours=12)
    activity_window: timedelta = timedelta(hours=1)
    keep_related: timedelta = timedelta(days=30)  # how long the state store remembers related events
    onboarding: Severity = Severity.LOW
    existing: Severity = Severity.MEDIUM
    self: Severity = Severity.HIGH
    login: Severity = Severity.HIGH
    login_same_address: Severity = Severity.CRITICAL
    failure_steps: int = FAILED_CALL_STEPS

    def with_steps(self, assignments: list[str]) -> ContextPolicy:
        """`STEP=LEVEL` pairs (from `--severity`) applied over this policy; a bad one is a ConfigError."""
        changes: dict[str, Any] = {}
        for text in assignments:
            step, _, level = text.partition("=")
            step, level = step.strip().lower().replace("-", "_"), level.strip()
            if step == "failure_steps" and level.isdigit():
                changes[step] = int(level)
                continue
            if step not in STEP_NAMES:
                raise ConfigError(f"--severity: {text!r}: step must be one of {', '.join(STEP_NAMES)} "
                                  "or failure_steps")
            changes[step] = Severity.parse(level, f"--severity: {text!r}: level")
        return replace(self, **changes)


def policy_from_options(onboarding_window: str | None = None, login_window: str | None = None,
                        steps: list[str] | None = None) -> ContextPolicy:
    """A policy from the CLI's `--onboarding-window`, `--login-window` and `--severity STEP=LEVEL` values."""
    policy = ContextPolicy()
    if onboarding_window:
        policy = replace(policy, onboarding_window=parse_duration(onboarding_window, "--onboarding-window"))
    if login_window:
        policy = replace(policy, login_window=parse_duration(login_window, "--login-window"))
    return policy.with_steps(steps or [])


@dataclass
class Assessment:
    severity: Severity
    reasons: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)

    def step(self, level: Severity, why: str, at_least: bool = False) -> None:
        if at_least:
            level = max(level, self.severity)
        self.severity = level
        self.reasons.append(f"{level}: {why}")


def target_user(row: dict[str, Any]) -> str:
    """The IAM user an alert concerns: its generic Resource's name."""
    resource = row.get("Resource")
    return str(resource.get("Name") or "") if isinstance(resource, dict) else ""


def assess(row: dict[str, Any], raw: dict[str, Any], related: list[RelatedEvent], policy: ContextPolicy,
           baseline: Severity) -> Assessment:
    """Severity, reasons and context fields for one alert, from the related events about it."""
    record = Record(raw)
    when = parse_time(row.get("TimeGenerated")) or record.time
    target, account = target_user(row), record.recipient_account or record.actor_account
    actor = principal(record)
    about_target = [e for e in related if e["AccountId"] == account and target in (e["Subject"], e["Target"])]
    result = Assessment(baseline, [f"{baseline}: rule {row.get('RuleId', '')} baseline"])
    if when is None:  # an undated alert cannot be placed against anything: say so and keep the baseline
        result.reasons.append(f"{baseline}: event time unreadable, no context applied")
        return result
    onboarding = _creation_step(result, about_target, target, actor, when, policy)
    self_assigned = _self_step(result, record, policy)
    logins = _login_step(result, about_target, target, record.source_ip, when, policy,
                         onboarding and not self_assigned)
    result.fields["ConsoleLoginsAfter"] = logins
    result.fields["ActorRecentActivity"] = _activity(related, actor, record, when, policy)
    return result


def _creation_step(result: Assessment, about_target: list[RelatedEvent], target: str, actor: str, when: datetime,
                   policy: ContextPolicy) -> bool:
    created = [(at, e) for e in about_target if e["Name"] == "CreateUser" and e["Target"] == target
               and e["Outcome"] == "success" and (at := _at(e)) is not None and at <= when]
    latest = max(created, key=_first, default=None)
    result.fields["TargetCreatedAt"] = latest[1]["Time"] if latest else None
    result.fields["TargetCreatedBy"] = (latest[1]["ActorArn"] or latest[1]["Actor"]) if latest else None
    if latest is None:
        result.step(policy.existing, f"existing user: no creation of {target} seen in this scan or the state store")
        return False
    created_at, creation = latest
    ago = when - created_at
    by_same = creation["Actor"] == actor
    if by_same and ago <= policy.onboarding_window:
        result.step(policy.onboarding, f"onboarding: {target} was created {_span(ago)} before by the same "
                                       f"principal ({actor})")
        return True
    why = (f"created {_span(ago)} before, beyond the {_span(policy.onboarding_window)} onboarding window"
           if by_same else f"created {_span(ago)} before by another principal ({creation['Actor']})")
    result.step(policy.existing, f"existing user: {why}")
    return False


def _self_step(result: Assessment, record: Record, policy: ContextPolicy) -> bool:
    named = record.request.get("userName")
    who = record.identity_text("type").lower()
    if who == "root" or named in (None, ""):
        why = "root gave itself a console password" if who == "root" else "the caller gave itself a password"
    elif who == "iamuser" and named == record.identity_text("userName"):
        why = f"{named} gave itself a console password"
    else:
        return False
    result.step(policy.self, why, at_least=True)
    return True


def _login_step(result: Assessment, about_target: list[RelatedEvent], target: str, address: str, when: datetime,
                policy: ContextPolicy, onboarding: bool) -> list[dict[str, str]]:
    end = when + policy.login_window
    logins = sorted(((at, e) for e in about_target if e["Name"] == "ConsoleLogin" and e["Subject"] == target
                     and (at := _at(e)) is not None and when <= at <= end), key=_first)
    succeeded = [(at, e) for at, e in logins if e["Outcome"] == "success"]
    if succeeded:
        same = [(at, e) for at, e in succeeded if address and e["SourceIpAddress"] == address]
        first_at, first = (same or succeeded)[0]
        later = f"{target} signed in to the console {_span(first_at - when)} later"
        if same:
            result.step(policy.login_same_address, f"{later} from the same address ({address})", at_least=True)
        elif onboarding:
            result.reasons.append(f"{result.severity}: {later} from another address ({first['SourceIpAddress']}), "
                                  "as a new user does: unchanged")
        else:
            result.step(policy.login, f"{later} from another address ({first['SourceIpAddress']})", at_least=True)
    return [{"Time": e["Time"], "SourceIpAddress": e["SourceIpAddress"], "Outcome": e["Outcome"]}
            for _, e in logins]


def _activity(related: list[RelatedEvent], actor: str, record: Record, when: datetime,
              policy: ContextPolicy) -> list[dict[str, str]]:
    own = event_key(record)
    start, end = when - policy.activity_window, when + policy.activity_window
    calls = sorted(((at, e) for e in related if e["Actor"] == actor and e["Key"] != own
                    and (at := _at(e)) is not None and start <= at <= end), key=lambda p: (p[0], p[1]["Key"]))
    return [{"Time": e["Time"], "Event": f"{e['Source'].split('.', 1)[0]}:{e['Name']}", "Outcome": e["Outcome"],
             "SourceIpAddress": e["SourceIpAddress"], **({"Target": e["Target"]} if e["Target"] else {})}
            for _, e in calls[:_ACTIVITY_LIMIT]]



def _at(event: RelatedEvent) -> datetime | None:
    return parse_time(event["Time"])


def _first(dated: tuple[datetime, RelatedEvent]) -> datetime:
    """The sort key of an (event time, event) pair: its time alone, so equal times keep their order."""
    return dated[0]


def _span(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.1f} days".replace(".0 days", " days")


def related_for(store: RelatedStore, row: dict[str, Any], raw: dict[str, Any],
                policy: ContextPolicy) -> list[RelatedEvent]:
    """What the store holds about an alert's target and actor, within the windows the steps look at."""
    about = _about(row, raw)
    if about is None:
        return []
    account, user, actor, when = about
    before = max(policy.activity_window, policy.onboarding_window)
    after = max(policy.activity_window, policy.login_window)
    return store.related_about(account, user, actor, format_time(when - before), format_time(when + after))


def context_for(store: RelatedStore, row: dict[str, Any], raw: dict[str, Any],
                policy: ContextPolicy) -> list[RelatedEvent]:
    """What `assess` reads, and no more: see `StateStore.context_about` (the timeline wants everything)."""
    about = _about(row, raw)
    if about is None:
        return []
    account, user, actor, when = about
    return store.context_about(
        account, user, actor, format_time(when), format_time(when + policy.login_window),
        (format_time(when - policy.activity_window), format_time(when + policy.activity_window)), _ACTIVITY_LIMIT)


def _about(row: dict[str, Any], raw: dict[str, Any]) -> tuple[str, str, str, datetime] | None:
    """(account, target user, actor, time) of an alert, or None when its time cannot be read."""
    record = Record(raw)
    when = parse_time(row.get("TimeGenerated")) or record.time
    if when is None:
        return None
    return (record.recipient_account or record.actor_account, target_user(row), principal(record), when)


def apply(alert: Alert, assessment: Assessment) -> None:
    """Write an assessment onto the alert row, after the core columns, so the state store keeps it."""
    alert.row["Severity"] = str(assessment.severity)
    for name in CONTEXT_COLUMNS[:-1]:
        alert.row[name] = assessment.fields.get(name)
    alert.row["Reasons"] = assessment.reasons
