"""MITRE ATT&CK names for the ids trailhound's rules carry (rules hold ids; OCSF and ASFF want names too)."""

from __future__ import annotations

TECHNIQUES = {
    "T1078": "Valid Accounts",
    "T1078.004": "Cloud Accounts",
    "T1098": "Account Manipulation",
    "T1098.001": "Additional Cloud Credentials",
}


def split_tactic(text: str) -> tuple[str, str]:
    """'TA0003 Persistence' -> ('TA0003', 'Persistence')."""
    uid, _, name = text.partition(" ")
    return uid, name.strip()


def pairs(tactics: list[str], techniques: list[str]) -> list[tuple[str | None, str]]:
    """(tactic, technique) pairs: the use cases list them row by row, so equal lengths pair in order;
    otherwise each technique stands alone."""
    if len(tactics) == len(techniques):
        return list(zip(tactics, techniques))
    return [(None, technique) for technique in techniques]
