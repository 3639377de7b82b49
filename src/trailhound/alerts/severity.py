"""Severity: an ordered enum, so ranking is comparison and stepping, never arithmetic on a tuple's indexes.

A member is its name as rows show it (a str: `Severity.MEDIUM == "Medium"`, JSON writes "Medium"), ordered
by `rank`, which is also OCSF's severity_id (1 Informational .. 5 Critical).
"""

from __future__ import annotations

from enum import Enum

from ..errors import ConfigError

# How far a failed call ranks below the same call had it succeeded: someone tried, nothing changed. The
# default of the run's one setting (`--severity failure_steps=N`), applied once, by `failed_call`.
FAILED_CALL_STEPS = 1


class Severity(str, Enum):
    INFORMATIONAL = "Informational"
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"
    CRITICAL = "Critical"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def rank(self) -> int:
        return _ORDER.index(self) + 1

    # Ordered by rank, never alphabetically as a str would be.
    def __lt__(self, other: object) -> bool:
        return self.rank < Severity.parse(other).rank if isinstance(other, (str, Severity)) else NotImplemented

    def __le__(self, other: object) -> bool:
        return self.rank <= Severity.parse(other).rank if isinstance(other, (str, Severity)) else NotImplemented

    def __gt__(self, other: object) -> bool:
        return self.rank > Severity.parse(other).rank if isinstance(other, (str, Severity)) else NotImplemented

    def __ge__(self, other: object) -> bool:
        return self.rank >= Severity.parse(other).rank if isinstance(other, (str, Severity)) else NotImplemented

    __hash__ = str.__hash__

    @classmethod
    def parse(cls, value: object, where: str = "severity") -> Severity:
        """A severity from its name in any case; a ConfigError naming `where`, the value and the choices."""
        if isinstance(value, Severity):
            return value
        found = cls.__members__.get(str(value).strip().upper())
        if found is None:
            raise ConfigError(f"{where} must be one of {', '.join(_ORDER)}, not {value!r}")
        return found

    def lower(self, steps: int = 1) -> Severity:
        return _ORDER[max(0, self.rank - 1 - steps)]

    def higher(self, steps: int = 1) -> Severity:
        return _ORDER[min(len(_ORDER) - 1, self.rank - 1 + steps)]


_ORDER = tuple(Severity)


def failed_call(severity: Severity, error_code: str, steps: int = FAILED_CALL_STEPS) -> tuple[Severity, str]:
    """A failed call's rank and the reason for it: `steps` below what the rule (and its context) gave it.
    The run applies it once to every alert of a failed call, after any context plug-in has ranked it."""
    lowered = severity.lower(steps)
    return lowered, f"the call failed ({error_code}): {'one step' if steps == 1 else f'{steps} steps'} lower"
