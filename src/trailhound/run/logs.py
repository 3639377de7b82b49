"""Structured logs on stderr for long-running modes: one line per event, text or JSON (`--log-format json`).

`event("object.done", origin=..., alerts=3)` logs an event name and fields. Field values come from logs
and queues (attacker-controlled): text lines make them inert, JSON lines escape what terminals act on.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from ..alerts.textsafe import inert, inert_json

LOGGER = logging.getLogger("trailhound")
FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "event": record.getMessage(),
                **getattr(record, "fields", {})}
        return inert_json(orjson.dumps(line, default=str).decode())


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={inert(v)}" for k, v in getattr(record, "fields", {}).items())
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        return f"trailhound: {level}{inert(record.getMessage())}{' ' if fields else ''}{fields}"


def setup(fmt: str = "text", stream: IO[str] | None = None, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    LOGGER.log(level, name, extra={"fields": fields})


def warning(name: str, **fields: Any) -> None:
    event(name, logging.WARNING, **fields)
