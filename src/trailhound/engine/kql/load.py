"""Rule files as users have them: FalconForce use-case markdown, Sentinel analytic and hunting YAML, .kql.

`load_rule_files` reads files and folders; a file that cannot be read or whose query the engine cannot run
becomes a `Skipped` entry naming the file, line, column and construct, and the others load.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .plan import KqlError, Script, parse_query, relocated
from .values import parse_timespan_literal

_FALCONFORCE_ID = re.compile(r"\*\*ID:\*\*\s*(0x[0-9A-Fa-f]+-\d+)")
_QUERY_BLOCK = re.compile(r"\*\*Query:\*\*\s*\n```[^\n]*\n(.*?)```", re.S)
_TACTIC = re.compile(r"^(TA\d{4})\s*-\s*(.+)$")
_SENTINEL_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$", re.I)
RULE_SUFFIXES = (".md", ".yaml", ".yml", ".kql")


@dataclass
class RuleSpec:
    """What a rule file says about its rule, and its query's text and plan."""

    id: str
    name: str
    path: str
    text: str
    script: Script
    query_line: int = 1  # the file line where the query starts, for messages
    kind: str = "kql"  # falconforce, analytic, hunting, kql
    severity: str = "Medium"
    description: str = ""
    tactics: list[str] = field(default_factory=list)
    techniques: list[str] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)
    blind_spots: list[str] = field(default_factory=list)
    response_actions: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    version: str = "1.0"
    entity_mappings: list[dict[str, Any]] = field(default_factory=list)
    custom_details: dict[str, str] = field(default_factory=dict)
    query_frequency: timedelta | None = None
    query_period: timedelta | None = None
    trigger_operator: str = "gt"
    trigger_threshold: int = 0
    # Sentinel's eventGroupingSettings.aggregationKind; YAML without it gets Sentinel's default (SingleAlert).
    # FalconForce markdown and .kql carry no setting: one alert per result, as FalconForce deploys them.
    event_grouping: str = "AlertPerResult"


@dataclass
class Skipped:
    path: str
    reason: str  # one line: file:line:column: what


def _sections(markdown: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for match in re.finditer(r"^##\s+(.+?)\s*\n(.*?)(?=^##\s|\Z)", markdown, re.S | re.M):
        out[match.group(1).strip().lower()] = match.group(2).strip()
    return out


def _bullets(text: str) -> list[str]:
    items = [line.strip()[1:].strip() for line in text.splitlines() if line.strip()[:1] in ("*", "-")]
    items = [i for i in items if i and not set(i) <= {"-"}]
    if items:
        return items
    text = text.strip()
    return [text] if text and text.lower() not in ("none", "none.", "none expected.") else []


def _falconforce(path: Path, text: str) -> tuple[str, int, dict[str, Any]]:
    match = _QUERY_BLOCK.search(text)
    if not match:
        raise KqlError("no Query code block (a FalconForce use case has one under **Query:**)")
    ident = _FALCONFORCE_ID.search(text)
    title = re.search(r"^#\s+(.+)$", text, re.M)
    sections = _sections(text)
    tactics, techniques = [], []
    for line in sections.get("att&ck tags", "").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and _TACTIC.match(cells[0]):
            tactic = _TACTIC.match(cells[0])
            assert tactic is not None
            tactics.append(f"{tactic.group(1)} {tactic.group(2).strip()}")
            if re.fullmatch(r"T\d{4}", cells[1]):
                techniques.append(cells[1] + (f".{cells[2]}" if re.fullmatch(r"\d{3}", cells[2]) else ""))
    version = re.findall(r"^\|\s*(\d+\.\d+)\s*\|", sections.get("version history", ""), re.M)
    meta = {
        "id": ident.group(1) if ident else path.stem,
        "name": title.group(1).strip() if title else path.stem,
        "kind": "falconforce",
        "description": sections.get("detection description", ""),
        "tactics": tactics, "techniques": list(dict.fromkeys(techniques)),
        "false_positives": _bullets(sections.get("false positives", "")),
        "blind_spots": _bullets(sections.get("detection blind spots", "")),
        "response_actions": _bullets(sections.get("suggested response actions", "")),
        "references": _bullets(sections.get("references", "")),
        "version": version[0] if version else "1.0",
    }
    first_line = text[:match.start(1)].count("\n") + 1
    return match.group(1), first_line, meta


def sentinel_duration(value: Any, where: str) -> timedelta | None:
    """Sentinel's queryFrequency/queryPeriod: 5m, 1h, 14d (also Kusto timespans)."""
    if value in (None, ""):
        return None
    text = str(value)
    match = _SENTINEL_DURATION.match(text)
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2).lower()]
        return timedelta(**{unit: int(match.group(1))})
    span = parse_timespan_literal(text)
    if span is None:
        raise KqlError(f"{where}: {text!r} is not a duration like 5m, 1h or 14d")
    return span


def _yaml(path: Path, text: str) -> tuple[str, int, dict[str, Any]]:
    import yaml  # only Sentinel's files need it: markdown and .kql load without

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise KqlError(f"not YAML ({getattr(exc, 'problem', exc)})", (mark.line + 1) if mark else 0,
                       (mark.column + 1) if mark else 0) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("query"), str):
        raise KqlError("no `query` (a Sentinel rule YAML has one)")
    query = doc["query"]
    line = next((i + 2 for i, line in enumerate(text.splitlines()) if line.startswith("query:")), 1)
    analytic = "queryFrequency" in doc or "triggerOperator" in doc or doc.get("kind") in ("Scheduled", "NRT")
    details = doc.get("customDetails") or {}
    grouping = doc.get("eventGroupingSettings") or {}
    meta = {
        "id": str(doc.get("id") or path.stem), "name": str(doc.get("name") or path.stem),
        "kind": "analytic" if analytic else "hunting",
        "severity": str(doc.get("severity") or "Medium"),
        "description": str(doc.get("description") or "").strip().strip("'").strip(),
        "tactics": [str(t) for t in doc.get("tactics") or []],
        "techniques": [str(t) for t in doc.get("relevantTechniques") or []],
        "version": str(doc.get("version") or "1.0"),
        "entity_mappings": list(doc.get("entityMappings") or []),
        "custom_details": {str(k): str(v) for k, v in details.items()} if isinstance(details, dict) else {},
        "query_frequency": sentinel_duration(doc.get("queryFrequency"), f"{path}: queryFrequency"),
        "query_period": sentinel_duration(doc.get("queryPeriod"), f"{path}: queryPeriod"),
        "trigger_operator": str(doc.get("triggerOperator") or "gt"),
        "trigger_threshold": int(doc.get("triggerThreshold") or 0),
        "event_grouping": str(grouping.get("aggregationKind") or "SingleAlert") if isinstance(grouping, dict)
        else "SingleAlert",
    }
    return query, line, meta


def load_rule_file(path: Path) -> RuleSpec:
    """One rule file; KqlError naming the file (and line, column) when it cannot be run."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise KqlError(f"{path}: cannot read ({exc})") from None
    text = text.replace("\r\n", "\n")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            query, line, meta = _yaml(path, text)
        elif path.suffix.lower() == ".kql":
            query, line, meta = text, 1, {"id": path.stem, "name": path.stem, "kind": "kql"}
        else:
            query, line, meta = _falconforce(path, text)
        script = parse_query(query)
    except KqlError as exc:
        raise relocated(exc, str(path), line) from None
    return RuleSpec(path=str(path), text=query, script=script, query_line=line, **meta)


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, and each folder's rule files (recursively, sorted). A file named explicitly loads
    whatever its suffix (FalconForce's 0508 use case has none)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(f for f in path.rglob("*") if f.is_file() and (
                f.suffix.lower() in RULE_SUFFIXES or (not f.suffix and f.name.startswith("0x")))
                and f.name.lower() != "readme.md"))
        else:
            out.append(path)
    return out


def load_rule_files(paths: Iterable[Path]) -> tuple[list[RuleSpec], list[Skipped]]:
    loaded: list[RuleSpec] = []
    skipped: list[Skipped] = []
    for path in rule_files(paths):
        if not path.exists():
            skipped.append(Skipped(str(path), f"{path}: no such file or folder"))
            continue
        try:
            loaded.append(load_rule_file(path))
        except KqlError as exc:
            skipped.append(Skipped(str(path), str(exc)))
    return loaded, skipped
