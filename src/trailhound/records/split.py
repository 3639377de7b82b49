"""Split a big input into records as it streams, and parse only the records a needle hit.

Memory follows the chunk (stream.CHUNK), never the file, and every boundary is exact:

- one record per line (NDJSON, CloudWatch Logs exports): JSON forbids a raw newline inside a string, so the
  line around a hit is its record. Each chunk is searched once for the needles (GB/s); only the lines
  holding a hit are cut out and parsed, the rest is never looked at.
- an array (`{"Records": [...]}`, `[...]`): a boundary needs the structure, so msgspec walks each window of
  whole elements (~1 GB/s, no objects built). A window starts at a known element start and is cut after a
  `}` that may close an element; `[` + window + `]` decodes only if the cut is an element's end, because
  JSON is parsed the same way from the same start whatever follows (a cut inside an element or a string
  leaves something open). So a decode that succeeds proves every boundary in it. A window that does not
  decode (a broken element, one longer than the window) is read by the token scanner below, exact and
  slow, and only that window.

A record longer than RECORD_LIMIT is named and skipped, never held: the file's size is no reason for memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec
import orjson

from ..errors import ReadError
from .formats import (
    BOM,
    Document,
    collect,
    collect_item,
    encoded_ends,
    hit_elements,
    loads,
    may_hold_encoded,
    not_json_lines,
    strip_line_prefix,
)
from .prefilter import Matcher

try:
    from stringzilla import count as _sz_count
except ImportError:  # pragma: no cover - exercised only where stringzilla does not install
    _sz_count = None

RECORD_LIMIT = 32 << 20  # one record's bytes, at most: past it a record is named and skipped
# A wrapper whose first key holds the records, one per element: a delivery file, lookup-events, a Lake result
ARRAY_OPEN = re.compile(rb'\{\s*"(Records|Events|QueryResultRows)"\s*:\s*\[')
_TOKEN = re.compile(rb'["{}\[\]]')
_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.S)  # up to a closing quote, the end, or a lone backslash
_SPACE = b" \t\r\n"
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_CUT_TRIES = 2  # cuts tried by decoding before the token scanner reads the window (each try walks it)
# Where an element may end, likeliest first: before a CloudTrail record's first key, before any object, after
# an array (a Lake result row), then any closing bracket followed by a comma or the array's end.
_PROBES = (b'},{"eventVersion"', b"},{", b"],[", b"}", b"]")
_CLOSE = re.compile(rb"\s*\]")


def newlines(data: bytes | bytearray | memoryview, start: int = 0, end: int | None = None) -> int:
    """How many newlines data[start:end] holds: stringzilla's SIMD count (~25 GB/s), bytes.count else."""
    view = memoryview(data)[start:end]
    if _sz_count is not None:
        return int(_sz_count(view, b"\n"))
    return bytes(view).count(b"\n")


Batch = Callable[[list[dict[str, Any]]], None]


def shape_of(head: bytes) -> str:
    """"array" or "lines": how a stream whose first bytes are `head` (256 or more, or all) is split."""
    head = head.lstrip(BOM + _SPACE)
    return "array" if ARRAY_OPEN.match(head[:256]) or head.startswith(b"[") else "lines"


def splits(data: bytes) -> bool:
    """Whether a document too big to parse whole can be split here: an array, or a first line that is a
    JSON value (one record per line). Anything else (a pretty-printed wrapper, CSV) is parsed whole."""
    if shape_of(data[:4096]) == "array":
        return True
    text = data[:RECORD_LIMIT].lstrip(BOM + _SPACE)
    end = text.find(b"\n")
    try:
        loads(strip_line_prefix((text if end < 0 else text[:end]).decode("utf-8", "replace")))
    except (ValueError, RecursionError):
        return False
    return True


def split_stream(blocks: Iterable[bytes], matcher: Matcher | None, shape: str | None = None,
                 batch: Batch | None = None, part: bool = False) -> Document:
    """The records of a stream of decompressed blocks: those holding a needle of `matcher` (every record
    when it is None) are parsed, the rest counted. A stream that breaks (a gzip cut short) keeps the records
    before the break, and names it. `shape`: "lines" or "array" when the caller knows it; `batch`: given
    the records read so far after each block, which the document then lets go; `part`: the stream is one
    byte range of a file (sources.files.FileRange): its lines that are not JSON are left for the run to
    say once for the whole file (Document.bad_lines), and its line numbers count from its own start."""
    doc = Document(sieve=matcher.hit if matcher is not None else None)
    stream = _until_broken(blocks, doc)
    if batch is not None:
        stream = _handing_on(stream, doc, batch)
    first = b""
    if shape is None:
        for block in stream:  # enough of the start to know the shape (a wrapper's key included)
            first += block
            if len(first.lstrip(BOM + _SPACE)) >= 256:
                break
        shape = shape_of(first)
    if shape == "array":
        _ArraySplitter(matcher, doc).run(_chain(first, stream))
    else:
        _LineSplitter(matcher, doc, part).run(_chain(first, stream))
    return doc


def _until_broken(blocks: Iterable[bytes], doc: Document) -> Iterator[bytes]:
    try:
        yield from blocks
    except ReadError as exc:
        doc.problems.append(exc)


def _handing_on(blocks: Iterator[bytes], doc: Document, batch: Batch) -> Iterator[bytes]:
    """The blocks, and before each next one (and at the end) the records read so far, handed to `batch`."""
    for block in blocks:
        yield block
        _hand_on(doc, batch)
    _hand_on(doc, batch)


def _hand_on(doc: Document, batch: Batch) -> None:
    if doc.records:
        records, doc.records = doc.records, []
        doc.batched += len(records)
        batch(records)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _wanted(matcher: Matcher | None, raw: bytes | bytearray | memoryview | msgspec.Raw) -> bool:
    """Whether a record the search hit is parsed: a rule or collector could want it, or it carries a
    payload the search could not see into (Lambda's base64 awslogs), decoded and searched once parsed."""
    return matcher is None or matcher.keeps(raw) or may_hold_encoded(raw)


class _LineSplitter:
    def __init__(self, matcher: Matcher | None, doc: Document, part: bool) -> None:
        self.matcher, self.doc, self.part = matcher, doc, part
        self.line = 1  # the number of the first line in the carried bytes
        self.bad, self.first_bad = 0, 0
        self.skipping = False  # inside a line past RECORD_LIMIT: dropped up to its newline

    def run(self, blocks: Iterable[bytes]) -> None:
        carry = b""
        for block in blocks:
            if self.skipping:
                end = block.find(b"\n")
                if end < 0:
                    continue
                self.skipping, block = False, block[end + 1:]
                self.line += 1
            first = block.find(b"\n") + 1
            if first:  # the line the last block left open, joined alone (no copy of the whole block)
                if carry:
                    head = carry + block[:first]
                    self._region(head, 0, len(head))
                else:
                    self._region(block, 0, first)
                cut = block.rfind(b"\n") + 1
                if cut > first:
                    self._region(block, first, cut)
                carry = block[cut:]
            else:
                carry += block
            if len(carry) > RECORD_LIMIT:
                self.doc.unreadable += 1
                self.doc.note(f"a record over {RECORD_LIMIT >> 20} MB (the limit for one record): skipped",
                              line=self.line)
                carry, self.skipping = b"", True
        if carry.strip() and not self.skipping:
            self._take(carry, self.line)
        self.doc.lines = self.line - 1
        if self.bad and self.part:
            self.doc.bad_lines = (self.bad, self.first_bad)
        elif self.bad:
            self.doc.note(not_json_lines(self.bad), line=self.first_bad)

    def _region(self, data: bytes, begin: int, cut: int) -> None:
        """The whole lines data[begin:cut]: each line holding a hit is parsed (every line without a matcher)."""
        if self.matcher is None:
            for number, text in enumerate(data[begin:cut].split(b"\n")[:-1], self.line):
                self._take(text, number)
        else:
            view = memoryview(data)[begin:cut]
            counted, line, last = begin, self.line, -1
            ends = self.matcher.ends(view)
            encoded = encoded_ends(view)  # lines that must be decoded before they can be searched
            for end in sorted(ends + encoded) if encoded else ends:
                end += begin
                start = data.rfind(b"\n", begin, end - 1) + 1 or begin  # a hit holds no newline: its line
                if start <= last:
                    continue  # another hit in the line just taken
                last = data.find(b"\n", end - 1)
                line += newlines(data, counted, start)
                counted = start
                self._take(data[start:last], line)
        self.line += newlines(data, begin, cut)

    def _take(self, line: bytes, number: int) -> None:
        line = line.strip()
        if not line:
            return
        if not _wanted(self.matcher, line):
            self.doc.unparsed += 1
            return
        try:
            value = loads(strip_line_prefix(line.decode("utf-8", "replace")))
        except (ValueError, RecursionError):
            self.doc.unreadable += 1
            self.bad += 1
            self.first_bad = self.first_bad or number
            return
        collect(value, self.doc)


class _ArraySplitter:
    """Elements of one top-level array, window by window. `buf[pos:]` is what is not read yet; `pos` is
    always outside every element (at one, or at the separator before one)."""

    def __init__(self, matcher: Matcher | None, doc: Document) -> None:
        self.matcher, self.doc = matcher, doc
        self.buf, self.pos = bytearray(), 0
        self.in_records = False
        self.opened = self.closed = False
        self.elements = 0  # elements read, to know whether a comma must come before the next
        self.line = 1  # the line of buf[0]
        self.repaired = False

    def run(self, blocks: Iterable[bytes]) -> None:
        stream = iter(blocks)
        for block in stream:
            self._append(block)
            if not self.opened and not self._open():
                continue
            self._advance(final=False)
            if len(self.buf) - self.pos > RECORD_LIMIT:
                self._skip_oversized(stream)
            if self.closed:
                return
        if self.opened:
            self._advance(final=True)
        if not self.closed:
            self.doc.note(f"ends before its closing bracket; read the {self.doc.read} record(s) before it")

    def _append(self, block: bytes) -> None:
        """The next block after what is not read yet, and one byte before it: a window's `[` goes there."""
        if self.pos > 1:
            self.line += newlines(self.buf, 0, self.pos - 1)
            del self.buf[:self.pos - 1]
            self.pos = 1
        self.buf += block

    def _open(self) -> bool:
        head = self.buf.lstrip(BOM + _SPACE)
        offset = len(self.buf) - len(head)
        match = ARRAY_OPEN.match(head)
        if match:
            self.in_records = match.group(1) == b"Records"
            self.pos = offset + match.end()
        elif head.startswith(b"["):
            self.pos = offset + 1
        elif len(head) < 256:
            return False  # the wrapper's key may not be all here yet
        self.opened = True
        return True

    def _start(self) -> int:
        """The next element's start past `pos` (-1: not in the buffer yet; sets `closed` at the `]`)."""
        pos, buf = self.pos, self.buf
        while pos < len(buf) and buf[pos] in _SPACE:
            pos += 1
        if pos < len(buf) and buf[pos] == 0x5D:  # ]
            self.closed = True
            return -1
        if self.elements and pos < len(buf):
            if buf[pos] != 0x2C:  # a missing comma: read on past it, and say so
                self._missing_comma(pos)
                return pos
            pos += 1
            while pos < len(buf) and buf[pos] in _SPACE:
                pos += 1
        return pos if pos < len(buf) else -1

    def _advance(self, final: bool) -> None:
        """Read every whole element in the buffer: by decoding windows, else by the token scanner."""
        while not self.closed:
            start = self._start()
            if start < 0:
                return
            for cut in self._cuts(start):
                if self._window(start, cut):
                    self.pos = cut
                    break
            else:
                if not self._scan(start, final):
                    return

    def _cuts(self, start: int) -> Iterator[int]:
        """Where a window from `start` may end: just after a closing bracket followed by `,` or `]`."""
        buf, tried = self.buf, set[int]()
        for probe in _PROBES:
            at = buf.rfind(probe, start)
            while at >= 0 and len(tried) < _CUT_TRIES:
                if at + 1 not in tried and bytes(buf[at + 1:at + 65]).lstrip(_SPACE)[:1] in (b",", b"]"):
                    tried.add(at + 1)
                    yield at + 1
                    break
                at = buf.rfind(probe, start, at)
            if len(tried) >= _CUT_TRIES:
                return

    def _window(self, start: int, cut: int) -> bool:
        """Decode buf[start:cut] as `[` + elements + `]`, in place: the bytes either side are swapped for
        the brackets while msgspec walks it (no copy of the window), then put back. False: not a cut."""
        buf = self.buf
        before, after = buf[start - 1], buf[cut]
        buf[start - 1], buf[cut] = 0x5B, 0x5D
        view = memoryview(buf)[start - 1:cut + 1]
        try:
            raws = _RAWS.decode(view)
        except msgspec.DecodeError:
            return False
        else:
            self._take_window(view, raws)
            del raws  # each element is a view of the buffer
            return True
        finally:
            buf[start - 1], buf[cut] = before, after
            view.release()  # the buffer may grow again once no view of it is left

    def _take_window(self, window: memoryview, raws: list[msgspec.Raw]) -> None:
        self.elements += len(raws)
        chosen = raws if self.matcher is None else self._hits(window, raws)
        for raw in chosen:
            self._take(raw)
        self.doc.unparsed += len(raws) - len(chosen)

    def _hits(self, window: memoryview, raws: list[msgspec.Raw]) -> list[msgspec.Raw]:
        """The elements holding a needle, from one search of the window (hyperscan); when the elements'
        places in the window can be proven (compact, one comma apart: formats.hit_elements), else by a
        search of each element."""
        assert self.matcher is not None
        found = hit_elements(window, raws, self.matcher.ends, 1, _CLOSE)
        if found is None:
            found = {i for i, raw in enumerate(raws) if self.matcher.hit(raw)}
        if may_hold_encoded(window):  # elements to decode before they can be searched
            found.update(i for i, raw in enumerate(raws) if may_hold_encoded(raw))
        return [raws[i] for i in sorted(found)]

    def _take(self, raw: msgspec.Raw | bytes | bytearray) -> None:
        if not _wanted(self.matcher, raw):
            self.doc.unparsed += 1
            return
        try:
            item = orjson.loads(raw if isinstance(raw, (bytes, bytearray)) else memoryview(raw))
        except orjson.JSONDecodeError:
            try:  # orjson refuses what is still JSON (integers past 64 bits) or holds invalid UTF-8
                item = loads(bytes(raw).decode("utf-8", "replace"))
            except (ValueError, RecursionError) as exc:
                self.doc.unreadable += 1
                self.doc.note(f"a record that holds a needle is not valid JSON ({exc})")
                return
        collect_item(item, self.doc, in_records=self.in_records)

    def _scan(self, start: int, final: bool) -> bool:
        """The token scanner: whole elements by bracket depth, strings skipped whole (a bracket inside one
        cannot fool it). Each element is then parsed on its own, so a broken one is named and the rest
        read. False when no element ends in the buffer (more is needed)."""
        buf, pos, depth, begin = self.buf, start, 0, -1
        progressed, previous = False, start
        while True:
            m = _TOKEN.search(buf, pos)
            if m is None:
                break
            char = buf[m.start()]
            if char == 0x22:
                end = _STRING_REST.match(buf, m.end())
                if end is None:
                    break
                pos = end.end()
                continue
            pos = m.end()
            if char in (0x7B, 0x5B):
                if depth == 0:
                    begin = m.start()
                    if progressed and buf[previous:begin].strip(_SPACE) != b",":
                        self._missing_comma(begin)
                depth += 1
            else:
                depth -= 1
                if depth == 0 and begin >= 0:
                    self.elements += 1
                    element = memoryview(buf)[begin:pos]
                    if self.matcher is None or self.matcher.hit(element) or may_hold_encoded(element):
                        self._take(buf[begin:pos])
                    else:
                        self.doc.unparsed += 1
                    self.pos, previous, begin, progressed = pos, pos, -1, True
                elif depth < 0:  # the array's own closing bracket
                    self.closed, self.pos = True, pos
                    return True
        if final and begin >= 0:
            self.pos = len(buf)
        return progressed

    def _missing_comma(self, at: int) -> None:
        if not self.repaired:  # said once, as formats' reader says it
            self.repaired = True
            self.doc.note("not valid JSON (missing ','); read on past it", line=self._line(at))

    def _line(self, offset: int) -> int:
        return self.line + newlines(self.buf, 0, offset)

    def _skip_oversized(self, stream: Iterator[bytes]) -> None:
        """An element past RECORD_LIMIT: named, then stepped over as it streams, holding none of it."""
        start = self._start()
        if start < 0:
            return
        self.doc.unreadable += 1
        self.elements += 1
        self.doc.note(f"a record over {RECORD_LIMIT >> 20} MB (the limit for one record): skipped",
                      line=self._line(start))
        skipper, at, line = _Skipper(), start, self.line
        block: bytes | bytearray = self.buf
        while True:
            end = skipper.feed(block, at)
            if end >= 0:
                self.line, self.buf, self.pos = line + newlines(block, 0, end), bytearray(block[end:]), 0
                return
            line += newlines(block)
            block, at = next(stream, b""), 0
            if not block:
                self.line, self.buf, self.pos = line, bytearray(), 0
                return


class _Skipper:
    """Steps over one JSON value without holding it: depth and string state carried across blocks."""

    def __init__(self) -> None:
        self.depth, self.in_string, self.escaped = 0, False, False

    def feed(self, block: bytes | bytearray, pos: int) -> int:
        """The offset just past the value's end in `block`, or -1 when it goes on in the next block."""
        while pos < len(block):
            if self.in_string:
                if self.escaped:
                    pos, self.escaped = pos + 1, False
                    continue
                pos = _STRING_BODY.match(block, pos).end()  # type: ignore[union-attr]  # it matches the empty string
                if pos >= len(block):
                    return -1
                if block[pos] == 0x5C:  # a lone backslash at the end: its escaped byte is in the next block
                    self.escaped, pos = True, pos + 1
                    continue
                self.in_string, pos = False, pos + 1
                continue
            m = _TOKEN.search(block, pos)
            if m is None:
                return -1
            char, pos = block[m.start()], m.end()
            if char == 0x22:
                self.in_string = True
            elif char in (0x7B, 0x5B):
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 0:
                    return pos
        return -1

