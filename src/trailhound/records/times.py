"""Durations (2h, 7d, 90m) and points in time (a duration ago, or ISO 8601) as the CLI takes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..errors import ConfigError
from .record import parse_time

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str, what: str = "duration") -> timedelta:
    match = _DURATION.match(text or "")
    if not match:
        raise ConfigError(f"{what}: {text!r} is not a duration; use a number and a unit, like 90m, 2h or 7d")
    try:
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])
    except OverflowError:
        raise ConfigError(f"{what}: {text!r} is longer than a calendar can hold") from None


def parse_when(text: str, what: str, now: datetime | None = None) -> datetime:
    """`2h` / `7d` (that long before now) or an ISO 8601 time (UTC unless it says otherwise)."""
    if _DURATION.match(text or ""):
        try:
            return (now or datetime.now(UTC)) - parse_duration(text, what)
        except OverflowError:
            raise ConfigError(f"{what}: {text!r} reaches before the year 1") from None
    parsed = parse_time(text)
    if parsed is None:
        raise ConfigError(f"{what}: {text!r} is neither a duration (2h, 7d) nor an ISO 8601 time")
    return parsed
