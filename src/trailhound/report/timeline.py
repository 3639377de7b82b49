"""The events around one stored alert: the actor's calls and the target's, in time order.

Built from the state store (the alert row as raised, and the related events every `--state` run keeps), so
it works for an alert raised days ago, from files no longer at hand. The context is assessed again over
what the store holds now: a console sign-in seen by a later run shows up as a changed severity.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..alerts.severity import Severity, failed_call
from ..context.assess import Assessment, ContextPolicy, assess, related_for, target_user
from ..context.collect import principal, summarize
from ..context.plugin import RelatedEvent
from ..engine.rules import find_rule
from ..errors import ConfigError
from ..records.record import Record, parse_time
from ..state.base import State


@dataclass
class TimelineEvent:
    event: RelatedEvent  # a related-event summary (collect.summarize)
    at: datetime
    offset: timedelta  # from the alert's event
    lane: str  # "actor", "target" or "both"
    is_alert: bool = False


@dataclass
class Timeline:
    row: dict[str, Any]  # the alert row as stored when it was raised
    raw: dict[str, Any]
    events: list[TimelineEvent]
    now: Assessment  # the context assessed again over what the store holds today
    start: datetime
    end: datetime

    @property
    def alert_id(self) -> str:
        return str(self.row.get("AlertId", ""))

    @property
    def changed(self) -> bool:
        return self.now.severity != self.row.get("Severity") or self.now.reasons != self.row.get("Reasons")


def build(store: State, alert_id: str, before: timedelta = timedelta(hours=2),
          after: timedelta = timedelta(hours=12), policy: ContextPolicy | None = None) -> Timeline:
    policy = policy or ContextPolicy()
    row, raw = store.alert_record(alert_id)
    record = Record(raw)
    when = parse_time(row.get("TimeGenerated")) or record.time
    if when is None:
        raise ConfigError(f"{store.path}: alert {alert_id!r} has no readable event time to build a timeline around")
    wide = replace(policy, activity_window=max(before, after, policy.activity_window),
                   login_window=max(after, policy.login_window))
    related = related_for(store, row, raw, wide)
    own = summarize(record)
    if all(e["Key"] != own["Key"] for e in related):
        related.append(own)  # a store written before related events were kept still shows the alert itself
    now = assess(row, raw, related, policy, baseline_severity(row))
    if not record.succeeded:  # as the run ranks it: after the context, once (alerts.severity.failed_call)
        now.step(*failed_call(now.severity, record.error_code, policy.failure_steps))
    start, end = when - before, when + after
    events = [_placed(e, row, record, when, own["Key"]) for e in related]
    created_at = now.fields.get("TargetCreatedAt")
    shown = [e for e in events if start <= e.at <= end
             or (e.event["Name"] == "CreateUser" and e.event["Time"] == created_at)]
    shown.sort(key=lambda e: (e.at, e.event["Key"]))
    return Timeline(row, raw, shown, now, start, end)


def baseline_severity(row: dict[str, Any]) -> Severity:
    """Where ranking starts: the alert's rule's severity, or the stored one for a rule this build lacks."""
    rule = find_rule(str(row.get("RuleId", "")))
    return rule.severity if rule else Severity.parse(row.get("Severity") or "Medium", "stored alert: Severity")


def _placed(event: RelatedEvent, row: dict[str, Any], record: Record, when: datetime, own_key: str) -> TimelineEvent:
    at = parse_time(event["Time"]) or when
    target = target_user(row)
    by_actor = event["Actor"] == principal(record)
    on_target = target in (event["Subject"], event["Target"])
    lane = "both" if by_actor and on_target else "actor" if by_actor else "target"
    return TimelineEvent(event, at, at - when, lane, is_alert=event["Key"] == own_key)


def offset_text(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    if seconds >= 86400:
        return f"{sign}{seconds // 86400}d{seconds % 86400 // 3600:02d}h"
    return f"{sign}{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
