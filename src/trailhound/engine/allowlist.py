"""The environment-specific filter: documented exclusions, each with a reason, an owner and an expiry.

    [[exclude]]
    rule = "0xFF-0237"                 # optional: every rule when absent
    reason = "Terraform CI creates console users for new staff"
    owner = "platform-team@example.com"
    expires = 2027-03-31               # optional: an expired entry stops applying and is reported
    UserIdentityArn = "arn:aws:sts::*:assumed-role/terraform-ci/*"
    AWSRegion = ["eu-west-1", "eu-central-1"]   # a list: any of these

Conditions name alert columns and hold shell-style globs (case-sensitive), all of which must match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..alerts.alert import ALERT_COLUMNS
from ..errors import ConfigError
from ..tomlfile import read_toml

MATCHABLE_COLUMNS = tuple(c for c in ALERT_COLUMNS if c != "Entities")


class Exclusion(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    rule: str | None = None
    reason: str = Field(min_length=1)
    owner: str | None = None
    expires: date | None = None

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
    return any(fnmatchcase(text, glob) for text in texts for glob in globs)


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


def load_allowlist(path: str | Path) -> Allowlist:
    """Parse and validate an allowlist file; any mistake is a ConfigError naming the file, entry and field."""
    return parse_allowlist(read_toml(path, "allowlist"), str(path))


def parse_allowlist(data: dict[str, Any], source: str = "allowlist") -> Allowlist:
    unknown = set(data) - {"exclude"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
                          "entries go in [[exclude]] tables")
    raw_entries = data.get("exclude", [])
    if not isinstance(raw_entries, list):
        raise ConfigError(f"{source}: 'exclude' must be an array of tables ([[exclude]])")
    entries = [_entry(raw, f"{source}: [[exclude]] entry {i}") for i, raw in enumerate(raw_entries, 1)]
    return Allowlist(entries=entries, source=source)


def _entry(raw: Any, where: str) -> Exclusion:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    fixed = {"rule", "reason", "owner", "expires"}
    conditions: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        if key in fixed:
            continue
        if key not in MATCHABLE_COLUMNS:
            raise ConfigError(f"{where}: unknown field {key!r}; conditions name alert columns "
                              f"({', '.join(MATCHABLE_COLUMNS)})")
        globs = value if isinstance(value, list) else [value]
        if not globs or not all(isinstance(g, str) for g in globs):
            raise ConfigError(f"{where}: {key} must be a glob string or a list of them")
        conditions[key] = tuple(globs)
    if not conditions:
        raise ConfigError(f"{where}: has no conditions; an entry must name at least one alert column to match, "
                          "or it would silence the whole rule")
    try:
        return Exclusion(**{k: v for k, v in raw.items() if k in fixed}, **conditions)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "entry"
        raise ConfigError(f"{where}: {field}: {first['msg']}") from None
