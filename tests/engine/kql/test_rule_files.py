"""The spec's query and the shared public rules, loaded from their files as published and run."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from trailhound.demo import story
from trailhound.engine.kql.load import load_rule_file, load_rule_files
from trailhound.engine.kql.rule import RunView, kql_rule
from trailhound.engine.rules.iam_login_profile import PasswordAssignedToExistingIAMUser
from trailhound.records.record import Record

SHARED = Path(__file__).resolve().parents[3] / "shared"
if not SHARED.exists():
    SHARED = Path("/work/shared")
SPEC = SHARED / "spec" / "0xFF-0237.md"
RULES = SHARED / "kql" / "rules"
pytestmark = pytest.mark.skipif(not SPEC.exists(), reason="../shared is absent")


def _records(examples: bool = True) -> list[Record]:
    raws = story(random.Random(7))
    for example in PasswordAssignedToExistingIAMUser.examples if examples else ():
        raws.append(example.record)
    return [Record(r, f"generated-{i}.json") for i, r in enumerate(raws)]  # ingestion time = TimeGenerated


def _kept(rule, records):  # type: ignore[no-untyped-def]
    return [row for row in (rule.keep(r) for r in records) if row is not None]


def test_spec_loads_with_its_use_case() -> None:
    rule = kql_rule(load_rule_file(SPEC))
    assert rule.id == "0xFF-0237" and rule.name == "Password Assigned to Existing AWS IAM User"
    assert rule.tactics == ["TA0001 Initial Access", "TA0003 Persistence"]
    assert rule.techniques == ["T1078.004", "T1098.001"]
    assert rule.needles == [b"createloginprofile"]
    assert rule.also_needles == [[b"iam.amazonaws.com"], [b"awsapicall"]]
    assert rule.columns[:7] == ("TargetUserName", "UserIdentityUserName", "UserIdentityType", "UserIdentityArn",
                                "AWSRegion", "SourceIpAddress", "UserAgent")


def test_spec_raises_each_event_once_across_overlapping_windows() -> None:
    rule = kql_rule(load_rule_file(SPEC))
    alerts = rule.conclude(_kept(rule, _records(examples=False)), RunView())
    ids = [a.row["EventID"] for a in alerts]
    assert ids and len(ids) == len(set(ids))  # windows overlap (1h every 2h); the leftanti join keeps one


def test_spec_dedup_join_drops_events_alerted_by_an_earlier_run(tmp_path: Path) -> None:
    """Second run over the same files with the same state: the query's own leftanti join on SecurityAlert
    (trailhound's alert history) removes every row, so nothing even reaches the state store's dedup."""
    import subprocess
    import sys

    demo = tmp_path / "demo"
    subprocess.run([sys.executable, "-m", "trailhound.demo", str(demo)], check=True, capture_output=True)
    command = [sys.executable, "-m", "trailhound", "scan", str(demo), "--rules", str(SPEC), "--state",
               str(tmp_path / "state.db"), "--format", "jsonl"]
    first = subprocess.run(command, capture_output=True, text=True)
    second = subprocess.run(command, capture_output=True, text=True)
    assert first.stdout.count("\n") == 3 and "replaces the built-in rule 0xFF-0237" in first.stderr
    assert second.stdout == "" and "0 match(es)" in second.stderr, second.stderr


def test_every_shared_rule_file_loads_or_names_its_first_unsupported_construct(capsys) -> None:  # type: ignore[no-untyped-def]
    if not RULES.exists():
        pytest.skip("../shared/kql/rules is absent")
    specs, skipped = load_rule_files([RULES])
    ran, failed = [], [s.reason for s in skipped]
    records = _records()
    for spec in specs:
        try:
            rule = kql_rule(spec)
        except Exception as exc:  # noqa: BLE001 - recorded and reported below
            failed.append(str(exc))
            continue
        rule.conclude(_kept(rule, records), RunView(scheduled=False))  # runs on generated rows, no error
        ran.append(spec.path)
    total = len(ran) + len(failed)
    with capsys.disabled():
        print(f"\nshared KQL rules: {len(ran)} of {total} load and run")
        for reason in failed:
            print(f"  not run: {reason}")
    assert total == 76
    assert len(ran) >= 69
    for reason in failed:  # each names file:line:column and the construct
        assert RULES.as_posix() in reason and reason.count(":") >= 3
