"""Kusto's scalar functions and aggregates, with Kusto's semantics (tested one by one in tests/engine/kql)."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .values import (
    convert,
    hashable,
    is_empty,
    order_key,
    parse_json,
    to_bool,
    to_datetime,
    to_number,
    to_string,
)


def _split(value: Any, sep: Any, index: Any = None) -> Any:
    parts = to_string(value).split(to_string(sep)) if to_string(sep) else [to_string(value)]
    if index is None:
        return parts
    i = to_number(index)
    if i is None or not -len(parts) <= int(i) < len(parts):
        return []
    return [parts[int(i)]]


def _substring(value: Any, start: Any, length: Any = None) -> str:
    text = to_string(value)
    s = int(to_number(start) or 0)
    s = max(s, 0)
    if length is None:
        return text[s:]
    return text[s:s + max(int(to_number(length) or 0), 0)]


def _indexof(value: Any, lookup: Any, start: Any = 0, length: Any = -1, occurrence: Any = 1) -> int | None:
    text, find = to_string(value), to_string(lookup)
    s = int(to_number(start) or 0)
    at = -1
    for _ in range(int(to_number(occurrence) or 1)):
        at = text.find(find, s)
        if at < 0:
            return -1
        s = at + 1
    return at


def _indexof_regex(value: Any, pattern: Any, start: Any = 0, length: Any = -1, occurrence: Any = 1) -> int:
    match = re.compile(to_string(pattern)).search(to_string(value), int(to_number(start) or 0))
    return match.start() if match else -1


def _extract(pattern: Any, group: Any, value: Any, type_name: Any = None) -> Any:
    match = re.search(to_string(pattern), to_string(value))
    if not match:
        return None if type_name is not None else ""
    text = match.group(int(to_number(group) or 0))
    return text


def _ip(value: Any) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(to_string(value).strip().split("/")[0])
    except ValueError:
        return None


def _ipv4_is_private(value: Any) -> bool | None:
    ip = _ip(value)
    if ip is None:
        return None
    return any(ip in ipaddress.IPv4Network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _ipv4_in_range(value: Any, prefix: Any) -> bool | None:
    ip = _ip(value)
    try:
        network = ipaddress.IPv4Network(to_string(prefix).strip(), strict=False)
    except ValueError:
        return None
    return None if ip is None else ip in network


def _ipv4_is_match(left: Any, right: Any, bits: Any = None) -> bool | None:
    text = to_string(right)
    if bits is not None:
        text = f"{text.split('/')[0]}/{int(to_number(bits) or 32)}"
    if "/" not in to_string(left):
        return _ipv4_in_range(left, text) if "/" in text else _ip(left) == _ip(text) if _ip(left) else None
    return _ipv4_in_range(to_string(left).split("/")[0], text)


def _bin(value: Any, size: Any) -> Any:
    if value is None or size is None:
        return None
    if isinstance(value, datetime) and isinstance(size, timedelta):
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        step = size.total_seconds()
        return epoch + timedelta(seconds=math.floor((value - epoch).total_seconds() / step) * step)
    if isinstance(value, timedelta) and isinstance(size, timedelta):
        step = size.total_seconds()
        return timedelta(seconds=math.floor(value.total_seconds() / step) * step)
    number, step_n = to_number(value), to_number(size)
    if number is None or not step_n:
        return None
    out = math.floor(number / step_n) * step_n
    return int(out) if isinstance(number, int) and isinstance(step_n, int) else float(out)


def _startofday(value: Any, offset: Any = 0) -> datetime | None:
    when = to_datetime(value)
    if when is None:
        return None
    return when.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=int(to_number(offset) or 0))


_DIFF_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800, "millisecond": 0.001}


def _datetime_diff(part: Any, first: Any, second: Any) -> int | None:
    a, b = to_datetime(first), to_datetime(second)
    unit = to_string(part).lower()
    if a is None or b is None:
        return None
    if unit in ("year",):
        return a.year - b.year
    if unit in ("month",):
        return (a.year - b.year) * 12 + a.month - b.month
    if unit not in _DIFF_UNITS:
        return None
    size = _DIFF_UNITS[unit]
    # Kusto counts boundaries crossed, not elapsed time: truncate each side to the unit first.
    return int(math.floor(a.timestamp() / size) - math.floor(b.timestamp() / size))


def _iff(cond: Any, then: Any, otherwise: Any) -> Any:
    return then if to_bool(cond) else otherwise


def _case(*args: Any) -> Any:
    for i in range(0, len(args) - 1, 2):
        if to_bool(args[i]):
            return args[i + 1]
    return args[-1]


def _coalesce(*args: Any) -> Any:
    return next((a for a in args if not is_empty(a)), args[-1] if args else None)


def _array_length(value: Any) -> int | None:
    return len(value) if isinstance(value, list) else None


def _set_has_element(array: Any, value: Any) -> bool:
    from .values import kusto_equal

    return isinstance(array, list) and any(kusto_equal(v, value) for v in array)


def _strcat_array(array: Any, sep: Any) -> str:
    return to_string(sep).join(to_string(v) for v in array) if isinstance(array, list) else ""


def _pack(*args: Any) -> dict[str, Any]:
    return {to_string(args[i]): args[i + 1] for i in range(0, len(args) - 1, 2)}


def _tolong(value: Any) -> int | None:
    n = to_number(value)
    return None if n is None or (isinstance(n, float) and not math.isfinite(n)) else int(n)


def _toreal(value: Any) -> float | None:
    n = to_number(value)
    return None if n is None else float(n)


def _replace_string(text: Any, lookup: Any, rewrite: Any) -> str:
    return to_string(text).replace(to_string(lookup), to_string(rewrite))


def _replace_regex(text: Any, pattern: Any, rewrite: Any) -> str:
    return re.sub(to_string(pattern), re.sub(r"\\(\d)", r"\\\1", to_string(rewrite)), to_string(text))


def _bag_keys(value: Any) -> list[Any] | None:
    return list(value) if isinstance(value, dict) else None


def _array_concat(*arrays: Any) -> list[Any]:
    return [v for a in arrays if isinstance(a, list) for v in a]


def _strlen(value: Any) -> int:
    return len(to_string(value))


SCALARS: dict[str, Callable[..., Any]] = {
    "tostring": to_string,
    "parse_json": parse_json,
    "todynamic": parse_json,
    "toint": _tolong,
    "tolong": _tolong,
    "toreal": _toreal,
    "todouble": _toreal,
    "tobool": to_bool,
    "toboolean": to_bool,
    "todatetime": to_datetime,
    "totimespan": lambda v: convert(v, "timespan"),
    "tolower": lambda v: to_string(v).lower(),
    "toupper": lambda v: to_string(v).upper(),
    "strlen": _strlen,
    "trim": lambda pattern, text: re.sub(f"^({to_string(pattern)})+|({to_string(pattern)})+$", "", to_string(text)),
    "isempty": is_empty,
    "isnotempty": lambda v: not is_empty(v),
    "isnull": lambda v: v is None,
    "isnotnull": lambda v: v is not None,
    "iff": _iff,
    "iif": _iff,
    "case": _case,
    "coalesce": _coalesce,
    "not": lambda v: None if to_bool(v) is None else not to_bool(v),
    "split": _split,
    "substring": _substring,
    "indexof": _indexof,
    "indexof_regex": _indexof_regex,
    "extract": _extract,
    "replace_string": _replace_string,
    "replace_regex": _replace_regex,
    "strcat": lambda *a: "".join(to_string(v) for v in a),
    "strcat_array": _strcat_array,
    "pack": _pack,
    "bag_pack": _pack,
    "pack_array": lambda *a: list(a),
    "array_length": _array_length,
    "array_concat": _array_concat,
    "bag_keys": _bag_keys,
    "set_has_element": _set_has_element,
    "ipv4_is_private": _ipv4_is_private,
    "ipv4_is_in_range": _ipv4_in_range,
    "ipv4_is_match": _ipv4_is_match,
    "bin": _bin,
    "floor": _bin,
    "startofday": _startofday,
    "datetime_diff": _datetime_diff,
    "abs": lambda v: None if to_number(v) is None else abs(to_number(v)),  # type: ignore[arg-type]
    "hash_sha256": lambda v: __import__("hashlib").sha256(to_string(v).encode()).hexdigest(),
    "gettype": lambda v: __import__("trailhound.engine.kql.values", fromlist=["type_name"]).type_name(v),
}


# Aggregates ---------------------------------------------------------------------------------------------
# Each: (output name prefix, reducer over the list of argument tuples of the group's rows).

def _agg_count(rows: list[tuple[Any, ...]]) -> int:
    return len(rows)


def _agg_countif(rows: list[tuple[Any, ...]]) -> int:
    return sum(1 for (cond, *_) in rows if to_bool(cond))


def _agg_dcount(rows: list[tuple[Any, ...]]) -> int:
    return len({hashable(r[0]) for r in rows if r[0] is not None})


def _agg_dcountif(rows: list[tuple[Any, ...]]) -> int:
    return len({hashable(r[0]) for r in rows if r[0] is not None and to_bool(r[1])})


def _limit(rows: list[tuple[Any, ...]], at: int) -> int:
    return int(to_number(rows[0][at]) or 1048576) if rows and len(rows[0]) > at else 1048576


def _agg_make_set(rows: list[tuple[Any, ...]]) -> list[Any]:
    out: dict[Any, Any] = {}
    limit = _limit(rows, 1)
    for r in rows:
        values = r[0] if isinstance(r[0], list) else [r[0]]  # an array argument contributes its elements
        for v in values:
            if v is not None and hashable(v) not in out and len(out) < limit:
                out[hashable(v)] = v
    return list(out.values())


def _agg_make_set_if(rows: list[tuple[Any, ...]]) -> list[Any]:
    return _agg_make_set([(r[0], *r[2:]) for r in rows if to_bool(r[1])])


def _agg_make_list(rows: list[tuple[Any, ...]]) -> list[Any]:
    limit = _limit(rows, 1)
    out: list[Any] = []
    for r in rows:
        values = r[0] if isinstance(r[0], list) else [r[0]]
        out.extend(v for v in values if v is not None)
    return out[:limit]


def _agg_make_list_if(rows: list[tuple[Any, ...]]) -> list[Any]:
    return _agg_make_list([(r[0], *r[2:]) for r in rows if to_bool(r[1])])


def _agg_make_bag(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (v, *_) in rows:
        if isinstance(v, dict):
            for key, val in v.items():
                out.setdefault(key, val)  # Kusto keeps one value per key
    return out


def _agg_min(rows: list[tuple[Any, ...]]) -> Any:
    values = [r[0] for r in rows if not is_empty(r[0])]
    return min(values, key=order_key) if values else None


def _agg_max(rows: list[tuple[Any, ...]]) -> Any:
    values = [r[0] for r in rows if not is_empty(r[0])]
    return max(values, key=order_key) if values else None


def _agg_sum(rows: list[tuple[Any, ...]]) -> Any:
    values = [to_number(r[0]) for r in rows if to_number(r[0]) is not None]
    return sum(values) if values else 0


def _agg_avg(rows: list[tuple[Any, ...]]) -> Any:
    values = [to_number(r[0]) for r in rows if to_number(r[0]) is not None]
    return sum(values) / len(values) if values else None  # type: ignore[arg-type]


def _agg_any(rows: list[tuple[Any, ...]]) -> Any:
    return rows[0][0] if rows else None


AGGREGATES: dict[str, tuple[str, Callable[[list[tuple[Any, ...]]], Any]]] = {
    "count": ("count_", _agg_count),
    "countif": ("countif_", _agg_countif),
    "dcount": ("dcount_", _agg_dcount),
    "dcountif": ("dcountif_", _agg_dcountif),
    "make_set": ("set_", _agg_make_set),
    "makeset": ("set_", _agg_make_set),
    "make_set_if": ("set_", _agg_make_set_if),
    "make_list": ("list_", _agg_make_list),
    "makelist": ("list_", _agg_make_list),
    "make_list_if": ("list_", _agg_make_list_if),
    "make_bag": ("bag_", _agg_make_bag),
    "min": ("min_", _agg_min),
    "max": ("max_", _agg_max),
    "sum": ("sum_", _agg_sum),
    "avg": ("avg_", _agg_avg),
    "any": ("any_", _agg_any),
    "take_any": ("any_", _agg_any),
}
ARG_EXTREMES = {"arg_max": max, "arg_min": min}
