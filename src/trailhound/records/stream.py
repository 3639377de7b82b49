"""One input's bytes, decompressed as a stream, in chunks: memory follows the chunk, not the file.

ISA-L's igzip decompresses several times faster than zlib; the standard library is the fallback. Gzip is
recognised by its magic bytes, never by the file name; multi-member gzip reads whole.
"""

from __future__ import annotations

import io
from typing import BinaryIO, Iterator

try:
    from isal.igzip import IGzipFile as _GzipFile
    GZIP_ENGINE = "isal"
except ImportError:  # pragma: no cover - exercised only where isal does not install
    from gzip import GzipFile as _GzipFile  # type: ignore[assignment]
    GZIP_ENGINE = "gzip"

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 8 << 20  # decompressed bytes per step: big enough for SIMD search to run at full speed


class ReadError(Exception):
    """The stream could not be read to its end (corrupt gzip, I/O error): the caller salvages another way."""


def open_input(item) -> BinaryIO:
    """A binary stream over the input: its own `open()` when it has one (files), else its bytes."""
    opener = getattr(item, "open", None)
    return opener() if callable(opener) else io.BytesIO(item.read())


def chunks(raw: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    """Decompressed chunks of `raw` (gunzipped when it starts with the gzip magic)."""
    head = raw.read(2)
    rest = _GzipFile(fileobj=_Rejoined(head, raw), mode="rb") if head == GZIP_MAGIC else None
    try:
        if rest is None:
            if head:
                yield head
            source: BinaryIO = raw
        else:
            source = rest  # type: ignore[assignment]
        while True:
            block = source.read(size)
            if not block:
                return
            yield block
    except (OSError, EOFError, ValueError) as exc:  # gzip errors are OSError/EOFError subclasses
        raise ReadError(str(exc) or type(exc).__name__) from exc


class _Rejoined(io.RawIOBase):
    """Puts the two peeked bytes back in front of a stream that may not seek (a socket, an S3 body)."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)
