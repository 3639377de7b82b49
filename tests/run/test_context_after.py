"""A run without a state store collects context only once it has alerts, in a second pass focused on what
they are about; its alerts, severities, reasons and context columns are those of the one-pass run."""

from __future__ import annotations

from pathlib import Path

import orjson

import trailhound
from trailhound.context.identity import IdentityContext
from trailhound.demo import write_demo
from trailhound.run import local

from ..context_events import (
    ATTACKER_IP,
    OFFICE_IP,
    ROOT,
    STOLEN,
    console_login,
    create_user,
    event,
    login_profile,
    role,
)
from ..helpers import write

COLUMNS = ("EventID", "Severity", "Reasons", "TargetCreatedAt", "TargetCreatedBy", "ConsoleLoginsAfter",
           "ActorRecentActivity")


def _rows(result: trailhound.ScanResult) -> list[tuple]:
    return sorted(tuple(orjson.dumps(a.row.get(c)) for c in COLUMNS) for a in result.alerts)


def _stories(folder: Path) -> Path:
    """Onboarding, a takeover signed in from the attacker's address, root giving itself a password, a role's
    call, and an actor busy around its call: one file each, context spread over other files."""
    terraform = role("provisioning", "terraform-apply-1")
    files = {
        "a.json": [create_user("new-hire", "2026-11-27T09:00:00Z", terraform),
                   login_profile("new-hire", "2026-11-27T09:01:00Z", terraform, ip=OFFICE_IP)],
        "b.json": [login_profile("bob", "2026-11-27T10:00:00Z"),
                   event("ListUsers", "2026-11-27T09:59:00Z", STOLEN)],
        "c.json": [console_login("bob", "2026-11-27T10:20:00Z", ATTACKER_IP),
                   login_profile(None, "2026-11-27T11:00:00Z", ROOT)],
        "d.json": [event("CreateAccessKey", "2026-11-27T10:05:00Z", STOLEN, request={"userName": "bob"}),
                   console_login("new-hire", "2026-11-27T09:30:00Z", OFFICE_IP)],
    }
    for name, records in files.items():
        write(folder / name, {"Records": records})
    return folder


def _same_as_one_pass(tmp_path: Path, folder: Path, **settings) -> trailhound.ScanResult:
    deferred = trailhound.scan([str(folder)], **settings)
    one_pass = trailhound.scan([str(folder)], state=str(tmp_path / "state.db"), **settings)  # collects as it reads
    assert _rows(deferred) == _rows(one_pass)
    return deferred


def test_context_after_the_rules_ranks_alerts_as_one_pass_does(tmp_path):
    result = _same_as_one_pass(tmp_path, _stories(tmp_path / "in"))
    by_target = {a.row["TargetUserName"]: a.row for a in result.alerts}
    assert set(by_target) == {"new-hire", "bob", "root"}
    # bob's sign-in and the key made for him are in other files than the alert: the second pass found them
    assert by_target["bob"]["Severity"] == "Critical" and by_target["bob"]["ConsoleLoginsAfter"]
    assert any("CreateAccessKey" in c["Event"] for c in by_target["bob"]["ActorRecentActivity"])
    assert by_target["new-hire"]["TargetCreatedAt"] == "2026-11-27T09:00:00Z"


def test_the_demo_day_ranks_alike_with_workers(tmp_path):
    write_demo(tmp_path / "demo", hours=24, events_per_file=30)
    assert _same_as_one_pass(tmp_path, tmp_path / "demo", workers=2).alerts


def test_no_alert_no_second_pass(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    write(folder / "a.json", {"Records": [create_user("x", "2026-11-27T09:00:00Z", STOLEN)]})
    passes: list[int] = []
    real = local.scan_all
    monkeypatch.setattr(local, "scan_all", lambda *a, **k: passes.append(1) or real(*a, **k))
    assert trailhound.scan([str(folder)]).alerts == []
    assert passes == [1]
    _stories(folder)
    assert trailhound.scan([str(folder)]).alerts
    assert len(passes) == 3


def test_a_name_the_search_could_miss_gives_up_the_focus(tmp_path):
    folder = tmp_path / "in"
    write(folder / "a.json", {"Records": [create_user("jos\u00e9", "2026-11-27T09:00:00Z", STOLEN),
                                          login_profile("jos\u00e9", "2026-11-27T09:05:00Z")]})
    result = _same_as_one_pass(tmp_path, folder)
    assert IdentityContext().focus(result.alerts) is None
    assert result.alerts[0].row["TargetCreatedAt"] == "2026-11-27T09:00:00Z"
