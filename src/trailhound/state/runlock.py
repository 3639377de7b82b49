"""Which runs sharing a state file are alive: each holds an exclusive lock on its own file while it runs.

The kernel drops a lock when its process dies, however it dies (SIGKILL included), so "this run's lock is
free, or its file is gone" means "that run is over". Locks live beside the state file, in `<state>.runs/`.
A run takes its lock before it stores anything, so a run with stored alerts and no lock file is over.

A lock file also carries one message a run may leave behind: "I printed my alerts but the store would not
take the mark" (a full disk), or "these sinks accepted these alerts but the store would not record it". The
file is written full size when the run begins, so that message is an overwrite in place that needs no free
space; the file then outlives the run until another run has read it and marked the alerts emitted (or the
deliveries delivered) in the store.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Collection
from pathlib import Path

SIZE = 8192  # bytes written when a run begins: room for a note naming ~480 alert ids
_NOTE = b"emitted\n"
_ALL = b"emitted-all\n"  # more alerts than fit: every alert the run stored and had not marked
_DELIVERED = b"delivered\n"  # then one "SINK_ID<TAB>ALERT_ID" line per delivery a sink accepted


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
                break
            os.close(self._fd)
        self.noted = False
        try:
            if os.fstat(self._fd).st_size < SIZE:
                os.pwrite(self._fd, b" " * SIZE, 0)
        except OSError:
            self.release()
            raise

    def note_emitted(self, alert_ids: list[str]) -> bool:
        """Say in the lock file that these alerts were written out (the store could not take it); False when
        even that failed."""
        text = _NOTE + "\n".join(alert_ids).encode() + b"\n"
        if len(text) > SIZE:
            text = _ALL
        return self._note(text)

    def note_delivered(self, sink_id: str, alert_ids: list[str]) -> bool:
        """Say in the lock file that this sink accepted these alerts (the store could not record it); False
        when it does not fit, the file already holds a note, or writing failed."""
        text = _DELIVERED + "".join(f"{sink_id}\t{alert_id}\n" for alert_id in alert_ids).encode()
        return not self.noted and len(text) <= SIZE and self._note(text)

    def _note(self, text: bytes) -> bool:
        try:
            os.pwrite(self._fd, text.ljust(SIZE), 0)
        except OSError:
            return False
        self.noted = True
        return True

    def release(self) -> None:
        if self._fd >= 0:
            if not self.noted:  # a noted file stays for the next run to read (it is unlocked: run over)
                self.path.unlink(missing_ok=True)
            os.close(self._fd)  # closing drops the lock
            self._fd = -1


def emitted_by(state_path: Path, run_id: str) -> list[str] | None:
    """What a finished run's lock file says it printed and could not mark: alert ids, ["*"] for all of its
    unmarked alerts, or None."""
    try:
        text = (_folder(state_path) / f"{run_id}.lock").read_bytes()
    except OSError:
        return None
    if text.startswith(_ALL):
        return ["*"]
    if not text.startswith(_NOTE):
        return None
    return [line for line in text[len(_NOTE):].decode(errors="replace").split() if line]


def delivered_by(state_path: Path, run_id: str) -> dict[str, set[str]]:
    """What a finished run's lock file says its sinks accepted and it could not record: sink id -> alert ids."""
    try:
        text = (_folder(state_path) / f"{run_id}.lock").read_bytes()
    except OSError:
        return {}
    if not text.startswith(_DELIVERED):
        return {}
    found: dict[str, set[str]] = {}
    for line in text[len(_DELIVERED):].decode(errors="replace").splitlines():
        sink_id, tab, alert_id = line.strip(" ").partition("\t")
        if tab and alert_id:
            found.setdefault(sink_id, set()).add(alert_id)
    return found


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


def sweep(state_path: Path, keep: Collection[str] = ()) -> None:
    """Remove the lock files of runs that are over (killed ones leave theirs behind), except those of the
    runs in `keep` (their alerts are not all marked yet: a note in the file may still be needed)."""
    folder = _folder(state_path)
    for path in folder.glob("*.lock") if folder.is_dir() else ():
        if path.stem in keep:
            continue
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
