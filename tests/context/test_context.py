"""Context: severity with reasons from what happened around an alert, one scenario per decided behaviour."""

from __future__ import annotations

import random
import sqlite3
from datetime import timedelta

import orjson
import pytest

from trailhound.context.assess import CONTEXT_COLUMNS, ContextPolicy, policy_from_options
from trailhound.context.collect import RelatedEvents
from trailhound.demo import write_demo
from trailhound.engine.evaluate import ScanOptions
from trailhound.engine.rules import columns_of as alert_columns
from trailhound.engine.rules import context_for, load_rules
from trailhound.errors import ConfigError
from trailhound.records.formats import parse
from trailhound.records.record import Record
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.sources.files import iter_files
from trailhound.state.store import StateStore

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
    user,
)
from ..helpers import jsonl, run_cli, write

TERRAFORM = role("provisioning", "terraform-apply-1")


def scan(*paths, state=None, policy=None, prefilter=True):
    run = Run(load_rules(), ScanOptions(collectors=(RelatedEvents(),), prefilter=prefilter), state=state,
              enrichers=(enricher(policy),))
    return scan_inputs(run, iter_files([str(p) for p in paths]))


def enricher(policy=None):
    return context_for(load_rules(), [policy] if policy else [], scratch=StateStore)


def only(result):
    (alert,) = result.alerts
    return alert.row


def test_onboarding_by_an_automation_role_is_low_with_its_reason(tmp_path):
    # Another session of the same role sets the password: the principal is the role, not the session.
    write(tmp_path / "a.json", {"Records": [
        create_user("j.doe", "2026-11-27T09:10:00Z", TERRAFORM),
        login_profile("j.doe", "2026-11-27T09:12:00Z", role("provisioning", "terraform-apply-2"), ip=OFFICE_IP)]})
    row = only(scan(tmp_path))
    assert row["Severity"] == "Low"
    assert row["Reasons"][0] == "Medium: rule 0xFF-0237 baseline"
    assert row["Reasons"][1].startswith("Low: onboarding: j.doe was created 2 min before by the same principal")
    assert row["TargetCreatedAt"] == "2026-11-27T09:10:00Z"
    assert row["TargetCreatedBy"] == "arn:aws:sts::111122223333:assumed-role/provisioning/terraform-apply-1"


def test_stolen_keys_on_an_existing_user_stay_medium_and_show_the_actors_recon(tmp_path):
    write(tmp_path / "a.json", {"Records": [
        event("CreateAccessKey", "2026-11-27T13:57:00Z", STOLEN, request={"userName": "ci-deploy"}),
        # Too busy in real trails to be a needle (see related.KEPT_EVENTS): not kept, not listed.
        event("GetCallerIdentity", "2026-11-27T13:58:00Z", STOLEN, source="sts.amazonaws.com"),
        event("ListUsers", "2026-11-27T14:00:00Z", STOLEN),
        event("GetObject", "2026-11-27T14:01:00Z", STOLEN, source="s3.amazonaws.com"),  # data plane: not kept
        login_profile("svc-reporting", "2026-11-27T14:06:00Z")]})
    row = only(scan(tmp_path))
    assert row["Severity"] == "Medium"
    assert row["Reasons"][1] == ("Medium: existing user: no creation of svc-reporting seen in this scan or the "
                                 "state store")
    assert row["TargetCreatedAt"] is None and row["TargetCreatedBy"] is None and row["ConsoleLoginsAfter"] == []
    assert [a["Event"] for a in row["ActorRecentActivity"]] == ["iam:CreateAccessKey", "iam:ListUsers"]
    assert row["ActorRecentActivity"][0]["SourceIpAddress"] == ATTACKER_IP


def test_follow_up_console_login_from_the_same_address_is_critical(tmp_path):
    write(tmp_path / "a.json", [login_profile("svc-reporting", "2026-11-27T14:06:00Z"),
                                console_login("svc-reporting", "2026-11-27T14:31:00Z", ATTACKER_IP)])
    row = only(scan(tmp_path))
    assert row["Severity"] == "Critical"
    assert row["Reasons"][-1] == ("Critical: svc-reporting signed in to the console 25 min later from the same "
                                  f"address ({ATTACKER_IP})")
    assert row["ConsoleLoginsAfter"] == [{"Time": "2026-11-27T14:31:00Z", "SourceIpAddress": ATTACKER_IP,
                                          "Outcome": "success"}]


def test_follow_up_console_login_from_another_address_is_high(tmp_path):
    write(tmp_path / "a.json", [login_profile("svc-reporting", "2026-11-27T14:06:00Z"),
                                console_login("svc-reporting", "2026-11-27T17:06:00Z", "192.0.2.9")])
    row = only(scan(tmp_path))
    assert row["Severity"] == "High"
    assert row["Reasons"][-1] == ("High: svc-reporting signed in to the console 3 h later from another address "
                                  "(192.0.2.9)")


def test_failed_sign_in_or_one_outside_the_window_or_before_does_not_raise(tmp_path):
    write(tmp_path / "a.json", [login_profile("svc-reporting", "2026-11-27T14:06:00Z"),
                                console_login("svc-reporting", "2026-11-27T14:10:00Z", ATTACKER_IP, success=False),
                                console_login("svc-reporting", "2026-11-27T13:00:00Z", ATTACKER_IP),
                                console_login("svc-reporting", "2026-11-28T03:00:00Z", ATTACKER_IP)])
    row = only(scan(tmp_path))
    assert row["Severity"] == "Medium"
    assert row["ConsoleLoginsAfter"] == [{"Time": "2026-11-27T14:10:00Z", "SourceIpAddress": ATTACKER_IP,
                                          "Outcome": "failure"}]


def test_another_users_sign_in_does_not_count(tmp_path):
    write(tmp_path / "a.json", [login_profile("svc-reporting", "2026-11-27T14:06:00Z"),
                                console_login("alice", "2026-11-27T14:31:00Z", ATTACKER_IP)])
    assert only(scan(tmp_path))["Severity"] == "Medium"


def test_new_user_signing_in_from_elsewhere_is_still_onboarding(tmp_path):
    write(tmp_path / "a.json", [create_user("j.doe", "2026-11-27T09:10:00Z", TERRAFORM),
                                login_profile("j.doe", "2026-11-27T09:12:00Z", TERRAFORM, ip=OFFICE_IP),
                                console_login("j.doe", "2026-11-27T10:00:00Z", "192.0.2.44")])
    row = only(scan(tmp_path))
    assert row["Severity"] == "Low"
    assert row["Reasons"][-1].startswith("Low: j.doe signed in to the console 48 min later from another address")
    assert row["Reasons"][-1].endswith("unchanged")


def test_new_user_signing_in_from_the_creators_address_is_critical(tmp_path):
    write(tmp_path / "a.json", [create_user("j.doe", "2026-11-27T09:10:00Z", STOLEN, ip=ATTACKER_IP),
                                login_profile("j.doe", "2026-11-27T09:12:00Z"),
                                console_login("j.doe", "2026-11-27T09:20:00Z", ATTACKER_IP)])
    assert only(scan(tmp_path))["Severity"] == "Critical"


def test_creation_by_another_principal_is_not_onboarding(tmp_path):
    write(tmp_path / "a.json", [create_user("k.lee", "2026-11-27T10:30:00Z", role("helpdesk", "erin")),
                                login_profile("k.lee", "2026-11-27T10:31:00Z")])
    row = only(scan(tmp_path))
    assert row["Severity"] == "Medium"
    assert row["Reasons"][1] == ("Medium: existing user: created 60s before by another principal "
                                 "(arn:aws:iam::111122223333:role/helpdesk)")
    assert row["TargetCreatedBy"] == "arn:aws:sts::111122223333:assumed-role/helpdesk/erin"


def test_creation_long_before_is_an_existing_user(tmp_path):
    write(tmp_path / "a.json", [create_user("j.doe", "2026-11-20T09:10:00Z", TERRAFORM),
                                login_profile("j.doe", "2026-11-27T09:12:00Z", TERRAFORM)])
    row = only(scan(tmp_path))
    assert row["Severity"] == "Medium" and row["TargetCreatedAt"] == "2026-11-20T09:10:00Z"
    assert "beyond the 60 min onboarding window" in row["Reasons"][1]


def test_creation_in_another_account_or_after_the_assignment_does_not_count(tmp_path):
    elsewhere = create_user("j.doe", "2026-11-27T09:10:00Z", TERRAFORM)
    elsewhere["recipientAccountId"] = "999988887777"
    write(tmp_path / "a.json", [elsewhere, create_user("j.doe", "2026-11-27T09:20:00Z", TERRAFORM),
                                login_profile("j.doe", "2026-11-27T09:12:00Z", TERRAFORM)])
    row = only(scan(tmp_path))
    assert row["Severity"] == "Medium" and row["TargetCreatedAt"] is None


def test_root_giving_itself_a_password_is_high_and_critical_when_root_then_signs_in_from_there(tmp_path):
    write(tmp_path / "one/a.json", [login_profile(None, "2026-11-27T14:06:00Z", ROOT)])
    row = only(scan(tmp_path / "one"))
    assert row["TargetUserName"] == "root" and row["Severity"] == "High"
    assert row["Reasons"][-1] == "High: root gave itself a console password"
    write(tmp_path / "two/a.json", [login_profile(None, "2026-11-27T14:06:00Z", ROOT),
                                    console_login("root", "2026-11-27T14:09:00Z", ATTACKER_IP)])
    assert only(scan(tmp_path / "two"))["Severity"] == "Critical"


def test_a_user_giving_itself_a_password_is_high(tmp_path):
    write(tmp_path / "a.json", [login_profile("ci-deploy", "2026-11-27T14:06:00Z")])
    row = only(scan(tmp_path))
    assert row["Severity"] == "High" and row["Reasons"][-1] == "High: ci-deploy gave itself a console password"


def test_a_failed_call_is_one_step_lower_and_the_reason_is_listed_once(tmp_path):
    write(tmp_path / "a.json", [login_profile("backup-admin", "2026-11-27T14:02:00Z", errorCode="AccessDenied")])
    row = only(scan(tmp_path))
    assert row["Severity"] == "Low" and row["Outcome"] == "failure"
    assert [r for r in row["Reasons"] if "failed" in r] == ["Low: the call failed (AccessDenied): one step lower"]


def test_related_events_are_found_whatever_the_file_order(tmp_path):
    records = [create_user("j.doe", "2026-11-27T09:10:00Z", STOLEN, ip=ATTACKER_IP),
               login_profile("j.doe", "2026-11-27T09:40:00Z"),
               console_login("j.doe", "2026-11-27T10:20:00Z", "192.0.2.7")]
    names = ["z.json", "a.json.gz", "m.jsonl"]
    rows = []
    for trial in range(3):
        random.Random(trial).shuffle(names)
        for name, rec in zip(names, records):
            write(tmp_path / f"t{trial}" / name, [rec], gz=name.endswith(".gz"))
        rows.append(only(scan(tmp_path / f"t{trial}")))
    assert {r["Severity"] for r in rows} == {"Low"}  # onboarding; the new user signs in from elsewhere
    assert all(r["TargetCreatedAt"] == "2026-11-27T09:10:00Z" and len(r["ConsoleLoginsAfter"]) == 1 for r in rows)


def test_a_creation_seen_in_an_earlier_run_counts_with_state(tmp_path):
    write(tmp_path / "run1/a.json", [create_user("j.doe", "2026-11-27T09:10:00Z", TERRAFORM)])
    write(tmp_path / "run2/a.json", [login_profile("j.doe", "2026-11-27T09:12:00Z", TERRAFORM)])
    with StateStore(tmp_path / "state.db") as state:
        assert scan(tmp_path / "run1", state=state).alerts == []
    with StateStore(tmp_path / "state.db") as state:
        row = only(scan(tmp_path / "run2", state=state))
    assert row["Severity"] == "Low" and row["TargetCreatedAt"] == "2026-11-27T09:10:00Z"
    assert only(scan(tmp_path / "run2"))["Severity"] == "Medium"  # without the state store: not seen


def test_context_and_reasons_are_stored_with_the_alert_after_the_core_columns(tmp_path):
    write(tmp_path / "logs/a.json", [login_profile("svc-reporting", "2026-11-27T14:06:00Z"),
                                     console_login("svc-reporting", "2026-11-27T14:31:00Z", ATTACKER_IP)])
    with StateStore(tmp_path / "state.db") as state:
        alert = scan(tmp_path / "logs", state=state).alerts[0]
    db = sqlite3.connect(tmp_path / "state.db")
    severity, stored = db.execute("SELECT severity, row FROM alerts").fetchone()
    db.close()
    stored = orjson.loads(stored)
    assert severity == "Critical" and stored["Reasons"] == alert.row["Reasons"]
    columns = alert_columns(load_rules(["0xFF-0237"])[0])
    assert list(stored)[:len(columns)] == list(columns)
    assert list(stored)[len(columns):] == [*CONTEXT_COLUMNS, "AlertId"]


def test_related_events_are_remembered_once_and_forgotten_by_age(tmp_path):
    old = create_user("old", "2026-10-01T00:00:00Z", TERRAFORM)
    write(tmp_path / "a.json", [old, create_user("new", "2026-11-27T09:10:00Z", TERRAFORM)])
    with StateStore(tmp_path / "state.db") as state:
        scan(tmp_path, state=state)
        scan(tmp_path, state=state)
        assert state.count("related_events") == 1  # "old" is 57 days older than the newest: past 30 days
    with StateStore(tmp_path / "keep.db") as state:
        scan(tmp_path, state=state, policy=ContextPolicy(keep_related=timedelta(days=90)))
        assert state.count("related_events") == 2


def test_onboarding_window_and_steps_are_configurable():
    policy = policy_from_options("2h", "1h", ["onboarding=Informational", "login-same-address=high",
                                              "failure_steps=2"])
    assert policy.onboarding_window == timedelta(hours=2) and policy.login_window == timedelta(hours=1)
    assert (policy.onboarding, policy.login_same_address, policy.failure_steps) == ("Informational", "High", 2)
    for bad, says in (("nonsense=High", "step must be one of"), ("login=Severe", "level must be one of"),
                      ("login", "level must be one of")):
        with pytest.raises(ConfigError, match=says):
            policy_from_options(steps=[bad])


def test_cli_options_change_the_onboarding_window_and_steps(tmp_path):
    write(tmp_path / "a.json", [create_user("j.doe", "2026-11-27T09:10:00Z", TERRAFORM),
                                login_profile("j.doe", "2026-11-27T10:40:00Z", TERRAFORM)])
    default = run_cli("scan", str(tmp_path))
    assert [a["Severity"] for a in jsonl(default.stdout)] == ["Medium"]
    wider = run_cli("scan", str(tmp_path), "--onboarding-window", "2h", "--severity", "onboarding=Informational")
    assert wider.returncode == 0, wider.stderr
    (alert,) = jsonl(wider.stdout)
    assert alert["Severity"] == "Informational" and alert["TargetCreatedBy"].endswith("terraform-apply-1")
    bad = run_cli("scan", str(tmp_path), "--severity", "login=Severe")
    assert bad.returncode == 2 and "--severity" in bad.stderr and bad.stdout == ""


def test_the_demo_story_ranks_onboarding_low_and_the_attack_critical(tmp_path):
    write_demo(tmp_path, hours=24, events_per_file=10)
    result = run_cli("scan", str(tmp_path))
    ranked = {a["TargetUserName"]: a["Severity"] for a in jsonl(result.stdout)}
    assert ranked == {"j.doe": "Low", "backup-admin": "Low", "svc-reporting": "Critical"}


def test_every_record_the_collector_keeps_holds_one_of_its_needles(tmp_path):
    # The prefilter may skip any record holding no needle: the collector must never want such a record.
    write_demo(tmp_path, hours=24, events_per_file=20)
    collector, kept = RelatedEvents(), 0
    samples = [console_login("a", "2026-11-27T10:00:00Z", OFFICE_IP), login_profile(None, "2026-11-27T10:00:00Z", ROOT),
               event("GetSessionToken", "2026-11-27T10:00:00Z", user("b"), source="STS.amazonaws.com")]
    raws = samples + [r for f in iter_files([str(tmp_path)]) for r in parse(f.read()).records]
    for raw in raws:
        if collector.keep(Record(raw)) is not None:
            kept += 1
            text = orjson.dumps(raw).lower()
            for needles in (collector.needles, *collector.also_needles):
                assert any(n in text for n in needles), raw["eventName"]
    assert kept > 3


def test_dedup_entity_follows_a_severity_the_context_changed(tmp_path):
    write(tmp_path / "a.json", [login_profile("svc-reporting", "2026-11-27T14:06:00Z"),
                                console_login("svc-reporting", "2026-11-27T14:31:00Z", ATTACKER_IP)])
    run = Run(load_rules(), ScanOptions(dedup_fields=("Severity", "TargetUserName"),
                                        collectors=(RelatedEvents(),)), enrichers=(enricher(),))
    (alert,) = scan_inputs(run, iter_files([str(tmp_path)])).alerts
    assert alert.row["DedupEntity"] == "Critical|svc-reporting"


def test_no_context_gives_the_rules_verdicts_without_ranking(tmp_path):
    write(tmp_path / "logs/a.json", {"Records": [
        create_user("j.doe", "2026-11-27T09:10:00Z", TERRAFORM),
        login_profile("j.doe", "2026-11-27T09:12:00Z", TERRAFORM),
        login_profile("svc-reporting", "2026-11-27T14:06:00Z")]})
    ranked = jsonl(run_cli("scan", str(tmp_path / "logs")).stdout)
    plain = jsonl(run_cli("scan", str(tmp_path / "logs"), "--no-context").stdout)
    assert [a["EventID"] for a in plain] == [a["EventID"] for a in ranked]
    assert [a["Severity"] for a in ranked] == ["Low", "Medium"]
    assert [a["Severity"] for a in plain] == ["Medium", "Medium"] and "Reasons" not in plain[0]


@pytest.mark.parametrize("prefilter", [True, False])
def test_an_escaped_event_source_still_reaches_the_context(tmp_path, prefilter):
    # The collector's needles are the event sources; a JSON escape of their dots must not hide a sign-in.
    data = orjson.dumps({"Records": [login_profile("svc-reporting", "2026-11-27T14:06:00Z"),
                                     console_login("svc-reporting", "2026-11-27T14:31:00Z", ATTACKER_IP)]})
    hidden = data.replace(b"signin.amazonaws.com", b"signin\\u002eamazonaws\\u002Ecom")
    assert hidden != data
    write(tmp_path / "a.json", hidden)
    assert only(scan(tmp_path, prefilter=prefilter))["Severity"] == "Critical"


def test_the_prefilter_keeps_every_related_event_the_collector_would(tmp_path):
    # Files are searched for event sources, records then held against the event names: neither step may
    # drop a record keep() wants, in any letter case or escape, nor keep one it does not want.
    from trailhound.engine.evaluate import scan_input
    from trailhound.sources.files import FileInput

    write_demo(tmp_path / "demo", hours=6, events_per_file=40)
    odd = [console_login("a", "2026-11-27T10:00:00Z", OFFICE_IP) | {"eventName": "CONSOLELOGIN"},
           create_user("b", "2026-11-27T10:01:00Z", STOLEN) | {"eventSource": "IAM.AmazonAWS.com"},
           event("GetRole", "2026-11-27T10:02:00Z", STOLEN, request={"roleName": "x"}),
           event("ListUsers", "2026-11-27T10:03:00Z", STOLEN, userAgent="caf\u00e9")]
    data = orjson.dumps({"Records": odd + [create_user("c", "2026-11-27T10:04:00Z", STOLEN)]})
    write(tmp_path / "odd.json", data.replace(b'"CreateUser","eventType"', b'"\\u0043reateUser","eventType"', 1))
    kept = {}
    for prefilter in (False, True):
        options = ScanOptions(collectors=(RelatedEvents(),), prefilter=prefilter)
        kept[prefilter] = [r for f in iter_files([str(tmp_path)])
                           for r in scan_input(FileInput(f.path), load_rules(), options).related]
    assert kept[True] == kept[False]
    names = [r["Name"] for r in kept[True]]
    assert "CONSOLELOGIN" in names and "GetRole" not in names and len(names) > 10
