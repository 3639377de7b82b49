"""A scheduled KQL rule in a run that does not end (watch): Sentinel's schedule against a clock.

The historical path evaluates a scheduled rule once per window across the data it was given. Watch gets its
data in batches, so each rule keeps its rows across batches and remembers the end of the last window it
evaluated; whenever the clock has passed more queryFrequency boundaries (after a batch, or an idle poll), it
evaluates each window (boundary - queryPeriod, boundary] in turn with the same per-window code. Rows no
future window can see (TimeGenerated at or before the next window's start) are dropped, so what is held is
bounded by queryPeriod. A row ingested after its windows were evaluated is seen only by the later windows
whose period still covers it (as in Sentinel, where a late row misses the runs that came before it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ...alerts.alert import Alert
from .evaluate import INGESTION
from .rule import KqlRule, RunView


@dataclass
class LiveSchedule:
    """One scheduled rule's rows and last evaluated window, kept between watch's batches."""

    rule: KqlRule
    rows: list[dict[str, Any]] = field(default_factory=list)
    evaluated: datetime | None = None  # the end of the last window evaluated

    def conclude(self, rows: list[dict[str, Any]], view: RunView, now: datetime) -> list[Alert]:
        """The alerts of every window due by `now` over the rows held and these new ones."""
        frequency = self.rule.frequency
        if frequency is None:
            raise ValueError(f"{self.rule.id}: not a scheduled rule")
        period = self.rule.period or frequency
        self.rows.extend(rows)
        history = [dict(r) for r in view.history]
        alerts: list[Alert] = []
        for end in self.rule.boundaries(self.rows, self.evaluated, now):
            alerts.extend(self.rule.conclude_window(self.rows, end - period, end, history, view.dedup_fields))
            self.evaluated = end
        if self.evaluated is None and not self.rows:
            # Nothing seen yet: the schedule starts now (a rule that fires on few rows runs from the next
            # boundary on, not over the time before watch started).
            step = frequency.total_seconds()
            self.evaluated = datetime.fromtimestamp(now.timestamp() // step * step, UTC)
        if self.evaluated is not None:
            horizon = self.evaluated + frequency - period  # the next window's start
            self.rows = [r for r in self.rows if _after(r, horizon)]
        return alerts


def _after(row: dict[str, Any], horizon: datetime) -> bool:
    """Whether a later window can still see the row (one with no time at all has been seen: dropped)."""
    value = row.get("TimeGenerated") or row.get(INGESTION)
    return isinstance(value, datetime) and value > horizon


__all__ = ["LiveSchedule"]
