"""What a context plug-in is: a collector of related events, its own settings, and `enrich`.

A rule declares its plug-in (`Rule.context`); a run asks its rules which plug-ins, and so which collectors,
it needs, so a run whose rules declare none collects nothing. Plug-ins read what every alert carries (its
`Resource`, its raw record), never a rule's column.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol, TypedDict

from ..alerts.alert import Alert
from ..alerts.severity import Severity
from ..records.record import Record


class RelatedEvent(TypedDict):
    """One related event as a collector keeps it (`collect.summarize`): small, picklable, JSON in the state
    store, which indexes Key, Time, AccountId, Actor, Subject and Target. Every value is text from the log."""

    Key: str
    Time: str
    Source: str
    Name: str
    Outcome: str
    ErrorCode: str
    AccountId: str
    Actor: str
    ActorArn: str
    ActorType: str
    Subject: str
    Target: str
    SourceIpAddress: str
    UserAgent: str


class Collector(Protocol):
    """Keeps the few non-matching records that give alerts their context (CreateUser, ConsoleLogin, ...).

    Like a rule it declares needles, so the prefilter keeps the records it needs; unlike a rule it raises
    nothing: `keep` returns a compact, picklable summary of a related record, or None.
    """

    needles: list[bytes]
    also_needles: list[list[bytes]]  # more lists every kept record holds a member of

    def keep(self, record: Record) -> RelatedEvent | None: ...


class RelatedStore(Protocol):
    """Where related events are kept and asked about; `state.StateStore` is one (context sits below state)."""

    def save_related(self, events: list[RelatedEvent], keep_s: float | None = None) -> None: ...

    def prune_related(self, keep_s: float) -> None: ...

    def related_about(self, account: str, user: str, actor: str, start: str, end: str) -> list[RelatedEvent]: ...

    def context_about(self, account: str, user: str, actor: str, when: str, logins_until: str,
                      activity: tuple[str, str], activity_limit: int) -> list[RelatedEvent]: ...

    def close(self) -> None: ...


class Focused:
    """A collector kept to the records holding one of `needles` (what the alerts of a run are about): files
    are searched for those first, the rarest, then the collector's own lists must hold as before."""

    def __init__(self, collector: Collector, needles: list[bytes]) -> None:
        self.collector = collector
        self.needles = needles
        self.also_needles = [list(collector.needles), *map(list, getattr(collector, "also_needles", ()))]

    def keep(self, record: Record) -> RelatedEvent | None:
        return self.collector.keep(record)


class ContextPlugin(ABC):
    """One rule's context: `collector` keeps the related events it reads, `settings` say how it ranks."""

    collector: ClassVar[Collector]
    settings_type: ClassVar[type]

    def __init__(self, settings: Any = None) -> None:
        self.settings = settings if settings is not None else self.settings_type()

    @property
    def keep_related_s(self) -> float:
        """How long the store remembers the related events this plug-in reads (0: no limit it needs)."""
        return 0.0

    def focus(self, alerts: list[Alert]) -> list[bytes] | None:
        """Needles one of which every related event this plug-in would read about `alerts` holds (a target's
        name, an actor's ARN), so a run that collects only after it has alerts reads no other; None: it
        cannot say, and everything its collector keeps is collected."""
        return None

    @abstractmethod
    def enrich(self, alerts: list[Alert], store: RelatedStore, baseline: Severity) -> None:
        """Rank `alerts` (one rule's, whose severity is `baseline`) with what `store` holds about them."""
