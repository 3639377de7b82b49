"""Read one input through the prefilter: skip it unparsed, parse only its records around a hit, or all of it.

The input is decompressed as a stream and searched chunk by chunk, so a file with no needle is never
held whole. A file with a hit is parsed record by record (delivery files) or whole (other shapes); one
past IN_MEMORY_LIMIT is split into records as it streams, so memory stays bounded either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

from .prefilter import Matcher
from .stream import ReadError, chunks, open_input
from .formats import Document, looks_truncated, parse, parse_selected

IN_MEMORY_LIMIT = 96 << 20  # decompressed bytes held at once: with the parse around it, a worker stays < 300 MB


@dataclass
class Sifted:
    document: Document | None  # None: no needle anywhere, nothing parsed
    bytes: int = 0  # as stored
    decompressed: int = 0


def sift(item, matcher: Matcher) -> Sifted:
    try:
        with open_input(item) as raw:
            data, hit, size = _read(raw, matcher)
            stored = _stored_size(raw)
    except ReadError:  # corrupt or truncated gzip: the whole-file reader salvages what precedes it and says so
        data = item.read()
        return Sifted(parse(data), len(data), len(data))
    if data is None:
        return Sifted(_stream_records(item, matcher) if hit else None, stored, size)
    ends = matcher.ends(data)  # one search of the file answers both: is there a hit, and in which records
    if not ends:
        if not data.strip() or looks_truncated(data):
            return Sifted(parse(bytes(data)), stored, size)  # empty or cut short: named, as without the prefilter
        return Sifted(None, stored, size)
    return Sifted(parse_selected(data, matcher.hit, lambda _data: ends, matcher.keeps), stored, size)


def _stored_size(raw) -> int:
    """The input's size as stored (compressed), which is what the run summary reports."""
    try:
        return raw.seek(0, 2)
    except (OSError, ValueError):
        return 0


def _read(raw, matcher: Matcher) -> tuple[bytes | None, bool, int]:
    """(the decompressed bytes, or None past IN_MEMORY_LIMIT; for those, whether a needle occurs; the size).

    Most inputs fit: they are read whole and searched once by the caller. A bigger one is searched as it
    streams, chunk by chunk with an overlap so no needle hides across a boundary, and never held whole.
    """
    blocks: list[bytes] = []
    total = 0
    stream = chunks(raw)
    for block in stream:
        blocks.append(block)
        total += len(block)
        if total > IN_MEMORY_LIMIT:
            break
    else:  # Most files are one block: no copy. Joining only what is kept, and only once.
        return (blocks[0] if len(blocks) == 1 else b"".join(blocks)) if blocks else b"", False, total
    tail = b""
    for index, block in enumerate(chain(blocks, stream)):
        if index >= len(blocks):
            total += len(block)
        if matcher.hit(tail + block if tail else block):
            return None, True, total
        tail = block[-matcher.overlap:] if matcher.overlap else b""
        if index < len(blocks):
            blocks[index] = b""  # searched: let it go
    return None, False, total


def _stream_records(item, matcher: Matcher) -> Document:
    """A huge input holding a needle: split it into records as it streams, parse only those that hit."""
    from .split import split_stream

    with open_input(item) as raw:
        return split_stream(chunks(raw), matcher.hit)[0]
