"""The engine's enricher: remembers each input's related events as they arrive, then lets each rule's
context plug-in rank that rule's alerts, and no other rule's.

Related events go into SQLite (the state store, or a scratch file for a run without one) in batches,
never into one list in memory: a month of an organisation's IAM calls must not cost the driver its memory.
The scratch store is opened by a factory the caller passes (state.StateStore): context sits below state.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from ..alerts.alert import Alert
from ..alerts.severity import Severity
from .plugin import Collector, ContextPlugin, Focused, RelatedEvent, RelatedStore


class ContextEnricher:
    BATCH = 5000

    def __init__(self, plugins: Mapping[str, tuple[ContextPlugin, Severity]],
                 scratch: Callable[[Path], RelatedStore] | None = None) -> None:
        """`plugins`: rule id -> (its plug-in, the rule's severity, where ranking starts)."""
        self.plugins = dict(plugins)
        self._open_scratch = scratch
        self._scratch: RelatedStore | None = None
        self._scratch_dir: tempfile.TemporaryDirectory[str] | None = None
        self._pending: list[RelatedEvent] = []

    @property
    def collectors(self) -> tuple[Collector, ...]:
        """Each plug-in's collector, once: what the run must keep besides its rules' matches."""
        unique = {id(p.collector): p.collector for p, _ in self.plugins.values()}
        return tuple(unique.values())

    def focused(self, alerts: list[Alert]) -> tuple[Collector, ...] | None:
        """The collectors for a second pass that reads only what these alerts need (ContextPlugin.focus): none
        when no alert is one a plug-in ranks; None when a plug-in cannot focus (collect as usual)."""
        chosen: dict[int, tuple[Collector, set[bytes]]] = {}  # one per collector, as `collectors` gives
        for rule_id, (plugin, _) in self.plugins.items():
            own = [alert for alert in alerts if alert.rule_id == rule_id]
            if not own:
                continue
            needles = plugin.focus(own)
            if needles is None:
                return None
            chosen.setdefault(id(plugin.collector), (plugin.collector, set()))[1].update(needles)
        return tuple(Focused(collector, sorted(needles)) for collector, needles in chosen.values() if needles)

    def remember(self, related: list[RelatedEvent], state: RelatedStore | None) -> None:
        self._pending.extend(related)
        if len(self._pending) >= self.BATCH:  # one transaction per batch, not per input
            self._flush(state)

    def _flush(self, state: RelatedStore | None) -> None:
        if self._pending:
            self._store(state).save_related(self._pending)
            self._pending = []

    def __call__(self, alerts: list[Alert], state: RelatedStore | None) -> None:
        self._flush(state)
        store = self._store(state)
        try:
            keep = max((p.keep_related_s for p, _ in self.plugins.values()), default=0.0)
            if keep:
                store.prune_related(keep)
            for rule_id, (plugin, baseline) in self.plugins.items():
                own = [alert for alert in alerts if alert.rule_id == rule_id]
                if own:
                    plugin.enrich(own, store, baseline)
        finally:
            self._drop_scratch()

    def _store(self, state: RelatedStore | None) -> RelatedStore:
        if state is not None:
            return state
        if self._scratch is None:  # one code path with or without --state: the same queries on a scratch file
            if self._open_scratch is None:
                raise ValueError("a run without a state store must give ContextEnricher a scratch store factory")
            self._scratch_dir = tempfile.TemporaryDirectory(prefix="trailhound-context-")
            self._scratch = self._open_scratch(Path(self._scratch_dir.name) / "related.db")
        return self._scratch

    def _drop_scratch(self) -> None:
        if self._scratch is not None:
            self._scratch.close()
            if self._scratch_dir is not None:  # made with the scratch store, in _store
                self._scratch_dir.cleanup()
            self._scratch = self._scratch_dir = None
