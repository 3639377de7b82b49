"""Open the state store a setting names: a postgresql:// URL is the shared PostgreSQL store, anything else
a SQLite file (the default)."""

from __future__ import annotations

from pathlib import Path

from .base import State
from .postgres import PostgresStore, is_url
from .store import StateStore

__all__ = ["describe", "exists", "is_url", "open_state"]


def open_state(where: str | Path, track_delivery: bool = False, read_only: bool = False) -> State:
    if is_url(where):
        return PostgresStore(str(where), track_delivery=track_delivery, read_only=read_only)
    return StateStore(where, track_delivery=track_delivery, read_only=read_only)


def exists(where: str | Path) -> bool:
    """Whether there is a store to open (a database URL: the server says, when opened)."""
    return is_url(where) or Path(where).is_file()


def describe(where: str | Path) -> str:
    """The store's name for messages: a URL without its password."""
    from .postgres import redacted

    return redacted(str(where)) if is_url(where) else str(where)
