"""Kusto's values in Python, and Kusto's rules for printing and comparing them.

string -> str (never null: Sentinel stores "" for a missing value), long/int -> int, real -> float, bool ->
bool, datetime -> aware datetime (UTC), timespan -> timedelta, dynamic -> dict / list / scalar, null -> None.
A dynamic value printed with `tostring` is Kusto's compact JSON (no spaces, key order kept), not Python's.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

_SPAN_UNITS = {
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 0.001, "milli": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "micro": 1e-6, "microsecond": 1e-6, "microseconds": 1e-6,
    "tick": 1e-7, "ticks": 1e-7,
}
_SPAN_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$")
_CLOCK_RE = re.compile(r"^\s*(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*$")


def parse_timespan_literal(text: str) -> timedelta | None:
    """`2h`, `1.5d`, `30m`, `100ms`; `1.02:03:04` (d.hh:mm:ss) as in timespan(...); None otherwise."""
    match = _SPAN_RE.match(text.lower())
    if match and match.group(2) in _SPAN_UNITS:
        return timedelta(seconds=float(match.group(1)) * _SPAN_UNITS[match.group(2)])
    clock = _CLOCK_RE.match(text)
    if clock:
        sign, days, hours, minutes, seconds, frac = clock.groups()
        total = timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0),
                          microseconds=int((frac or "0")[:6].ljust(6, "0")))
        return -total if sign else total
    if re.fullmatch(r"\s*\d+\s*", text):
        return timedelta(days=int(text))  # timespan(2) is two days
    return None


def parse_datetime_literal(text: str) -> datetime | None:
    """Kusto's datetime literal and todatetime(): ISO 8601 with or without T/Z, a date alone; UTC."""
    text = text.strip().strip("'\"")
    if not text or text.lower() == "null":
        return None
    cleaned = text.replace(" ", "T", 1) if re.match(r"^\d{4}-\d{2}-\d{2} \d", text) else text
    cleaned = cleaned.replace("Z", "+00:00").replace("z", "+00:00")
    frac = re.search(r"\.(\d+)", cleaned)
    if frac and len(frac.group(1)) > 6:  # Kusto keeps 100 ns ticks; Python keeps microseconds
        cleaned = cleaned.replace(frac.group(0), "." + frac.group(1)[:6], 1)
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """Kusto prints datetimes as ISO 8601 UTC with Z; fractions of a second, when there are any, in 7 digits."""
    value = value.astimezone(UTC)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        return f"{base}.{value.microsecond:06d}0Z"
    return base + "Z"


def format_timespan(value: timedelta) -> str:
    """Kusto's timespan text: [-][d.]hh:mm:ss[.fffffff]."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if value.days:
        text = f"{value.days}.{text}"
    if value.microseconds:
        text += f".{value.microseconds:06d}0"
    return sign + text


def _json_default(value: Any) -> Any:
    if isinstance(value, timedelta):
        return format_timespan(value)
    raise TypeError


def to_json_value(value: Any) -> Any:
    """A value as it sits inside a dynamic: datetimes and timespans as Kusto's text."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, timedelta):
        return format_timespan(value)
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """Kusto's compact JSON for a dynamic value."""
    return orjson.dumps(to_json_value(value), default=_json_default).decode()


def to_string(value: Any) -> str:
    """tostring(): "" for null, Kusto's text for datetime/timespan/bool/real, compact JSON for dynamic."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, timedelta):
        return format_timespan(value)
    return to_json(value)


def parse_json(value: Any) -> Any:
    """parse_json()/todynamic(): a JSON string parsed; anything else (already dynamic, a number) as it is; a
    string that is not JSON stays that string."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return value
    return value


def is_empty(value: Any) -> bool:
    """isempty(): null or the empty string (a dynamic empty array or bag is not empty)."""
    return value is None or value == ""


def to_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return None
    return None


def to_number(value: Any) -> int | float | None:
    """A value as a number for comparison and arithmetic: numeric strings in a dynamic convert."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def to_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return parse_datetime_literal(value)
    return None


def kusto_equal(left: Any, right: Any) -> bool | None:
    """`==` with Kusto's typing: strings exactly, numbers by value, a datetime against its text, a dynamic
    scalar against a scalar; null never equals anything (the row is not kept)."""
    if left is None or right is None:
        return None
    if isinstance(left, bool) or isinstance(right, bool):
        lb, rb = to_bool(left), to_bool(right)
        return None if lb is None or rb is None else lb == rb
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, datetime) or isinstance(right, datetime):
        ld, rd = to_datetime(left), to_datetime(right)
        return None if ld is None or rd is None else ld == rd
    if isinstance(left, timedelta) or isinstance(right, timedelta):
        return bool(left == right)
    if isinstance(left, (int, float)) or isinstance(right, (int, float)):
        ln, rn = to_number(left), to_number(right)
        return None if ln is None or rn is None else ln == rn
    return to_string(left) == to_string(right)


def order_key(value: Any) -> tuple[Any, ...]:
    """A sort key across Kusto types: nulls first, then numbers, datetimes, timespans, strings."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, datetime):
        return (2, value.timestamp())
    if isinstance(value, timedelta):
        return (3, value.total_seconds())
    return (4, to_string(value))


def hashable(value: Any) -> Any:
    """A key for grouping, distinct and join: dynamic values by their JSON text."""
    if isinstance(value, (dict, list)):
        return ("dynamic", to_json(value))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "real"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, timedelta):
        return "timespan"
    if isinstance(value, dict):
        return "dictionary"
    return "array"


def convert(value: Any, kusto_type: str) -> Any:
    """`to typeof(T)` and parse's typed columns: the value converted, null when it does not convert."""
    kusto_type = kusto_type.lower()
    if kusto_type == "string":
        return to_string(value)
    if kusto_type in ("int", "long"):
        number = to_number(value)
        return None if number is None else int(number)
    if kusto_type in ("real", "double", "decimal"):
        number = to_number(value)
        return None if number is None else float(number)
    if kusto_type == "bool":
        return to_bool(value)
    if kusto_type == "datetime":
        return to_datetime(value)
    if kusto_type == "timespan":
        return value if isinstance(value, timedelta) else parse_timespan_literal(to_string(value))
    return value


TERM_CHARS = re.compile(r"[A-Za-z0-9]")


def has_term(haystack: str, needle: str, case_sensitive: bool = False) -> bool:
    """Kusto's `has`: the needle found as whole terms. Terms are runs of ASCII letters and digits; a needle
    edge that is alphanumeric must meet a non-alphanumeric character (or the end) in the haystack."""
    if needle == "":
        return True
    if not case_sensitive:
        haystack, needle = haystack.lower(), needle.lower()
    start = 0
    first_alnum = bool(TERM_CHARS.match(needle[0]))
    last_alnum = bool(TERM_CHARS.match(needle[-1]))
    while True:
        at = haystack.find(needle, start)
        if at < 0:
            return False
        before_ok = not first_alnum or at == 0 or not TERM_CHARS.match(haystack[at - 1])
        end = at + len(needle)
        after_ok = not last_alnum or end == len(haystack) or not TERM_CHARS.match(haystack[end])
        if before_ok and after_ok:
            return True
        start = at + 1


def has_prefix(haystack: str, needle: str, case_sensitive: bool = False) -> bool:
    """hasprefix: a term starts with the needle."""
    if not case_sensitive:
        haystack, needle = haystack.lower(), needle.lower()
    return any(term.startswith(needle) for term in re.findall(r"[a-z0-9]+", haystack, re.I))


def has_suffix(haystack: str, needle: str, case_sensitive: bool = False) -> bool:
    if not case_sensitive:
        haystack, needle = haystack.lower(), needle.lower()
    return any(term.endswith(needle) for term in re.findall(r"[a-z0-9]+", haystack, re.I))


def now_utc() -> datetime:
    return datetime.now(UTC)
