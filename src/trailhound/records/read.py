"""An input's records, read through the prefilter: skip it unparsed, parse only its records around a hit, or all.

The input is streamed from its source (a file opened, an S3 body) and decompressed chunk by chunk, so a file
with no needle is never held whole. A file with a hit is parsed record by record (delivery files) or whole
(other shapes); one past IN_MEMORY_LIMIT is split into records as it streams, so memory stays bounded
either way. Without a prefilter (matcher None) every record is parsed, under the same bound.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from typing import Any, BinaryIO

from ..errors import ReadError
from .formats import ENCODED_OVERLAP, Document, looks_truncated, may_hold_encoded, parse_decompressed, parse_selected
from .parquet import MAGIC as PARQUET_MAGIC
from .parquet import read_parquet
from .prefilter import Matcher
from .split import split_stream
from .stream import chunks, open_input

IN_MEMORY_LIMIT = 96 << 20  # decompressed bytes held at once: with the parse around it, a worker stays < 300 MB


@dataclass
class Sifted:
    document: Document | None  # None: no needle anywhere, nothing parsed
    bytes: int = 0  # as stored


def sift(item: Any, matcher: Matcher | None) -> Sifted:
    """The records of `item` that `matcher` lets by (every record when it is None), and its stored size."""
    with open_input(item) as opened:
        head = opened.read(len(PARQUET_MAGIC))
        if head == PARQUET_MAGIC:
            return _sift_parquet(item, opened, matcher)
        raw = _Counted(opened, head)
        data, hit, cut = _read(raw, matcher)
        stored = _stored_size(opened, raw.count)
    if data is None:  # past the limit: split as it streams, from a second pass over the source
        return _stream_records(item, matcher, stored) if hit else Sifted(None, stored)
    if cut is not None or matcher is None:  # a gzip cut short is salvaged whole, as without the prefilter
        return Sifted(parse_decompressed(data, cut), stored)
    if may_hold_encoded(data):  # a base64 payload hides its needles: decoded first, then searched
        return Sifted(parse_decompressed(bytes(data), sieve=matcher.hit), stored)
    ends = matcher.ends(data)  # one search of the file answers both: is there a hit, and in which records
    if not ends:
        if not data.strip() or looks_truncated(data):
            return Sifted(parse_decompressed(bytes(data)), stored)  # empty or cut short: named, as unfiltered
        return Sifted(None, stored)
    document = parse_selected(data, matcher.hit, lambda _data: ends, matcher.keeps)
    if document is None:  # a big array or NDJSON file: one record at a time, not all at once
        document = split_stream([bytes(data)], _could_hold(matcher))
    return Sifted(document, stored)


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


def _read(raw: Any, matcher: Matcher | None) -> tuple[bytes | None, bool, ReadError | None]:
    """(the decompressed bytes, or None past IN_MEMORY_LIMIT; for those, whether a needle occurs; the
    gzip error that cut the input short, if one did).

    Most inputs fit: they are read whole and searched once by the caller. A bigger one is searched as it
    streams, chunk by chunk with an overlap so no needle hides across a boundary, and never held whole.
    """
    blocks: list[bytes] = []
    total = 0
    stream = chunks(raw)
    try:
        for block in stream:
            blocks.append(block)
            total += len(block)
            if total > IN_MEMORY_LIMIT:
                break
        else:  # Most files are one block: no copy. Joining only what is kept, and only once.
            return (blocks[0] if len(blocks) == 1 else b"".join(blocks)) if blocks else b"", False, None
    except ReadError as exc:
        return b"".join(blocks), False, exc
    if matcher is None:
        return None, True, None
    tail = b""
    try:
        for index, block in enumerate(chain(blocks, stream)):
            searched = tail + block if tail else block
            if matcher.hit(searched) or may_hold_encoded(searched):
                return None, True, None
            tail = block[-max(matcher.overlap, ENCODED_OVERLAP):]
            if index < len(blocks):
                blocks[index] = b""  # searched: let it go
    except ReadError:  # cut short past the limit: the split pass keeps what precedes the damage, and names it
        return None, True, None
    return None, False, None


def _stream_records(item: Any, matcher: Matcher | None, stored: int) -> Sifted:
    """A huge input holding a needle: split it into records as it streams, parse only those that hit."""
    with open_input(item) as raw:
        document = split_stream(chunks(raw), _could_hold(matcher) if matcher is not None else _every_record)
    return Sifted(document, stored)


def _could_hold(matcher: Matcher) -> Callable[[bytes], bool]:
    """A record the prefilter cannot rule out: it holds a needle, or a payload that must be decoded first."""
    return lambda raw: matcher.hit(raw) or may_hold_encoded(raw)


def _every_record(_raw: bytes) -> bool:
    return True
