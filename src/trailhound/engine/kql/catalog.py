"""The KQL rules of `--rules` paths, and what became of each file: loaded, or skipped and why.

One answer for `scan`/`watch` (which run the loaded rules and print the notes) and for `rules list` and
`rules show` (which print them): a file whose query the engine cannot run is skipped with its file, line,
column and construct; a second file with an id already loaded is skipped; the others load.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ConfigError
from ..rules.base import Rule
from .load import load_rule_files
from .plan import KqlError
from .rule import KqlRule, kql_rule


@dataclass
class RuleFile:
    """One rule file's fate: its rule when it loaded, else the one-line reason (file:line:column: what)."""

    path: str
    rule: KqlRule | None = None
    rule_id: str = ""  # the id the file gives, when it got that far
    reason: str = ""

    @property
    def loaded(self) -> bool:
        return self.rule is not None


@dataclass
class Catalog:
    files: list[RuleFile] = field(default_factory=list)

    @property
    def rules(self) -> list[KqlRule]:
        return [f.rule for f in self.files if f.rule is not None]

    def find(self, rule_id: str) -> RuleFile | None:
        """The file of this id (loaded first, then one skipped after its id was read), case-insensitively."""
        wanted = rule_id.lower()
        matching = [f for f in self.files if f.rule_id.lower() == wanted]
        return next((f for f in matching if f.loaded), matching[0] if matching else None)


def load_catalog(paths: Iterable[Path | str]) -> Catalog:
    """Every rule file under `paths`. A ConfigError only when nothing named exists at all (a typo'd path)."""
    named = [Path(p) for p in paths]
    specs, skipped = load_rule_files(named)
    catalog = Catalog([RuleFile(s.path, reason=s.reason) for s in skipped])
    if named and not specs and skipped and all("no such file" in s.reason for s in skipped) \
            and len(skipped) == len(named):
        raise ConfigError(f"--rules: {skipped[0].reason}")
    seen: dict[str, str] = {}
    for spec in specs:
        entry = RuleFile(spec.path, rule_id=spec.id)
        catalog.files.append(entry)
        if spec.id.lower() in seen:
            entry.reason = f"{spec.path}: rule id {spec.id} already loaded from {seen[spec.id.lower()]}"
            continue
        try:
            entry.rule = kql_rule(spec)
        except KqlError as exc:
            entry.reason = str(exc)
            continue
        seen[spec.id.lower()] = spec.path
    return catalog


def with_rule_files(rules: Sequence[Rule], paths: Sequence[Path | str]) -> tuple[list[Rule], list[str]]:
    """The built-in rules plus those loaded from KQL rule files (--rules), and one line per file saying what
    happened: a file that cannot run is skipped (the others load); a loaded rule whose id is a built-in's
    replaces it for this run."""
    if not paths:
        return list(rules), []
    catalog = load_catalog(paths)
    loaded = {r.id.lower(): r for r in catalog.rules}
    notes: list[str] = []
    kept: list[Rule] = []
    for rule in rules:
        replacement = loaded.get(rule.id.lower())
        if replacement is not None:
            notes.append(f"--rules: {replacement.id} from {replacement.spec.path} replaces the built-in rule "
                         f"{rule.id} for this run")
        else:
            kept.append(rule)
    for entry in catalog.files:
        if entry.rule is not None:
            kept.append(entry.rule)
            notes.append(f"--rules: loaded {entry.rule.id} ({entry.path})")
        else:
            notes.append(f"--rules: skipped {entry.reason}")
    return kept, notes


__all__ = ["Catalog", "RuleFile", "load_catalog", "with_rule_files"]
