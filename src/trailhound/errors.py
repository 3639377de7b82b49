"""Typed errors that say where: each carries the input, line or item, and field at fault, and prints as one line.

    file.json: line 12: requestParameters: not an object

The message and the parts of the location may quote log values (attacker-controlled): str() keeps them on
one line, and whoever prints them still passes them through `alerts.textsafe.inert`.
"""

from __future__ import annotations


class TrailhoundError(Exception):
    """Base of trailhound's own errors; str() is the one-line message shown to users."""

    exit_code = 1

    def __init__(self, message: str, *, source: object = None, line: int | None = None,
                 item: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source  # a file name, an s3:// URL, an input's origin; None: the caller names it
        self.line = line  # 1-based line number in the (decompressed) input
        self.item = item  # 0-based index of the record or entry
        self.field = field

    def where(self) -> str:
        """The location part, e.g. `file.json: line 12: requestParameters` ('' when nothing is known)."""
        parts = [str(self.source) if self.source is not None else None,
                 f"line {self.line}" if self.line is not None else None,
                 f"item {self.item}" if self.item is not None else None,
                 self.field]
        return ": ".join(p for p in parts if p)

    def located(self, source: object) -> TrailhoundError:
        """This error, naming `source` when it did not name one yet (the reader of bytes knows no file name)."""
        if self.source is None:
            self.source = source
        return self

    def __str__(self) -> str:
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        return " ".join(text.splitlines())  # one line, whatever a quoted value held


class ConfigError(TrailhoundError):
    """A configuration, allowlist or option problem, found before any scan starts (exit code 2)."""

    exit_code = 2


class InputError(TrailhoundError):
    """A problem with an input: the run names it and goes on with the rest (exit code 1)."""


class ReadError(InputError, OSError):
    """An input that cannot be read (missing, access denied, the service refused, a corrupt gzip stream).

    An OSError too, so code that handles I/O failures handles it."""

    def __init__(self, message: str, *, source: object = None, line: int | None = None,
                 item: int | None = None, field: str | None = None) -> None:
        InputError.__init__(self, message, source=source, line=line, item=item, field=field)

    def __str__(self) -> str:
        return InputError.__str__(self)


class RecordError(InputError):
    """Part of an input that is not a readable CloudTrail record: bad JSON, a cut file, a record too deep."""


class StateError(ConfigError):
    """The state file cannot be read or written now (locked, disk full, read-only, corrupt): exit code 5.

    str() names the file and what to do. `transient` (a lock another process holds, a full disk) means the
    same step may succeed later: `watch` backs off and retries it, holding its queue messages meanwhile."""

    exit_code = 5

    def __init__(self, message: str, *, source: object = None, transient: bool = False) -> None:
        super().__init__(message, source=source)
        self.transient = transient
