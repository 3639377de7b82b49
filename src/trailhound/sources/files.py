"""Local files and folders (recursively), in a stable order."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import ConfigError


@dataclass(frozen=True)
class FileInput:
    """One local file; picklable, so a worker process can read it itself."""

    path: str

    @property
    def origin(self) -> str:
        return self.path

    def size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def open(self) -> BinaryIO:
        """The file's bytes as a stream: the reader takes them chunk by chunk, never the whole file at once."""
        # O_NONBLOCK and the check after opening: a FIFO, a device (/dev/zero) or a socket dropped in a
        # log folder, or a symlink to one, would otherwise hang the run or fill memory.
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        handle = open(fd, "rb")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            handle.close()
            raise OSError(errno.EINVAL, "not a regular file")
        return handle

    def read(self) -> bytes:
        """The whole file (for callers that want it held: tests, tools); scanning streams it through open()."""
        with self.open() as handle:
            return handle.read()


# A plain file at least this big is split into byte ranges over the workers (below it one worker reads it
# whole, which is as fast); each range is at least half of it.
SPLIT_MIN = 64 << 20
_READ = 1 << 20


@dataclass(frozen=True)
class FileRange:
    """The lines of one local file that start in [start, end): one worker's share of a big NDJSON file.

    JSON forbids a raw newline inside a string, so splitting at newlines is exact: a range reads on past
    `end` to finish the line that straddles it, and the next range skips that line (it starts after the
    first newline at or after its start - 1). Every line belongs to exactly one range."""

    path: str
    start: int
    end: int
    part: int = 0
    parts: int = 1
    shape = "lines"  # what the reader splits it as: no head of its own to tell

    @property
    def origin(self) -> str:
        return self.path

    def size(self) -> int:
        return self.end - self.start

    def open(self) -> BinaryIO:
        return _RangeReader(FileInput(self.path).open(), self.start, self.end)  # type: ignore[return-value]

    def read(self) -> bytes:
        with self.open() as handle:
            return b"".join(iter(lambda: handle.read(_READ), b""))


class _RangeReader:
    """A file's bytes from the first line starting at or after `start` to the end of the last line
    starting before `end`."""

    def __init__(self, handle: BinaryIO, start: int, end: int) -> None:
        self._handle, self._end, self._done = handle, end, False
        self.pos = 0
        if start > 0:
            self.pos = self._after_newline(start - 1)
        self._done = self.pos >= end

    def _after_newline(self, at: int) -> int:
        self._handle.seek(at)
        while chunk := self._handle.read(_READ):
            found = chunk.find(b"\n")
            if found >= 0:
                at += found + 1
                self._handle.seek(at)
                return at
            at += len(chunk)
        return at

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        size = size if size and size > 0 else 1 << 30
        if self.pos < self._end:
            data = self._handle.read(min(size, self._end - self.pos))
            self.pos += len(data)
            if not data or (self.pos >= self._end and data.endswith(b"\n")):
                self._done = True
            return data
        data = self._handle.read(size)  # past the end: only the rest of the line that straddles it
        found = data.find(b"\n")
        if found >= 0 or not data:
            self._done = True
            data = data[:found + 1] if found >= 0 else data
        self.pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        raise OSError("a file range cannot seek")  # its size is what was read of it (read.sift counts it)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> _RangeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ranges(item: FileInput, parts: int, is_lines: Callable[[bytes], bool]) -> list[FileInput | FileRange]:
    """`item` as `parts` byte ranges when it is a plain file past SPLIT_MIN whose head `is_lines` says holds
    one record per line; else `item` itself. The head is read raw: a gzip or Parquet file never splits."""
    size = item.size()
    if parts < 2 or size < SPLIT_MIN:
        return [item]
    try:
        with item.open() as handle:
            head = handle.read(4096)
    except OSError:
        return [item]  # the scan names it
    if head[:2] == b"\x1f\x8b" or head[:4] == b"PAR1" or not is_lines(head):
        return [item]
    parts = min(parts, max(1, size // (SPLIT_MIN // 2)))
    bounds = [size * i // parts for i in range(parts + 1)]
    return [FileRange(item.path, bounds[i], bounds[i + 1], i, parts) for i in range(parts)]


def check_paths(paths: Iterable[str]) -> None:
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise ConfigError(f"no such file or folder: {', '.join(missing)}")


def iter_files(paths: Iterable[str]) -> Iterator[FileInput]:
    """Each file named, and every file below each folder named; hidden files and folders are skipped."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield FileInput(os.path.join(root, name))
        else:
            yield FileInput(str(path))
