"""`trailhound rules list|show ID`: what trailhound detects, with the whole use case."""

from __future__ import annotations

import sys

import typer

from ..engine.rules import ALL_RULES, UnknownRule, get_rule
from .common import fail

app = typer.Typer(help="List the rules, or show one rule's whole use case.", no_args_is_help=True)


@app.command("list")
def list_rules() -> None:
    """One line per rule: id, severity, ATT&CK techniques, name (and "(off)" for a rule that runs only when
    --rule names it)."""
    for cls in ALL_RULES:
        off = "" if cls.enabled else "\t(off by default)"
        sys.stdout.write(f"{cls.id}\t{cls.severity}\t{','.join(cls.techniques)}\t{cls.name}{off}\n")


@app.command("show")
def show(rule_id: str = typer.Argument(..., help="Rule id, e.g. 0xFF-0237")) -> None:
    """The whole use case: description, ATT&CK, false positives, blind spots, response actions."""
    try:
        rule = get_rule(rule_id)
    except UnknownRule as exc:
        fail(str(exc))  # it quotes what was typed: fail() makes it inert
    d = rule.describe()
    lines = [f"{d['id']}  {d['name']}  (version {d['version']}, severity {d['severity']})", ""]
    lines += ["ATT&CK", *(f"  {t}" for t in d["tactics"]), *(f"  {t}" for t in d["techniques"]), ""]
    lines += ["Description", f"  {d['description']}", "", "Description of the attack", f"  {d['attack']}", ""]
    lines += ["Permission required", f"  {d['permission_required']}", ""]
    for title, key in (("False positives", "false_positives"), ("Blind spots", "blind_spots"),
                       ("Suggested response actions", "response_actions"), ("References", "references")):
        lines += [title, *(f"  - {item}" for item in d[key]), ""]
    sys.stdout.write("\n".join(lines))
