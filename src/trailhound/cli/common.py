"""What every command shares: the one-line error and its exit code."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from ..alerts.textsafe import inert

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_ALERTS, EXIT_UNDELIVERED = 0, 1, 2, 3, 4


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One line on stderr (the message may quote log values or what was typed: made inert), then exit."""
    sys.stderr.write(f"trailhound: error: {inert(message)}\n")
    raise typer.Exit(code)
