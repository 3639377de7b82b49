"""What every command shares: the one-line error and its exit code."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from ..alerts.textsafe import inert

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_ALERTS, EXIT_UNDELIVERED, EXIT_STATE = 0, 1, 2, 3, 4, 5


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One line on stderr (the message may quote log values or what was typed: made inert), then exit."""
    sys.stderr.write(f"trailhound: error: {inert(message)}\n")
    raise typer.Exit(code)


def usage_or_state(exc: Exception) -> int:
    """2 for a usage or configuration error, 5 (documented) when the state file cannot be used right now."""
    from ..errors import StateError

    return EXIT_STATE if isinstance(exc, StateError) else EXIT_USAGE
