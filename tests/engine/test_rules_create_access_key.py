"""TH-0002: access key created for another IAM user; one test per decided behaviour, respond against moto."""

from __future__ import annotations

import boto3
import pytest

from trailhound.engine.rules import get_rule
from trailhound.engine.rules.base import make_alert
from trailhound.records.record import Record
from trailhound.respond.actions import RefusedError, plan_deactivate_access_key, plan_disable_console_access
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.sources.files import iter_files

from ..helpers import jsonl, run_cli, write

RULE = get_rule("TH-0002")
MOTO_ACCOUNT = "123456789012"


def example(name: str) -> dict:
    return next(e.record for e in RULE.examples if e.name == name)


@pytest.mark.parametrize("case", RULE.examples, ids=lambda e: e.name)
def test_examples_give_their_verdicts(case):
    assert RULE.matches(Record(case.record)) is case.expect


def test_an_arn_ending_in_the_target_name_is_not_self_service():
    assert RULE.matches(Record(example("a role session named alice is not IAM user alice")))


def test_the_resource_is_the_key_and_the_title_names_it():
    alert = make_alert(RULE, Record(example("key for another user")))
    assert alert.resource == {"Type": "AwsIamAccessKey", "Name": "AKIAEXAMPLEKEY1", "UserName": "alice",
                              "AccountId": "111122223333"}
    assert alert.title == "arn:aws:iam::111122223333:user/mallory created access key AKIAEXAMPLEKEY1 for alice"
    assert alert.entity("target")["Name"] == "alice" and alert.entity("actor")["Name"] == "mallory"


def test_a_failed_call_concerns_the_user_and_has_no_key_to_deactivate(tmp_path):
    failed = {**example("key for another user"), "errorCode": "AccessDenied", "responseElements": None}
    alert = make_alert(RULE, Record(failed))
    assert alert.resource["Type"] == "AwsIamUser"
    write(tmp_path / "a.json", [failed])
    (ranked,) = scan_inputs(Run([RULE]), iter_files([str(tmp_path)])).alerts
    assert ranked.row["Severity"] == "Low"  # the run ranks a failed call one step below the rule's Medium
    with pytest.raises(RefusedError, match="names no access key"):
        plan_deactivate_access_key(alert)


def test_console_access_action_does_not_apply_to_this_rule():
    alert = make_alert(RULE, Record(example("key for another user")))
    with pytest.raises(RefusedError, match="--disable-console-access does not apply"):
        plan_disable_console_access(alert)


def test_respond_deactivates_the_key_after_a_dry_run(aws, tmp_path):
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    raw = {**example("key for another user"), "recipientAccountId": MOTO_ACCOUNT,
           "responseElements": {"accessKey": {"userName": "alice", "accessKeyId": key, "status": "Active"}}}
    logs, state = write(tmp_path / "trail.json", {"Records": [raw]}), str(tmp_path / "s.db")
    scan = run_cli("scan", str(logs), "--state", state, "--rule", "TH-0002")
    assert scan.returncode == 0, scan.stderr
    alert_id = jsonl(scan.stdout)[0]["AlertId"]
    dry = run_cli("respond", alert_id, "--state", state, "--deactivate-access-key")
    assert dry.returncode == 0, dry.stderr
    assert f"would call: iam:UpdateAccessKey UserName=alice AccessKeyId={key} Status=Inactive" in dry.stdout
    assert iam.list_access_keys(UserName="alice")["AccessKeyMetadata"][0]["Status"] == "Active"
    done = run_cli("respond", alert_id, "--state", state, "--deactivate-access-key", "--yes")
    assert done.returncode == 0, done.stderr
    assert f"deactivated access key {key} of alice" in done.stdout
    assert iam.list_access_keys(UserName="alice")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    assert "respond:deactivate-access-key" in run_cli("alerts", "show", alert_id, "--state", state).stdout
