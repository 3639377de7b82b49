"""The rule registry: every rule trailhound ships, by id, each validated when it is registered.

Registration checks what a rule claims about itself, the way pypanther's registry does, so a mistake in a
rule fails every run and test at once instead of silently missing events: a unique id (case-insensitive),
examples whose rows have exactly the declared columns, examples expected to match whose records hold a
needle of every needle list (else the prefilter would skip them), and examples giving the verdicts they
claim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from ...alerts.alert import GENERIC_COLUMNS, LEADING_COLUMNS
from ...alerts.severity import Severity
from ...context.enrich import ContextEnricher
from ...context.plugin import ContextPlugin, RelatedStore
from ...errors import ConfigError
from ...records.record import Record
from .base import Rule
from .iam_create_access_key import AccessKeyCreatedForAnotherUser
from .iam_login_profile import PasswordAssignedToExistingIAMUser
from .iam_update_login_profile import ConsolePasswordChangedForAnotherUser


class RuleError(ConfigError):
    """A rule that does not hold what it declares; str() names the rule and the example or field."""


class UnknownRule(ConfigError):
    """A rule id no registered rule has."""

    def __init__(self, ids: Sequence[str], known: Sequence[str]) -> None:
        self.ids, self.known = list(ids), list(known)
        super().__init__(f"unknown rule id(s): {', '.join(self.ids)} (known: {', '.join(self.known)})")


def columns_of(rule: Rule | type[Rule]) -> tuple[str, ...]:
    """Every column an alert of this rule has: the time, the rule's own, then the generic ones."""
    return LEADING_COLUMNS + tuple(rule.columns) + GENERIC_COLUMNS


def validate(cls: type[Rule], registered: Iterable[type[Rule]] = ()) -> None:
    """Raise a RuleError if `cls` does not hold what it declares (see the module's docstring)."""
    taken = {other.id.lower(): other for other in registered}
    if not getattr(cls, "id", "") or not getattr(cls, "name", ""):
        raise RuleError(f"rule {cls.__name__}: declares no id or name")
    if cls.id.lower() in taken:
        raise RuleError(f"rule {cls.id} ({cls.__name__}): id already taken by {taken[cls.id.lower()].__name__}")
    if not cls.columns or len(set(cls.columns)) != len(cls.columns):
        raise RuleError(f"rule {cls.id}: columns must be declared, each once")
    clash = set(cls.columns) & set(LEADING_COLUMNS + GENERIC_COLUMNS)
    if clash:
        raise RuleError(f"rule {cls.id}: column(s) {', '.join(sorted(clash))} are generic fields every alert has")
    rule = cls()
    lists = [rule.needles, *rule.also_needles]
    for example in cls.examples:
        where = f"rule {cls.id}, example {example.name!r}"
        record = Record(example.record)
        if rule.matches(record) != example.expect:
            raise RuleError(f"{where}: expected {'a match' if example.expect else 'no match'}, got the opposite")
        if not example.expect:
            continue
        text = orjson.dumps(example.record).lower()
        missing = [b"|".join(needles).decode() for needles in lists if not any(n in text for n in needles)]
        if missing:
            raise RuleError(f"{where}: matches but holds none of the needles {', '.join(missing)}; the prefilter "
                            "would skip it")
        row = rule.row(record)
        if tuple(row) != tuple(cls.columns):
            raise RuleError(f"{where}: row has columns {', '.join(row)}, the rule declares "
                            f"{', '.join(cls.columns)}")
        unknown = [c for c in example.expect_row if c not in row]
        if unknown:
            raise RuleError(f"{where}: expect_row names {', '.join(unknown)}, not a column of the rule")


def registry(*classes: type[Rule]) -> tuple[type[Rule], ...]:
    """The rules, each validated against those before it."""
    done: list[type[Rule]] = []
    for cls in classes:
        validate(cls, done)
        done.append(cls)
    return tuple(done)


# One line per rule.
ALL_RULES: tuple[type[Rule], ...] = registry(
    PasswordAssignedToExistingIAMUser,
    ConsolePasswordChangedForAnotherUser,
    AccessKeyCreatedForAnotherUser,
)


def load_rules(ids: Sequence[str] | None = None) -> list[Rule]:
    """Instances of the rules named (case-insensitive ids; `all`: every registered rule, those off by default
    too), or of every enabled rule when none are named."""
    if not ids:
        return [cls() for cls in ALL_RULES if cls.enabled]
    if any(i.lower() == "all" for i in ids):
        return [cls() for cls in ALL_RULES]
    by_id = {cls.id.lower(): cls for cls in ALL_RULES}
    unknown = [i for i in ids if i.lower() not in by_id]
    if unknown:
        raise UnknownRule(unknown, [c.id for c in ALL_RULES])
    return [by_id[i.lower()]() for i in ids]


def get_rule(rule_id: str) -> Rule:
    """The rule with this id; UnknownRule (a ConfigError) names the id and the known ones."""
    return load_rules([rule_id])[0]


def find_rule(rule_id: str) -> Rule | None:
    """The rule with this id, or None: for alerts stored by a rule this build no longer has."""
    try:
        return get_rule(rule_id)
    except UnknownRule:
        return None


def event_names(rules: Sequence[Rule]) -> tuple[str, ...]:
    """The events API sources (the event history) are asked for: every name the rules match, or none (every
    event) when some rule cannot name its events."""
    if not all(rule.event_names for rule in rules):
        return ()
    return tuple(sorted({name for rule in rules for name in rule.event_names}))


def dedup_fields_for(rules: Sequence[Rule], fields: Sequence[str], where: str = "--dedup-fields"
                     ) -> tuple[str, ...]:
    """`fields` when each is a column of every rule run (DedupEntity, derived from them, is not one); a
    ConfigError naming the rule and its columns otherwise."""
    chosen = tuple(f.strip() for f in fields if f.strip())
    if not chosen:
        raise ConfigError(f"{where}: nothing given (name alert columns, e.g. EventID)")
    for rule in rules:
        allowed = [c for c in columns_of(rule) if c != "DedupEntity"]
        unknown = [f for f in chosen if f not in allowed]
        if unknown:
            raise ConfigError(f"{where}: {', '.join(unknown)} is not a column of rule {rule.id} "
                              f"(choose from {', '.join(allowed)})")
    return chosen


def context_for(rules: Sequence[Rule], settings: Sequence[Any] = (),
                scratch: Callable[[Path], RelatedStore] | None = None) -> ContextEnricher | None:
    """The enricher for the plug-ins these rules declare, or None when none does (nothing is collected).

    `settings` are plug-in settings objects (e.g. the identity plug-in's ContextPolicy); each plug-in takes
    the one of its `settings_type`, else its defaults. `scratch` opens a store for a run without one."""
    plugins: dict[type[ContextPlugin], ContextPlugin] = {}
    by_rule: dict[str, tuple[ContextPlugin, Severity]] = {}
    for rule in rules:
        if rule.context is None:
            continue
        if rule.context not in plugins:
            own = next((s for s in settings if isinstance(s, rule.context.settings_type)), None)
            plugins[rule.context] = rule.context(own)
        by_rule[rule.id] = (plugins[rule.context], rule.severity)
    return ContextEnricher(by_rule, scratch) if by_rule else None
