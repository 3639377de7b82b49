"""The environment-specific filter: documented exclusions, each with a reason, an owner and an expiry.

    [[exclude]]
    rule = "0xFF-0237"                 # optional: every rule when absent
    reason = "Terraform CI creates console users for new staff"
    owner = "platform-team@example.com"
    expires = 2027-03-31               # optional: an expired entry stops applying and is reported
    UserIdentityArn = "arn:aws:sts::*:assumed-role/terraform-ci/*"
    AWSRegion = ["eu-west-1", "eu-central-1"]   # a list: any of these

Conditions name alert columns and hold shell-style globs (case-sensitive, per segment: `*` never crosses
`/` or `:`, see globs.py), all of which must match. A condition may name any column of the rule it applies
to (its own columns and the generic ones); an entry without `rule` may name a column any of the run's rules
has. Anything else is an error naming the rule, as are a bad glob and a `rule` that names no rule. A
condition of only `*` would silence every alert of its column: refused unless the entry says
`match_everything = true` (then it must be the entry's intent, and its reason says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError
from ..tomlfile import read_toml
from .globs import GlobError, compile_glob, glob_match, matches_everything
from .rules import ALL_RULES, UnknownRule, columns_of, get_rule

if TYPE_CHECKING:
    from .rules.base import Rule

_UNMATCHABLE = ("Entities", "Resource")  # structured values: conditions name the flat columns


class Exclusion(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    rule: str | None = None
    reason: str = Field(min_length=1)
    owner: str | None = None
    expires: date | None = None
    match_everything: bool = False

    @field_validator("reason")
    @classmethod
    def _reason_says_something(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must say why the exclusion exists")
        return value

    @property
    def conditions(self) -> dict[str, tuple[str, ...]]:
        return {k: v for k, v in (self.model_extra or {}).items()}

    def expired(self, today: date) -> bool:
        return self.expires is not None and self.expires < today

    def matches(self, row: dict[str, Any]) -> bool:
        if self.rule is not None and self.rule.lower() != str(row.get("RuleId", "")).lower():
            return False
        return all(_column_matches(row.get(column), globs) for column, globs in self.conditions.items())

    def describe(self) -> str:
        owner = f", owner {self.owner}" if self.owner else ""
        return f"{self.reason!r}{owner}"


def _column_matches(value: Any, globs: tuple[str, ...]) -> bool:
    values = value if isinstance(value, list) else [value]
    texts = ["" if v is None else str(v) for v in values]
    return any(glob_match(text, glob) for text in texts for glob in globs)


@dataclass
class Allowlist:
    entries: list[Exclusion]
    source: str = ""

    def active(self, today: date | None = None) -> list[Exclusion]:
        today = today or date.today()
        return [e for e in self.entries if not e.expired(today)]

    def expired(self, today: date | None = None) -> list[tuple[int, Exclusion]]:
        today = today or date.today()
        return [(i, e) for i, e in enumerate(self.entries, 1) if e.expired(today)]

    def match(self, row: dict[str, Any], today: date | None = None) -> Exclusion | None:
        for entry in self.active(today):
            if entry.matches(row):
                return entry
        return None


def load_allowlist(path: str | Path, rules: Sequence[Rule] | None = None) -> Allowlist:
    """Parse and validate an allowlist file against the run's rules (every registered rule when not given);
    any mistake is a ConfigError naming the file, entry and field."""
    return parse_allowlist(read_toml(path, "allowlist"), str(path), rules)


def matchable(rule: Rule | type[Rule]) -> tuple[str, ...]:
    return tuple(c for c in columns_of(rule) if c not in _UNMATCHABLE)


def parse_allowlist(data: dict[str, Any], source: str = "allowlist", rules: Sequence[Rule] | None = None
                    ) -> Allowlist:
    unknown = set(data) - {"exclude"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
                          "entries go in [[exclude]] tables")
    raw_entries = data.get("exclude", [])
    if not isinstance(raw_entries, list):
        raise ConfigError(f"{source}: 'exclude' must be an array of tables ([[exclude]])")
    run = list(rules) if rules is not None else [cls() for cls in ALL_RULES]
    entries = [_entry(raw, f"{source}: [[exclude]] entry {i}", run) for i, raw in enumerate(raw_entries, 1)]
    return Allowlist(entries=entries, source=source)


def _columns_for(raw: dict[str, Any], rules: Sequence[Rule], where: str) -> tuple[str, tuple[str, ...]]:
    """(which rules, the columns a condition may name) for an entry: its rule's, or any run rule's."""
    named = raw.get("rule")
    if isinstance(named, str):
        try:
            rule = get_rule(named)
            return f"rule {rule.id}", matchable(rule)
        except UnknownRule:  # a typo (0xFF-237) would leave the entry silently never applying
            known = ", ".join(cls.id for cls in ALL_RULES)
            raise ConfigError(f"{where}: rule {named!r} matches no rule (known: {known})") from None
    allowed = tuple(dict.fromkeys(c for rule in rules for c in matchable(rule)))
    return f"rule(s) {', '.join(r.id for r in rules)}", allowed


def _entry(raw: Any, where: str, rules: Sequence[Rule]) -> Exclusion:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    applies_to, allowed = _columns_for(raw, rules, where)
    fixed = {"rule", "reason", "owner", "expires", "match_everything"}
    conditions: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        if key in fixed:
            continue
        if key not in allowed:
            raise ConfigError(f"{where}: unknown field {key!r}; conditions name alert columns of {applies_to} "
                              f"({', '.join(allowed)})")
        globs = value if isinstance(value, list) else [value]
        if not globs or not all(isinstance(g, str) for g in globs):
            raise ConfigError(f"{where}: {key} must be a glob string or a list of them")
        for glob in globs:
            try:
                compile_glob(glob)
            except GlobError as exc:
                raise ConfigError(f"{where}: {key}: {exc}") from None
            if matches_everything(glob) and raw.get("match_everything") is not True:
                raise ConfigError(f"{where}: {key}: {glob!r} matches every value and would silence every alert "
                                  "of the rule; narrow it, or say `match_everything = true` in the entry if that "
                                  "is meant")
        conditions[key] = tuple(globs)
    if not conditions:
        raise ConfigError(f"{where}: has no conditions; an entry must name at least one alert column to match, "
                          "or it would silence the whole rule")
    try:
        # model_validate: what Exclusion(**fields) does, on a mapping mypy can check (conditions are extras)
        return Exclusion.model_validate({**{k: v for k, v in raw.items() if k in fixed}, **conditions})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "entry"
        raise ConfigError(f"{where}: {field}: {first['msg']}") from None
