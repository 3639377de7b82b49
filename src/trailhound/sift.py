"""Read one input through the prefilter: skip it unparsed, parse only its records around a hit, or all of it.

The input is decompressed as a stream and searched chunk by chunk, so a file with no needle is never
held whole. A file with a hit is parsed record by record (delivery files) or whole (other shapes); one
past IN_MEMORY_LIMIT is split into records as it streams, so memory stays bounded either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from .prefilter import Matcher
from .reader import ReadError, chunks, open_input
from .shapes import Document, looks_truncated, parse, parse_selected

IN_MEMORY_LIMIT = 96 << 20  # decompressed bytes held at once: with the parse around it, a worker stays < 300 MB


@dataclass
class Sifted:
    document: Document | None  # None: no needle anywhere, nothing parsed
    bytes: int = 0  # as stored
    decompressed: int = 0


def sift(item, matcher: Matcher) -> Sifted:
    try:
        with open_input(item) as raw:
            data, hit, size = _search(raw, matcher)
            stored = _stored_size(raw)
    except ReadError:  # corrupt or truncated gzip: the whole-file reader salvages what precedes it and says so
        data = item.read()
        return Sifted(parse(data), len(data), len(data))
    if data is None:
        return Sifted(_stream_records(item, matcher) if hit else None, stored, size)
    if not hit:
        if not data.strip() or looks_truncated(data):
            return Sifted(parse(bytes(data)), stored, size)  # empty or cut short: named, as without the prefilter
        return Sifted(None, stored, size)
    return Sifted(parse_selected(data, matcher.hit), stored, size)


def _stored_size(raw) -> int:
    """The input's size as stored (compressed), which is what the run summary reports."""
    try:
        return raw.seek(0, 2)
    except (OSError, ValueError):
        return 0


def _search(raw, matcher: Matcher) -> tuple[bytes | None, bool, int]:
    """(the decompressed bytes or None when past IN_MEMORY_LIMIT, whether a needle occurs, their size)."""
    blocks: list[bytes] | None = []
    hit = False
    tail = b""
    total = 0
    for block in chunks(raw):
        if not hit:
            hit = matcher.hit(tail + block if tail else block)
            tail = block[-matcher.overlap:] if matcher.overlap else b""
        total += len(block)
        if blocks is not None and total > IN_MEMORY_LIMIT:
            blocks = None  # too big to hold: keep searching; records are split from a second stream if it hits
        if blocks is None and hit:
            break
        if blocks is not None:
            blocks.append(block)
    if blocks is None:
        return None, hit, total
    # Most files are one block: no copy. Joining only what is kept, and only once.
    return (blocks[0] if len(blocks) == 1 else b"".join(blocks)), hit, total


def _stream_records(item, matcher: Matcher) -> Document:
    """A huge input holding a needle: split it into records as it streams, parse only those that hit."""
    from .splitter import split_stream

    with open_input(item) as raw:
        return split_stream(chunks(raw), matcher.hit)[0]
