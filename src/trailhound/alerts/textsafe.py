"""Values from logs are attacker-controlled: make them inert before a terminal, a log line or JSON shows them."""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode characters that move or reorder text (line and paragraph
# separators, bidi overrides and isolates): enough to forge lines or hide text in a terminal.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(value: object, limit: int | None = None) -> str:
    """A value as one line of printable text: controls escaped (\\x1b), optionally cut to `limit` chars."""
    text = value if isinstance(value, str) else str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return _UNSAFE.sub(_escape, text)


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def inert_json(text: str) -> str:
    """JSON text with the characters JSON allows raw but terminals act on written as \\u escapes."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
