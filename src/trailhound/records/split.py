"""Split a huge input into records while it streams, so only the records that hit are ever parsed.

Used past read.IN_MEMORY_LIMIT (or formats.WHOLE_PARSE_LIMIT) only: slower than msgspec's walk over a buffer,
but it holds one record at a time, however big the file. Strings are skipped whole (a brace or newline inside
one cannot fool it). Shapes: a delivery file `{"Records": [...]}`, a JSON array, or one record per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

import orjson

from ..errors import ReadError
from .formats import BOM, RECORDS_OPEN, Document, collect, collect_item, not_json_lines, strip_line_prefix

_TOKEN = re.compile(rb'["{}\[\]]')
_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def split_stream(blocks: Iterable[bytes], wanted: Callable[[bytes], bool]) -> Document:
    """The records of a stream of decompressed blocks; only those `wanted` (their raw bytes) is true of are
    parsed. A stream that breaks (a gzip cut short) keeps the records before the break, and names it."""
    doc = Document()
    stream = _until_broken(blocks, doc)
    first = b""
    for block in stream:  # enough of the start to know the shape
        first += block
        if first.lstrip(BOM + b" \t\r\n"):
            break
    head = first.lstrip(BOM + b" \t\r\n")
    if RECORDS_OPEN.match(head.decode("latin-1")[:64]):
        _split_values(_chain(first, stream), wanted, doc, depth_of_records=2, in_records=True)
    elif head.startswith(b"["):
        _split_values(_chain(first, stream), wanted, doc, depth_of_records=1, in_records=False)
    else:
        _split_lines(_chain(first, stream), wanted, doc)
    return doc


def _until_broken(blocks: Iterable[bytes], doc: Document) -> Iterator[bytes]:
    try:
        yield from blocks
    except ReadError as exc:
        doc.problems.append(exc)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _split_values(blocks: Iterable[bytes], wanted: Callable[[bytes], bool], doc: Document, depth_of_records: int,
                  in_records: bool) -> None:
    buf, pos, depth, start = b"", 0, 0, -1
    for block in blocks:
        keep = start if start >= 0 else pos
        buf, pos, start = buf[keep:] + block, pos - keep, (start - keep if start >= 0 else -1)
        while True:
            m = _TOKEN.search(buf, pos)
            if m is None:
                pos = len(buf)
                break
            char = buf[m.start()]
            if char == 0x22:  # a string: jump past it, or wait for the block that ends it
                end = _STRING_REST.match(buf, m.end())
                if end is None:
                    pos = m.start()
                    break
                pos = end.end()
                continue
            pos = m.end()
            if char in (0x7B, 0x5B):
                depth += 1
                if depth == depth_of_records + 1 and start < 0:
                    start = m.start()
            else:
                depth -= 1
                if depth == depth_of_records and start >= 0:
                    _take(buf[start:pos], wanted, doc, in_records)
                    start = -1
    if depth > 0:
        doc.note(f"ends before its closing bracket; read the {len(doc.records)} record(s) before it")


def _take(raw: bytes, wanted: Callable[[bytes], bool], doc: Document, in_records: bool) -> None:
    if not wanted(raw):
        doc.unparsed += 1
        return
    try:
        collect_item(orjson.loads(raw), doc, in_records=in_records)
    except orjson.JSONDecodeError as exc:
        doc.unreadable += 1
        doc.note(f"a record that holds a needle is not valid JSON ({exc})")


def _split_lines(blocks: Iterable[bytes], wanted: Callable[[bytes], bool], doc: Document) -> None:
    carry, number, bad = b"", 0, list[int]()
    for block in blocks:
        lines = (carry + block).split(b"\n")
        carry = lines.pop()
        for line in lines:
            number += 1
            _take_line(line, number, wanted, doc, bad)
    if carry.strip():
        _take_line(carry, number + 1, wanted, doc, bad)
    if bad:
        doc.note(not_json_lines(len(bad)), line=bad[0])


def _take_line(line: bytes, number: int, wanted: Callable[[bytes], bool], doc: Document, bad: list[int]) -> None:
    line = line.strip()
    if not line:
        return
    if not wanted(line):
        doc.unparsed += 1
        return
    try:
        collect(orjson.loads(strip_line_prefix(line.decode("utf-8", "replace"))), doc)
    except orjson.JSONDecodeError:
        doc.unreadable += 1
        bad.append(number)
