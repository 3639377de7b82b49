"""`trailhound rules list|show ID [--rules FILE_OR_DIR ...]`: what trailhound detects, with the whole use case;
with --rules, the KQL rule files too: which loaded, and why each of the others did not."""

from __future__ import annotations

import sys
from typing import Any

import typer

from ..alerts.textsafe import inert
from ..engine.rules import ALL_RULES, UnknownRule, get_rule
from ..errors import ConfigError
from . import options as o
from .common import fail

app = typer.Typer(help="List the rules, or show one rule's whole use case.", no_args_is_help=True)


def _catalog(rule_files: list[Any] | None) -> Any:
    if not rule_files:
        return None
    from ..engine.kql.catalog import load_catalog

    try:
        return load_catalog(rule_files)
    except ConfigError as exc:
        fail(str(exc))


@app.command("list")
def list_rules(rule_files: o.RuleFiles = None) -> None:
    """One line per rule: id, severity, ATT&CK techniques, name (and "(off)" for a rule that runs only when
    --rule names it). With --rules, one line per rule file: its loaded rule (and the built-in it replaces),
    or "skipped" and why (file:line:column: the construct)."""
    catalog = _catalog(rule_files)
    replaced = {r.id.lower() for r in catalog.rules} if catalog else set()
    for cls in ALL_RULES:
        off = "" if cls.enabled else "\t(off by default)"
        note = "\t(replaced by --rules)" if cls.id.lower() in replaced else off
        sys.stdout.write(f"{cls.id}\t{cls.severity}\t{','.join(cls.techniques)}\t{cls.name}{note}\n")
    if catalog is None:
        return
    for entry in catalog.files:
        if entry.rule is not None:
            r = entry.rule
            sys.stdout.write(f"{inert(r.id)}\t{r.severity}\t{inert(','.join(r.techniques))}\t{inert(r.name)}"
                             f"\t(loaded from {inert(entry.path)})\n")
        else:
            sys.stdout.write(f"skipped\t{inert(entry.reason)}\n")
    loaded = len(catalog.rules)
    sys.stderr.write(f"trailhound: --rules: {loaded} of {len(catalog.files)} rule file(s) loaded, "
                     f"{len(catalog.files) - loaded} skipped\n")


@app.command("show")
def show(rule_id: str = typer.Argument(..., help="Rule id, e.g. 0xFF-0237"), rule_files: o.RuleFiles = None) -> None:
    """The whole use case: description, ATT&CK, false positives, blind spots, response actions. A rule loaded
    with --rules is shown in place of a built-in of the same id, with its file, schedule, needles and query;
    a rule file that did not load says why."""
    catalog = _catalog(rule_files)
    entry = catalog.find(rule_id) if catalog else None
    if entry is not None and entry.rule is None:
        fail(f"rule {rule_id} did not load: {entry.reason}", 2)
    if entry is not None and entry.rule is not None:
        _show(entry.rule.describe(), kql=_kql_facts(entry.rule))
        return
    try:
        rule = get_rule(rule_id)
    except UnknownRule as exc:
        fail(str(exc))  # it quotes what was typed: fail() makes it inert
    _show(rule.describe())


def _kql_facts(rule: Any) -> list[str]:
    spec = rule.spec
    every = f"every {rule.frequency} over {rule.period or rule.frequency}" if rule.frequency else "once per run"
    needles = [b.decode() for b in rule.needles] if rule.needles else []
    lines = ["Rule file", f"  {inert(spec.path)} ({spec.kind})", "", "Schedule", f"  {every}", ""]
    lines += ["Needles (prefilter)", f"  {inert(' | '.join(needles)) if needles else 'none: every record is read'}"]
    lines += [*(f"  and one of: {inert(' | '.join(n.decode() for n in group))}" for group in rule.also_needles), ""]
    lines += ["Query", *(f"  {inert(line)}" for line in spec.text.strip().splitlines()), ""]
    return lines


def _show(d: dict[str, Any], kql: list[str] | None = None) -> None:
    lines = [f"{inert(d['id'])}  {inert(d['name'])}  (version {inert(d['version'])}, severity {d['severity']})", ""]
    lines += ["ATT&CK", *(f"  {inert(t)}" for t in d["tactics"]), *(f"  {inert(t)}" for t in d["techniques"]), ""]
    lines += ["Description", f"  {inert(d['description'])}", ""]
    if d.get("attack"):
        lines += ["Description of the attack", f"  {inert(d['attack'])}", ""]
    if d.get("permission_required"):
        lines += ["Permission required", f"  {inert(d['permission_required'])}", ""]
    for title, key in (("False positives", "false_positives"), ("Blind spots", "blind_spots"),
                       ("Suggested response actions", "response_actions"), ("References", "references")):
        lines += [title, *(f"  - {inert(item)}" for item in d[key]), ""]
    lines += kql or []
    sys.stdout.write("\n".join(lines))
