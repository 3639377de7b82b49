"""The identity plug-in: onboarding, the target's console sign-ins and the actor's activity around an alert
on an IAM user (the steps are in assess.py, the related events they read in collect.py).

0xFF-0237 declares it, and so may any rule whose alert's `Resource` is an IAM user that a password or key
was given to: a console sign-in by that user soon after is what turns a change into a takeover.
"""

from __future__ import annotations

from ..alerts.alert import Alert
from ..alerts.severity import Severity
from ..records.record import Record
from .assess import ContextPolicy, apply, assess, context_for, target_user
from .collect import RelatedEvents, principal
from .plugin import ContextPlugin, RelatedStore


class IdentityContext(ContextPlugin):
    collector = RelatedEvents()
    settings_type = ContextPolicy
    settings: ContextPolicy

    @property
    def keep_related_s(self) -> float:
        return self.settings.keep_related.total_seconds()

    def focus(self, alerts: list[Alert]) -> list[bytes] | None:
        """The alerts' targets and actors, as text: every event `assess` and the timeline read about an alert
        names its target (as `userName`, requested or signed in) or is its actor's (the actor's ARN, or a
        root identity), in the record's own bytes. A name the search could miss (empty, too short to search
        for, or not ASCII, which JSON may escape as it likes) gives up the focus."""
        needles: set[bytes] = set()
        for alert in alerts:
            if alert.resource.get("Type") != "AwsIamUser":
                continue
            actor = principal(Record(alert.raw))
            for text in (target_user(alert.row), "root" if actor.startswith("root:") else actor):
                if len(text) < 3 or not text.isascii():
                    return None
                needles.add(text.lower().encode())
        return sorted(needles)

    def enrich(self, alerts: list[Alert], store: RelatedStore, baseline: Severity = Severity.MEDIUM) -> None:
        for alert in alerts:
            if alert.resource.get("Type") != "AwsIamUser":
                continue  # an alert stored before it had a Resource, or on something else: its own severity stays
            found = context_for(store, alert.row, alert.raw, self.settings)
            apply(alert, assess(alert.row, alert.raw, found, self.settings, baseline))
