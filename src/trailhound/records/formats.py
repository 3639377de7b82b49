"""Bytes -> CloudTrail records, whatever shape the bytes are in, detected from content (never file names).

One unwrapper per shape, each small: S3 delivery files (`{"Records": [...]}`), JSON arrays, one record per
line, a single record, EventBridge envelopes, CloudWatch Logs subscription payloads, `lookup-events`
output, CloudTrail Lake query results, and rows exported from Sentinel's `AWSCloudTrail` table (JSON, the
Log Analytics API's tables, or the portal's CSV). Digest files and Insights events are skipped quietly.

Nothing readable is lost: a document that does not parse whole is read record by record, and what could
not be read is counted and described in one line.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import msgspec
import orjson

from ..errors import InputError, ReadError, RecordError
from . import ocsf, trino
from .prefilter import LiteralSearch
from .record import from_sentinel_row, is_sentinel_row, request_unreadable
from .stream import gunzipped
from .times import day_order, is_portal_time, portal_time

BOM = b"\xef\xbb\xbf"
RECORDS_OPEN = re.compile(r'\{\s*"Records"\s*:\s*\[')
_RECORD_KEYS = ("eventName", "eventSource", "eventID", "eventVersion", "eventTime")
# A JSON string (escapes included) or a bracket: enough to find where a value too deep to parse ends.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_CSV_FIELD_LIMIT = 2**31 - 1  # the csv module's default (128 KiB) would end a file at its first long user agent


def _json_int(text: str) -> int | str:
    """orjson cannot hold integers beyond 64 bits (nor write them back): such a number is kept as its digits."""
    if len(text) > 20:
        return text
    value = int(text)
    return value if -2**63 <= value < 2**64 else text


_DECODER = json.JSONDecoder(parse_int=_json_int)


def loads(text: str | bytes) -> Any:
    """orjson, and the standard library for what orjson refuses but is JSON (huge integers).

    Raises ValueError (or RecursionError) when the text is not JSON.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _DECODER.decode(text.decode() if isinstance(text, bytes) else text)


ONCE_PER_INPUT = "requestParameters present but unreadable"  # a note said at an input's first such record


@dataclass
class Document:
    """What one input held: its records (native-shaped dicts) and what could not be read."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0  # digest files, Insights events, CloudWatch control messages: expected, not errors
    unreadable: int = 0  # items or lines that were not CloudTrail records or could not be parsed
    unparsed: int = 0  # records the prefilter showed hold no needle: counted, never parsed
    problems: list[InputError] = field(default_factory=list)  # each says where (line) when that is known
    notices: list[str] = field(default_factory=list)  # what was assumed reading it (a date order): not errors
    # The prefilter for what was hidden from it (a base64 payload): decoded, then searched; None: parse all
    sieve: Callable[[bytes], bool] | None = None
    unreadable_requests: int = 0  # records whose requestParameters is present but cannot be read
    batched: int = 0  # records already handed on as they streamed (records/split.py), no longer held here
    lines: int = 0  # newlines read (records/split.py): where the next range of the same file starts counting
    bad_lines: tuple[int, int] | None = None  # a range's (count, first) lines that are not JSON, said once joined

    @property
    def read(self) -> int:
        """How many records were read: those held, and those handed on."""
        return self.batched + len(self.records)

    def note(self, message: str, line: int | None = None) -> None:
        """A problem with the input, at `line` (1-based, in the decompressed text) when known."""
        self.problems.append(RecordError(message, line=line))

    @property
    def problem(self) -> str | None:
        """The problems as one line, e.g. `line 12: not valid JSON (Expecting value)`; the run names the input."""
        return "; ".join(map(str, self.problems)) if self.problems else None


def parse(data: bytes) -> Document:
    """Every record in `data` (gunzipped when it is gzip), and what could not be read."""
    data, cut = gunzipped(data)
    return parse_decompressed(data, cut)


def parse_decompressed(data: bytes, cut: ReadError | None = None,
                       sieve: Callable[[bytes], bool] | None = None) -> Document:
    """Like `parse`, for bytes already decompressed; `cut`: the gzip error that ended them early, if any;
    `sieve`: the prefilter, for payloads that only show their records once decoded (Lambda's awslogs)."""
    doc = Document(sieve=sieve)
    if cut is not None:
        doc.problems.append(cut)
    if data.startswith(BOM):
        data = data[len(BOM):]
    if not data.strip():
        if not doc.problems:
            doc.note("empty file")
        return doc
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        _parse_fallback(data, doc)
    else:
        collect(value, doc)
    if doc.unreadable and not doc.problems:
        doc.note(f"{doc.unreadable} item(s) were not CloudTrail records")
    return doc


def _parse_fallback(data: bytes, doc: Document) -> None:
    text = _decode_text(data, doc)
    head = text.lstrip()[:1]
    if head not in ("{", "[") and _looks_like_csv_header(text):
        _collect_csv(text, doc)
        return
    first_line = text.lstrip().split("\n", 1)[0]
    if _parses(first_line) or strip_line_prefix(first_line) != first_line:
        _collect_lines(text, doc)
        return
    _collect_stream(text, doc)


def _decode_text(data: bytes, doc: Document) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        doc.note(f"invalid UTF-8 at byte {exc.start}, replaced")
        return data.decode("utf-8", errors="replace")


def _parses(text: str) -> bool:
    try:
        loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def strip_line_prefix(line: str) -> str:
    """CloudWatch Logs exports prefix each line with a timestamp: `2024-01-01T00:00:00.000Z {...}`."""
    brace = line.find("{")
    if 0 < brace <= 40 and line[:brace].strip()[:1].isdigit():
        return line[brace:]
    return line


def _collect_lines(text: str, doc: Document) -> None:
    bad_lines: list[int] = []
    values: list[Any] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            values.append(loads(strip_line_prefix(line)))
        except (ValueError, RecursionError):
            doc.unreadable += 1
            bad_lines.append(number)
    _portal_times(values, doc)  # the lines are one export: one day/month order for all of them
    for value in values:
        collect(value, doc)
    if bad_lines:
        doc.note(not_json_lines(len(bad_lines)), line=bad_lines[0])


def _collect_stream(text: str, doc: Document) -> None:
    """Concatenated JSON values, or a document broken part-way: read value by value, keep what parses."""
    decoder = _DECODER
    pos = _skip_ws(text, 0)
    while pos < len(text):
        if RECORDS_OPEN.match(text, pos) or text[pos] == "[":
            pos = _salvage_array(text, pos, decoder, doc)
            if pos < 0:
                return
            pos = _skip_ws(text, pos)
            continue
        try:
            value, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            line, reason = _where(text, pos, exc)
            doc.note(f"not valid JSON ({reason})", line)
            return
        collect(value, doc)
        pos = _skip_ws(text, end)


def _salvage_array(text: str, pos: int, decoder: json.JSONDecoder, doc: Document) -> int:
    """Read the elements of a `[...]` or `{"Records": [...]}` one at a time; -1 after the first break."""
    wrapped = text[pos] == "{"
    if wrapped:
        bracket = text.find("[", pos)
        if bracket < 0:
            line, reason = _where(text, pos)
            doc.note(f"not valid JSON ({reason})", line)
            return -1
        pos = bracket
    pos = _skip_ws(text, pos + 1)
    repaired = False
    while pos < len(text) and text[pos] != "]":
        try:
            value, pos = decoder.raw_decode(text, pos)
        except RecursionError as exc:
            # One element nested too deep must not hide the records after it: step over it, count it.
            end = _skip_value(text, pos)
            if end < 0:
                line, reason = _where(text, pos, exc)
                doc.note(f"broken JSON ({reason}); read the {len(doc.records)} record(s) before it", line)
                return -1
            doc.unreadable += 1
            doc.note("skipped an item (nesting too deep)", _line_at(text, pos))
            value, pos = None, end
        except ValueError as exc:
            line, reason = _where(text, pos, exc)
            end = _skip_value(text, pos) if text[pos] in "{[" else -1
            if end < 0:  # no end to step to: a document cut short, or broken past repair
                doc.note(f"broken JSON ({reason}); read the {len(doc.records)} record(s) before it", line)
                return -1
            # One broken record, its brackets whole: named, stepped over, and the records after it read.
            doc.unreadable += 1
            doc.note(f"a record is not valid JSON ({reason}); read on past it", _line_at(text, pos))
            value, pos = None, end
        if value is not None:
            collect_item(value, doc, in_records=wrapped)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
        elif pos < len(text) and text[pos] != "]" and not repaired:
            repaired = True  # elements with no comma between them: read on, but say the file is malformed
            doc.note("not valid JSON (missing ','); read on past it", _line_at(text, pos))
    if pos >= len(text):  # the text ended inside the array: a cut file, which must not pass as complete
        doc.note(f"ends before the closing ']' (cut short?); read the {len(doc.records)} record(s) "
                            "before the end")
        return -1
    pos += 1
    if wrapped:  # the closing brace of {"Records": [...]} (and any sibling keys) ends the value
        end = text.find("}", pos)
        pos = len(text) if end < 0 else end + 1
    return pos


def _skip_value(text: str, pos: int) -> int:
    """The end of the array or object starting at `pos` (-1 if it never closes), without parsing it."""
    depth = 0
    for match in _JSON_TOKEN.finditer(text, pos):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
        elif token in ("]", "}"):
            depth -= 1
            if depth == 0:
                return match.end()
    return -1


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _where(text: str, pos: int, exc: Exception | None = None) -> tuple[int, str]:
    """(the line, why) of a parse failure at `pos`."""
    if isinstance(exc, json.JSONDecodeError):
        pos = exc.pos
    reason = "nesting too deep" if isinstance(exc, RecursionError) else (exc.msg if isinstance(
        exc, json.JSONDecodeError) else "unexpected content")
    return _line_at(text, pos), reason


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def not_json_lines(count: int) -> str:
    """The problem of `count` lines that are not JSON, said at the first of them."""
    return "not valid JSON" + (f", nor are {count - 1} more line(s) after it" if count > 1 else "")


def _looks_like_csv_header(text: str) -> bool:
    header = text.lstrip().split("\n", 1)[0]
    return "," in header and ("EventName" in header or "_raw" in header)  # Sentinel's columns, or Splunk's


def _collect_csv(text: str, doc: Document) -> None:
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.DictReader(io.StringIO(text))
    rows: list[dict[str, Any]] = []
    try:
        for row in reader:
            rows.append({k: v for k, v in row.items() if k is not None})
    except csv.Error as exc:
        doc.note(f"broken CSV ({exc}); read the {len(rows)} record(s) before it", reader.line_num)
    _collect_rows(rows, doc)


# Sentinel's time columns (the portal's CSV and JSON exports label them `... [UTC]`)
_TIME_COLUMNS = frozenset(("TimeGenerated", "SessionCreationDate"))


def _collect_rows(rows: list[Any], doc: Document) -> None:
    """Rows of one export (a CSV file, a JSON array, a Log Analytics table): the portal's locale-dependent
    times are read with one day/month order for the whole file, decided from all of its values."""
    _portal_times(rows, doc)
    for row in rows:
        collect_item(row, doc)


def _portal_times(rows: list[Any], doc: Document) -> None:
    first = next((r for r in rows if isinstance(r, dict)), None)
    if first is None:
        return
    columns = [k for k in first if isinstance(k, str) and (k.endswith(" [UTC]") or k in _TIME_COLUMNS)]
    values = [r[c] for r in rows if isinstance(r, dict) for c in columns if is_portal_time(r.get(c))]
    if not values:
        return
    day_first, settled = day_order(values)
    if not settled:
        order = "day first (a 24-hour clock)" if day_first else "month first (a 12-hour clock: the US locale)"
        doc.notices.append(f"no time here has a day above 12 (e.g. {values[0]!r}): read {order}")
    for row in rows:
        if isinstance(row, dict):
            for column in columns:
                if is_portal_time(row.get(column)):
                    row[column] = portal_time(row[column], day_first) or row[column]


def collect(value: Any, doc: Document) -> None:
    """A parsed top-level value: a container of records, or one record."""
    if isinstance(value, list):
        _collect_rows(value, doc)
        return
    collect_item(value, doc)


# Every key an unwrapper before _unwrap_native looks for. A record with an eventName and none of these would
# pass through all of them to _unwrap_native: _collect_item takes that path in one set operation.
_ENVELOPE_KEYS = frozenset(("Records", "digestStartTime", "digestS3Object", "detail-type", "logEvents", "Events",
                            "CloudTrailEvent", "QueryResultRows", "tables", "awslogs", "event", "event.original",
                            "_raw", "_source"))


def collect_item(item: Any, doc: Document, in_records: bool = False) -> None:
    if isinstance(item, dict) and "eventName" in item and item.keys().isdisjoint(_ENVELOPE_KEYS):
        _accept(item, doc)  # a plain record, the common case: what the loop below would decide, sooner
        return
    if not isinstance(item, dict):
        if isinstance(item, list) and item and all(isinstance(c, dict) and len(c) == 1 for c in item):
            merged: dict[str, Any] = {}  # a CloudTrail Lake result row: a list of one-key objects
            for cell in item:
                merged.update(cell)
            collect_item(merged, doc)
            return
        doc.unreadable += 1
        return
    for unwrap in _UNWRAPPERS:
        if unwrap(item, doc):
            return
    if in_records:  # CloudTrail delivered it as a record: judge it on what it has, even if that is little
        _accept(item, doc)
        return
    doc.unreadable += 1


# Each unwrapper returns True when it recognised (and handled) the object.

def _unwrap_records(obj: dict[str, Any], doc: Document) -> bool:
    records = obj.get("Records")
    if isinstance(records, list):
        for item in records:
            collect_item(item, doc, in_records=True)
        return True
    return False


def _unwrap_digest(obj: dict[str, Any], doc: Document) -> bool:
    if "digestStartTime" in obj or "digestS3Object" in obj:
        doc.skipped += 1
        return True
    return False


def _unwrap_eventbridge(obj: dict[str, Any], doc: Document) -> bool:
    if "detail-type" not in obj or "detail" not in obj:
        return False
    detail = obj["detail"]
    if "CloudTrail" in str(obj["detail-type"]) and isinstance(detail, dict):
        collect_item(detail, doc)
    else:
        doc.skipped += 1  # some other EventBridge event that happened to land here
    return True


def _unwrap_cloudwatch(obj: dict[str, Any], doc: Document) -> bool:
    if "logEvents" not in obj or "messageType" not in obj:
        return False
    if obj.get("messageType") != "DATA_MESSAGE" or not isinstance(obj["logEvents"], list):
        doc.skipped += 1
        return True
    for event in obj["logEvents"]:
        _unwrap_message(event, doc) if isinstance(event, dict) else collect_item(event, doc)
    return True


def _unwrap_message(obj: dict[str, Any], doc: Document) -> bool:
    """Log shippers (CloudWatch Logs, Firehose) carry the record as a JSON string in `message`."""
    message = obj.get("message")
    if not isinstance(message, str) or not message.lstrip().startswith("{") or "eventName" in obj:
        return False
    _collect_json_text(message, doc)
    return True


def _collect_json_text(text: str, doc: Document) -> None:
    """A record carried as a JSON string: collected, or counted unreadable."""
    try:
        value = loads(text)
    except (ValueError, RecursionError):
        doc.unreadable += 1
    else:
        collect_item(value, doc)


def _unwrap_lookup_events(obj: dict[str, Any], doc: Document) -> bool:
    """`aws cloudtrail lookup-events` output, or one of its events: the record is a JSON string."""
    if isinstance(obj.get("Events"), list) and "Records" not in obj:
        for event in obj["Events"]:
            collect_item(event, doc)
        return True
    event = obj.get("CloudTrailEvent")
    if isinstance(event, str):
        _collect_json_text(event, doc)
        return True
    return False


def _unwrap_lake(obj: dict[str, Any], doc: Document) -> bool:
    rows = obj.get("QueryResultRows")
    if isinstance(rows, list):
        for row in rows:
            collect_item(row, doc)
        return True
    return False


def _unwrap_log_analytics(obj: dict[str, Any], doc: Document) -> bool:
    """The Log Analytics query API's answer: tables of columns and rows, Sentinel's `AWSCloudTrail` inside."""
    tables = obj.get("tables")
    if not isinstance(tables, list):
        return False
    for table in tables:
        if not isinstance(table, dict):
            continue
        columns, rows = table.get("columns"), table.get("rows")
        if not isinstance(columns, list) or not isinstance(rows, list):
            doc.unreadable += 1
            continue
        # A column name that is not a string cannot be a Sentinel column (and could not be a dict key).
        names = [c.get("name") if isinstance(c, dict) and isinstance(c.get("name"), str) else None
                 for c in columns]
        _collect_rows([dict(zip(names, row)) if isinstance(row, list) else row for row in rows], doc)
    return True


def _unwrap_sentinel(obj: dict[str, Any], doc: Document) -> bool:
    if is_sentinel_row(obj):
        _accept(from_sentinel_row(obj), doc)
        return True
    return False


def _unwrap_awslogs(obj: dict[str, Any], doc: Document) -> bool:
    """A CloudWatch Logs subscription as Lambda receives it: `{"awslogs": {"data": base64(gzip(payload))}}`.
    The payload (a DATA_MESSAGE) is decoded first, then searched by the prefilter, then read like any."""
    wrapper = obj.get("awslogs")
    if not isinstance(wrapper, dict) or "data" not in wrapper:
        return False
    try:
        packed = base64.b64decode(wrapper["data"], validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        doc.unreadable += 1
        doc.note(f"awslogs.data is not base64 ({exc})")
        return True
    payload, cut = gunzipped(packed)
    if cut is None and doc.sieve is not None and not doc.sieve(payload):
        return True  # decoded, searched: no needle in it
    inner = parse_decompressed(payload, cut)
    doc.records += inner.records
    doc.skipped += inner.skipped
    doc.unreadable += inner.unreadable
    doc.unreadable_requests += inner.unreadable_requests
    doc.notices += inner.notices
    doc.problems += [RecordError(f"awslogs payload: {p}") for p in inner.problems]
    return True


def _unwrap_original(obj: dict[str, Any], doc: Document) -> bool:
    """SIEM exports that carry the original record as text: Elastic's `event.original` (nested or dotted),
    Splunk's and Cribl's `_raw`; and the wrappers around those: a Splunk export line (`result`), an
    Elasticsearch hit (`_source`) or search answer (`hits.hits`)."""
    event = obj.get("event")
    text = event.get("original") if isinstance(event, dict) else None
    if text is None:
        text = obj.get("event.original", obj.get("_raw"))
    if isinstance(text, str):
        _collect_json_text(strip_line_prefix(text.strip()), doc)
        return True
    result, source = obj.get("result"), obj.get("_source")
    if isinstance(result, dict) and ("preview" in obj or "_raw" in result):  # Splunk's export, one per line
        collect_item(result, doc)
        return True
    if isinstance(source, dict) and ("_index" in obj or "_id" in obj):  # an Elasticsearch hit
        collect_item(source, doc)
        return True
    hits = obj.get("hits")
    if isinstance(hits, dict) and isinstance(hits.get("hits"), list):
        for hit in hits["hits"]:
            collect_item(hit, doc)
        return True
    return False


def _unwrap_ocsf(obj: dict[str, Any], doc: Document) -> bool:
    """An OCSF event (Security Lake's CloudTrail source, as JSON): mapped back to its CloudTrail record."""
    if not ocsf.is_ocsf(obj):
        return False
    if ocsf.is_cloudtrail(obj):
        _accept(ocsf.to_cloudtrail(obj), doc)
    else:
        doc.skipped += 1  # an OCSF event of another class (a DNS query, a flow): not CloudTrail, not an error
    return True


def _unwrap_native(obj: dict[str, Any], doc: Document) -> bool:
    if any(key in obj for key in _RECORD_KEYS):
        _accept(obj, doc)
        return True
    return False


# Nested fields that CloudTrail Lake renders `{k=v}` when it returns them as text
_RENDERED_FIELDS = ("requestParameters", "responseElements", "userIdentity", "additionalEventData",
                    "serviceEventDetails", "tlsDetails")


def _accept(record: dict[str, Any], doc: Document) -> None:
    if record.get("eventCategory") == "Insight" or "insightDetails" in record:
        doc.skipped += 1
        return
    for key in _RENDERED_FIELDS:
        value = record.get(key)
        if isinstance(value, str) and trino.looks_rendered(value):
            parsed = trino.parse(value)
            if parsed is not None:
                record[key] = trino.identity_names(parsed) if key == "userIdentity" else parsed
    if request_unreadable(record.get("requestParameters")):
        if not doc.unreadable_requests:  # named once per input, at the first such record
            doc.note(f"{ONCE_PER_INPUT} (eventID {str(record.get('eventID'))[:80]!r}): "
                     "rules treat the request as unreadable, not as one that did not record a field")
        doc.unreadable_requests += 1
    doc.records.append(record)



_UNWRAPPERS = (_unwrap_records, _unwrap_digest, _unwrap_eventbridge, _unwrap_cloudwatch, _unwrap_lookup_events,
               _unwrap_lake, _unwrap_log_analytics, _unwrap_sentinel, _unwrap_ocsf, _unwrap_awslogs, _unwrap_original,
               _unwrap_native, _unwrap_message)


class _Delivery(msgspec.Struct):
    Records: list[msgspec.Raw] | None = None


_DELIVERY = msgspec.json.Decoder(_Delivery)
WHOLE_PARSE_LIMIT = 16 << 20  # past this, Python objects for every record would cost ~10x the bytes


def parse_selected(data: bytes | bytearray | memoryview, wanted: Callable[[Any], bool],
                   ends: Callable[[Any], list[int]] | None = None,
                   keeps: Callable[[Any], bool] | None = None) -> Document | None:
    """Like `parse`, but a delivery file's records are parsed only when they hold a needle.

    msgspec walks the `{"Records": [...]}` structure at memory speed without building objects, so record
    boundaries are exact (a needle inside a string or a nested object cannot fool it). Which records hold a
    needle: from `ends` (every match's end offset, one search of the whole file) when the records' places
    in the file can be proven, else by asking `wanted(raw_bytes)` of each record; then, when given,
    `keeps(raw_bytes)` of each of those. Any other shape, or a document that does not validate, goes
    through `parse` whole, which reads every shape and salvages; None when such a document is too big to
    parse whole (past WHOLE_PARSE_LIMIT): the caller splits it into records instead.
    """
    if data[:len(BOM)] == BOM:  # memoryview has no startswith
        data = memoryview(data)[len(BOM):]
    try:
        raws = _DELIVERY.decode(data).Records
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        raws = None  # not a delivery file, or one too odd to split here (deep nesting): `parse` salvages it
    if raws is None:
        if len(data) > WHOLE_PARSE_LIMIT:  # a big array or NDJSON file: the caller splits it (records/split.py)
            return None
        return parse_decompressed(bytes(data))
    selected = hit_elements(data, raws, ends) if ends is not None else None
    doc = Document()
    chosen = [raws[i] for i in sorted(selected)] if selected is not None else [r for r in raws if wanted(r)]
    if keeps is not None:  # of those, the ones a rule or collector could want: the rest are never parsed
        chosen = [r for r in chosen if keeps(r)]
    doc.unparsed = len(raws) - len(chosen)
    for raw in chosen:
        try:
            item = orjson.loads(memoryview(raw))  # orjson reads the buffer msgspec found, no copy
        except orjson.JSONDecodeError:  # valid to msgspec, not to orjson (an integer past 64 bits): read whole
            return parse_decompressed(bytes(data))
        collect_item(item, doc, in_records=True)
    if doc.unreadable and not doc.problems:
        doc.note(f"{doc.unreadable} item(s) were not CloudTrail records")
    return doc


_CLOSING = re.compile(rb"\s*\]\s*\}\s*")


def hit_elements(data: bytes | bytearray | memoryview, raws: list[msgspec.Raw], ends: Callable[[Any], list[int]],
                 first_at: int = -1, closing: re.Pattern[bytes] = _CLOSING) -> set[int] | None:
    """Indexes of the elements holding a match, from one search of all of `data`; None when the elements'
    places cannot be proven (then each element is searched on its own).

    In a compact array (one comma between elements, as CloudTrail writes them) element i starts at the
    first one's offset plus the lengths before it, computed in C. That layout is proven, not assumed: the
    first element's bytes must be where it says (`first_at`, or where they are first found when it is -1),
    and the array must close (`closing`: a delivery file's `]}` by default) right after the last element as
    computed. Any longer separator pushes the true last element past that point, so its closing brace would
    stand between the computed end and the `]`, and the check fails.
    """
    if not raws or not bytes(raws[-1]).endswith((b"}", b"]")):
        return None
    first = bytes(raws[0])
    if first_at < 0:  # where its bytes are first found: a search memoryview lacks
        first_at = (bytes(data) if isinstance(data, memoryview) else data).find(first)
    buffer, start = data, first_at
    if start < 0 or buffer[start:start + len(first)] != first:
        return None
    lengths = list(map(len, raws))
    # (1).__add__ keeps the running sum in C: a generator here cost ~0.2 s per GB of records.
    starts = list(accumulate(map((1).__add__, lengths[:-1]), initial=start))
    if not closing.fullmatch(buffer, starts[-1] + lengths[-1]):
        return None
    selected: set[int] = set()
    for end in ends(buffer):
        index = bisect_right(starts, end - 1) - 1
        if index >= 0 and end <= starts[index] + lengths[index]:
            selected.add(index)
    return selected


# The key of Lambda's CloudWatch Logs event, as written or with any of its letters JSON-escaped (a decoder
# turns `\u0061wslogs` back into `awslogs`, so the test must see it too).
_ENCODED_KEY = re.compile(rb"\\u00(?:61|77|73|6c|6f|67)", re.IGNORECASE)
_ENCODED_LEADS = LiteralSearch([b"awslogs", b"\\u00"])


def may_hold_encoded(data: bytes | bytearray | memoryview) -> bool:
    """Whether bytes could hold a payload the needle search cannot see into (Lambda's base64 `awslogs`):
    such bytes must be decoded before they are searched."""
    if not _ENCODED_LEADS(data):  # one SIMD pass for both: most files hold neither
        return False
    view = bytes(data) if isinstance(data, memoryview) else data
    return b"awslogs" in view or _ENCODED_KEY.search(view) is not None


def encoded_ends(data: bytes | bytearray | memoryview) -> list[int]:
    """Where in `data` a payload the needle search cannot see into may be (any spelling of Lambda's
    `awslogs` key): the end offsets a needle search would give, for the splitter to take those records too."""
    if not _ENCODED_LEADS(data):
        return []
    return [m.end() for m in _ENCODED_ANY.finditer(bytes(data) if isinstance(data, memoryview) else data)]


_ENCODED_ANY = re.compile(rb"awslogs|\\u00(?:61|77|73|6c|6f|67)", re.IGNORECASE)


def looks_truncated(data: bytes | bytearray) -> bool:
    """A JSON document that stops before its closing bracket: caught without parsing it."""
    start = data[:64].lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
    end = data[-64:].rstrip(b" \t\r\n")[-1:]
    return start in (b"{", b"[") and end not in (b"}", b"]")
