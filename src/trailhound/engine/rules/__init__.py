"""The rule registry: every rule trailhound ships, by id."""

from __future__ import annotations

from .base import Rule
from .iam_login_profile import PasswordAssignedToExistingIAMUser

ALL_RULES: tuple[type[Rule], ...] = (PasswordAssignedToExistingIAMUser,)


def load_rules(ids: list[str] | None = None) -> list[Rule]:
    """Instances of the rules named (case-insensitive ids), or of every rule when none are named."""
    by_id = {cls.id.lower(): cls for cls in ALL_RULES}
    if not ids:
        return [cls() for cls in ALL_RULES]
    unknown = [i for i in ids if i.lower() not in by_id]
    if unknown:
        raise KeyError(f"unknown rule id(s): {', '.join(unknown)} (known: {', '.join(c.id for c in ALL_RULES)})")
    return [by_id[i.lower()]() for i in ids]


def get_rule(rule_id: str) -> Rule:
    return load_rules([rule_id])[0]
