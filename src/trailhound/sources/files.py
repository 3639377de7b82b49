"""Local files and folders (recursively), in a stable order."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
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
