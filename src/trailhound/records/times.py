"""Durations (2h, 7d, 90m) and points in time (a duration ago, or ISO 8601) as the CLI takes them, and the
Sentinel portal's locale-dependent time format, read per file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..errors import ConfigError
from .record import format_time, parse_time

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


# The Sentinel portal's export writes times in the browser's locale, without a zone (the column says
# `[UTC]`): `21/04/2025, 09:45:54.000` (day first, 24 h) or `6/8/2018, 3:31:37.000 PM` (US: month first).
_PORTAL = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?"
                     r"\s*([AaPp][Mm])?\s*$")


def is_portal_time(text: object) -> bool:
    return isinstance(text, str) and _PORTAL.match(text) is not None


def day_order(values: list[str]) -> tuple[bool, bool]:
    """(day first?, settled?) for one file's portal times: a first number above 12 can only be a day, a
    second above 12 only a day too; when no value settles it, day first is assumed, except that a 12-hour
    clock (AM/PM) is the US locale's, which writes the month first."""
    twelve_hour = False
    for text in values:
        match = _PORTAL.match(text)
        if match is None:
            continue
        first, second = int(match.group(1)), int(match.group(2))
        if first > 12:
            return True, True
        if second > 12:
            return False, True
        twelve_hour = twelve_hour or match.group(8) is not None
    return not twelve_hour, False


def portal_time(text: str, day_first: bool) -> str | None:
    """A portal time as ISO 8601 UTC (2025-04-21T09:45:54Z), or None when it is not one or not a date."""
    match = _PORTAL.match(text)
    if match is None:
        return None
    a, b, year, hour, minute, second, fraction, half = match.groups()
    day, month = (int(a), int(b)) if day_first else (int(b), int(a))
    hour_24 = int(hour)
    if half is not None:
        if not 1 <= hour_24 <= 12:
            return None
        hour_24 = hour_24 % 12 + (12 if half.lower() == "pm" else 0)
    try:
        when = datetime(int(year), month, day, hour_24, int(minute), int(second or 0),
                        int((fraction or "0").ljust(6, "0")[:6]), tzinfo=UTC)
    except ValueError:
        return None
    return format_time(when)
