"""An input's records, read through the prefilter: skip it unparsed, parse only its records around a hit, or all.

The input is streamed from its source (a file opened, an S3 body) and decompressed chunk by chunk, so a file
with no needle is never held whole. A file with a hit is parsed record by record (delivery files) or whole
(other shapes); one past IN_MEMORY_LIMIT is split into records as it streams, so memory stays bounded
either way. Without a prefilter (matcher None) every record is parsed, under the same bound.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import ReadError
from . import stream as streams
from .formats import (
    BOM,
    WHOLE_PARSE_LIMIT,
    Document,
    looks_truncated,
    may_hold_encoded,
    parse_decompressed,
    parse_selected,
)
from .parquet import MAGIC as PARQUET_MAGIC
from .parquet import read_parquet
from .prefilter import Matcher
from .split import split_stream, splits
from .stream import chunks, open_input

IN_MEMORY_LIMIT = 64 << 20  # decompressed bytes held whole; past it the input is split as it streams
Batch = Callable[[list[dict[str, Any]]], None]


@dataclass
class Sifted:
    document: Document | None  # None: no needle anywhere, nothing parsed
    bytes: int = 0  # as stored
    lines: int = 0  # newlines read, for a byte range of a file (its next range's lines count on from them)


def sift(item: Any, matcher: Matcher | None, batch: Batch | None = None) -> Sifted:
    """The records of `item` that `matcher` lets by (every record when it is None), and its stored size.

    `batch`, when given, receives the records of a big input as they are read, a window at a time, and
    the document keeps none of them: memory follows the window, not the file (the caller evaluates each
    batch and lets it go). Small inputs come back whole in the document either way."""
    if getattr(item, "shape", None) == "lines":  # one byte range of a big NDJSON file: no head, no gzip
        with open_input(item) as opened:
            raw = _Counted(opened)
            blocks = iter(lambda: raw.read(streams.CHUNK), b"")
            document = split_stream(blocks, matcher, shape="lines", batch=batch, part=True)
            sifted = _streamed(document, matcher, raw.count)
            sifted.lines = document.lines
            return sifted
    with open_input(item) as opened:
        head = opened.read(len(PARQUET_MAGIC))
        if head == PARQUET_MAGIC:
            return _sift_parquet(item, opened, matcher)
        raw = _Counted(opened, head)
        blocks = chunks(raw)
        held: list[bytes] = []
        total = 0
        try:
            for block in blocks:
                held.append(block)
                total += len(block)
                if total > IN_MEMORY_LIMIT:  # too big to hold: split as it streams, one pass
                    document = split_stream(_drain(held, blocks), matcher, batch=batch)
                    return _streamed(document, matcher, _stored_size(opened, raw.count))
        except ReadError as exc:
            return Sifted(parse_decompressed(b"".join(held), exc), _stored_size(opened, raw.count))
        stored = _stored_size(opened, raw.count)
    data = (held[0] if len(held) == 1 else b"".join(held)) if held else b""
    del held
    if matcher is None:  # every record parsed: past WHOLE_PARSE_LIMIT a window at a time, or memory is ~10x
        if len(data) > WHOLE_PARSE_LIMIT and splits(data):
            return Sifted(split_stream(_pieces(data), None, batch=batch), stored)
        return Sifted(parse_decompressed(data), stored)
    if data.startswith(BOM):  # searched without it: the hits' offsets must be those the records are read at
        data = data[len(BOM):]
    if may_hold_encoded(data):  # a base64 payload hides its needles: decoded first, then searched
        return Sifted(parse_decompressed(data, sieve=matcher.hit), stored)
    ends = matcher.ends(data)  # one search of the file answers both: is there a hit, and in which records
    if not ends:
        if not data.strip() or looks_truncated(data):
            return Sifted(parse_decompressed(data), stored)  # empty or cut short: named, as unfiltered
        return Sifted(None, stored)
    selected = parse_selected(data, matcher.hit, lambda _data: ends, matcher.keeps)
    if selected is None:  # a big array or NDJSON file: one record at a time, not all at once
        selected = split_stream(_pieces(data), matcher, batch=batch) if splits(data) else parse_decompressed(data)
    return Sifted(selected, stored)


def _pieces(data: bytes) -> Iterator[bytes]:
    """Bytes held whole, handed to the splitter a chunk at a time, so its records go on a window at a time."""
    size = streams.CHUNK
    for start in range(0, len(data), size):
        yield data[start:start + size]


def _drain(held: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """The blocks read so far, then the rest of the stream, each let go once handed on."""
    held.reverse()
    while held:
        yield held.pop()
    yield from rest


def _streamed(document: Document, matcher: Matcher | None, stored: int) -> Sifted:
    """A big input that held no needle anywhere is skipped unparsed, as a small one is."""
    untouched = not (document.records or document.skipped or document.unreadable or document.unparsed
                     or document.problems or document.notices or document.batched or document.bad_lines)
    return Sifted(None if matcher is not None and untouched else document, stored)


def _sift_parquet(item: Any, opened: BinaryIO, matcher: Matcher | None) -> Sifted:
    """A Parquet file: its rows mapped to records, each held against the prefilter once mapped (its pages
    are compressed: the stored bytes cannot be searched). Parquet's index is in its footer, so the reader
    needs to seek: a local file can, an S3 object offers ranged reads, anything else is held whole."""
    document = Document()
    keep = (lambda raw: matcher.hit(raw) and matcher.keeps(raw)) if matcher is not None else None
    if _seekable(opened):
        read_parquet(opened, document, keep)
        return Sifted(document, _stored_size(opened, 0))
    ranged = getattr(item, "open_random_access", None)
    with (ranged() if callable(ranged) else io.BytesIO(PARQUET_MAGIC + opened.read())) as handle:
        read_parquet(handle, document, keep)
        return Sifted(document, _stored_size(handle, 0))


def _seekable(handle: BinaryIO) -> bool:
    try:
        return bool(handle.seekable())
    except (AttributeError, OSError, ValueError):
        return False


class _Counted:
    """Counts the stored bytes read: a stream that cannot seek (an S3 body) cannot say its size afterwards.
    `head`: the bytes already read off the stream to tell its shape, handed out first."""

    def __init__(self, raw: BinaryIO, head: bytes = b"") -> None:
        self._raw, self._head, self.count = raw, head, len(head)

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0 or size >= len(self._head):
                data, self._head = self._head, b""
            else:
                data, self._head = self._head[:size], self._head[size:]
            return data
        data = self._raw.read(size)
        self.count += len(data)
        return data


def _stored_size(raw: BinaryIO, read: int) -> int:
    """The input's size as stored (compressed), which is what the run summary reports."""
    try:
        return raw.seek(0, 2)
    except (OSError, ValueError, AttributeError):
        return read
