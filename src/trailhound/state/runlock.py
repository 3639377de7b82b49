"""Which runs sharing a state file are alive: each holds an exclusive lock on its own file while it runs.

The kernel drops a lock when its process dies, however it dies (SIGKILL included), so "this run's lock is
free, or its file is gone" means "that run is over". Locks live beside the state file, in `<state>.runs/`.
A run takes its lock before it stores anything, so a run with stored alerts and no lock file is over.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class RunLock:
    def __init__(self, state_path: Path, run_id: str) -> None:
        folder = _folder(state_path)
        folder.mkdir(mode=0o700, exist_ok=True)
        self.path = folder / f"{run_id}.lock"
        while True:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            # Another run's sweep may have removed the file between open and lock: then lock a new one.
            if _same_file(self.path, self._fd):
                return
            os.close(self._fd)

    def release(self) -> None:
        if self._fd >= 0:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)  # closing drops the lock
            self._fd = -1


def is_alive(state_path: Path, run_id: str) -> bool:
    path = _folder(state_path) / f"{run_id}.lock"
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def sweep(state_path: Path) -> None:
    """Remove the lock files of runs that are over (killed ones leave theirs behind)."""
    folder = _folder(state_path)
    for path in folder.glob("*.lock") if folder.is_dir() else ():
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if _same_file(path, fd):
                path.unlink(missing_ok=True)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)


def _same_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _folder(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".runs")
