"""What SECURITY.md and docs/ promise is what the code does: formats it names exist, gaps it lists are open."""

from __future__ import annotations

import re
from pathlib import Path

from trailhound.alerts.render import FORMATS
from trailhound.sinks import KINDS

ROOT = Path(__file__).resolve().parents[1]
REPORTS = {"html"}  # `report` writes HTML; the rest are --format choices and sink kinds


def test_security_md_promises_escaping_only_for_outputs_that_exist():
    text = (ROOT / "SECURITY.md").read_text()
    section = text[text.index("## Output"):] if "## Output" in text else text
    named = {m.lower() for m in re.findall(r"\*\*([A-Za-z, ]+)\*\*", section) for m in re.split(r",\s*", m)}
    outputs = {f.lower() for f in FORMATS} | set(KINDS) | {k + "s" for k in KINDS} | REPORTS
    named_outputs = {n for n in named if n in {"csv", "xml", "yaml"} | outputs}
    assert named_outputs <= outputs, f"SECURITY.md promises escaping for {named_outputs - outputs}"


def test_sources_md_lists_no_gap_that_is_closed():
    # The crash after the store is covered: the next run prints the alerts (tests/state/test_concurrency.py).
    assert "Known gap" not in (ROOT / "docs" / "sources.md").read_text()
