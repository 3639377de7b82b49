"""Hostile strings and the checks every output must pass. Sinks and reports extend these, one check per format.

A value from a log is attacker-controlled: whatever shows it must leave no terminal escape sequence, no
forged line, no markup or formula that the reader would act on.
"""

from __future__ import annotations

import html
import re

# Each one aims at a different reader: terminals (CSI, OSC 8 hyperlinks, BEL, backspace overprinting,
# carriage return, bidi overrides, line separators), rich markup, HTML, Slack mrkdwn, CSV formulas.
HOSTILE = {
    "csi": "evil\x1b[2J\x1b[31mred",
    "osc-link": "\x1b]8;;http://attacker.example/\x07click\x1b]8;;\x07",
    "fake-line": "ok\ntrailhound: 0 alert(s)\r\n",
    "carriage-return": "visible\rhidden",
    "backspace": "admin\x08\x08\x08\x08\x08guest",
    "c1-csi": "x\x9b31mred",
    "bidi": "user\u202egnp.exe",
    "line-separator": "a\u2028b\u2029c",
    "nul": "a\x00b",
    "rich-markup": "[bold red]fake[/bold red][link=http://x]y[/link]",
    "html": "<script>alert(1)</script><img src=x onerror=alert(1)>&amp;",
    "slack": "<!channel> <https://attacker.example|click here> *bold* `code`",
    "csv-formula": "=HYPERLINK(\"http://attacker.example\",\"x\")",
}

# What a terminal acts on: C0 controls but tab/newline handled by the caller, DEL, C1, and the Unicode
# characters that move or reorder text.
_TERMINAL_ACTIVE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def assert_terminal_safe(text: str) -> None:
    """No escape, control or reordering character reaches the terminal (newlines are the writer's own)."""
    found = _TERMINAL_ACTIVE.search(text)
    context = text[max(0, found.start() - 40):found.start() + 40] if found else ""
    assert found is None, f"terminal-active character {found.group()!r} at {found.start()}: {context!r}"


def assert_lines_not_forged(text: str, allowed_prefixes: tuple[str, ...]) -> None:
    """Every line the tool writes starts as the tool writes lines: a value cannot start a line of its own."""
    for line in text.splitlines():
        assert line.startswith(allowed_prefixes), f"forged line: {line!r}"


def assert_html_escaped(document: str, value: str) -> None:
    """For HTML sinks and reports: the value appears escaped, and none of its markup is live."""
    assert html.escape(value) in document or html.escape(value, quote=False) in document, value
    assert "<script" not in document.lower() and "<img" not in document.lower()


def assert_slack_escaped(text: str) -> None:
    """For Slack sinks: no mention, link or markup control from a value (& < > escaped per Slack's rules)."""
    assert "<!channel>" not in text and "<https://attacker.example|" not in text


def assert_csv_safe(cell: str) -> None:
    """For CSV-like outputs: a cell cannot start a formula in a spreadsheet."""
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
