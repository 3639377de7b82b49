"""SNS, Security Hub and respond against moto's real server on loopback (the `aws` fixture)."""

from __future__ import annotations

import boto3
import orjson

from trailhound.engine.rules import get_rule
from trailhound.engine.rules.base import make_alert
from trailhound.records.record import Record
from trailhound.sinks import RetryPolicy
from trailhound.sinks.securityhub import SecurityHubSink

from ..helpers import jsonl, record, run_cli, write

MOTO_ACCOUNT = "123456789012"  # the account moto's default credentials belong to
FAST = RetryPolicy(retries=1, backoff=0.01, timeout=5)


def _trail(tmp_path, account=MOTO_ACCOUNT, users=("alice",)):
    records = [record(eventID=f"e-{u}", user=u, recipientAccountId=account,
                      userIdentity={"type": "IAMUser", "userName": "ci-deploy", "accountId": account,
                                    "arn": f"arn:aws:iam::{account}:user/ci-deploy"}) for u in users]
    return write(tmp_path / "trail.json", {"Records": records})


def test_sns_sink_publishes_each_alert_to_the_topic(aws, tmp_path):
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="security-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    result = run_cli("scan", str(_trail(tmp_path, users=("alice", "bob"))), "--sink", f"sns:{topic}")
    assert result.returncode == 0, result.stderr
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelopes = [orjson.loads(m["Body"]) for m in messages]
    assert sorted(orjson.loads(e["Message"])["TargetUserName"] for e in envelopes) == ["alice", "bob"]
    assert all(e["Subject"].startswith("trailhound Medium: Password Assigned") for e in envelopes)
    assert envelopes[0]["MessageAttributes"]["rule_id"]["Value"] == "0xFF-0237"


def test_sns_sink_to_a_missing_topic_stays_pending(aws, tmp_path):
    result = run_cli("scan", str(_trail(tmp_path)), "--state", str(tmp_path / "s.db"),
                     "--sink", f"sns:arn:aws:sns:us-east-1:{MOTO_ACCOUNT}:nope")
    assert result.returncode == 4 and "NotFound" in result.stderr and "1 delivery(ies) pending" in result.stderr


def test_securityhub_sink_imports_asff_findings(aws, tmp_path):
    boto3.client("securityhub").enable_security_hub()
    result = run_cli("scan", str(_trail(tmp_path, users=("alice", "bob"))), "--sink", "securityhub")
    assert result.returncode == 0, result.stderr
    findings = boto3.client("securityhub").get_findings()["Findings"]
    assert sorted(f["Resources"][0]["Details"]["AwsIamUser"]["UserName"] for f in findings) == ["alice", "bob"]
    finding = findings[0]
    assert finding["ProductArn"] == f"arn:aws:securityhub:us-east-1:{MOTO_ACCOUNT}:product/{MOTO_ACCOUNT}/default"
    assert finding["Severity"]["Label"] == "MEDIUM" and finding["GeneratorId"] == "trailhound/0xFF-0237"
    assert "TTPs/Persistence/T1098.001 Additional Cloud Credentials" in finding["Types"]


def test_securityhub_failed_findings_stay_pending_and_the_rest_arrive(aws):
    class RefusedOne(SecurityHubSink):
        def finding(self, alert):  # the service refuses a finding without resources
            finding = super().finding(alert)
            if alert.row["TargetUserName"] == "bob":
                finding["Resources"] = []
            return finding

    alerts = [make_alert(get_rule("0xFF-0237"), Record(record(eventID=f"e-{u}", user=u), "t"))
              for u in ("alice", "bob")]
    results = RefusedOne("", FAST).send(alerts)
    assert results[alerts[0].id] is None
    assert "finding refused: InvalidInput" in results[alerts[1].id]
    names = [f["Resources"][0]["Details"]["AwsIamUser"]["UserName"]
             for f in boto3.client("securityhub").get_findings()["Findings"]]
    assert names == ["alice"]


def _raise_alert(tmp_path, account=MOTO_ACCOUNT):
    state = str(tmp_path / "s.db")
    scan = run_cli("scan", str(_trail(tmp_path, account=account)), "--state", state)
    return state, jsonl(scan.stdout)[0]["AlertId"]


def test_respond_dry_run_prints_the_call_and_changes_nothing(aws, tmp_path):
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Sup3r-secret!", PasswordResetRequired=False)
    state, alert_id = _raise_alert(tmp_path)
    result = run_cli("respond", alert_id, "--state", state, "--disable-console-access")
    assert result.returncode == 0, result.stderr
    assert f"would call: iam:DeleteLoginProfile UserName=alice in account {MOTO_ACCOUNT}" in result.stdout
    assert iam.get_login_profile(UserName="alice")["LoginProfile"]["UserName"] == "alice"


def test_respond_yes_removes_the_login_profile_and_records_it(aws, tmp_path):
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Sup3r-secret!", PasswordResetRequired=False)
    state, alert_id = _raise_alert(tmp_path)
    result = run_cli("respond", alert_id, "--state", state, "--disable-console-access", "--yes",
                     "--note", "confirmed with alice: not her")
    assert result.returncode == 0, result.stderr
    assert "deleted the login profile of alice" in result.stdout
    try:
        iam.get_login_profile(UserName="alice")
        raise AssertionError("the login profile is still there")
    except iam.exceptions.NoSuchEntityException:
        pass
    shown = run_cli("alerts", "show", alert_id, "--state", state).stdout
    assert "respond:disable-console-access" in shown and "confirmed with alice: not her" in shown
    assert f"arn:aws:sts::{MOTO_ACCOUNT}:" in shown or f"arn:aws:iam::{MOTO_ACCOUNT}:" in shown
    again = run_cli("respond", alert_id, "--state", state, "--disable-console-access", "--yes")
    assert again.returncode == 0 and "already removed" in again.stdout


def test_respond_refuses_an_alert_from_another_account(aws, tmp_path):
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Sup3r-secret!", PasswordResetRequired=False)
    state, alert_id = _raise_alert(tmp_path, account="111122223333")
    for extra in ((), ("--yes",)):
        result = run_cli("respond", alert_id, "--state", state, "--disable-console-access", *extra)
        assert result.returncode == 2
        assert f"refused: the alert's account 111122223333 is not the credentials' account {MOTO_ACCOUNT}" \
            in result.stderr
    assert iam.get_login_profile(UserName="alice")["LoginProfile"]["UserName"] == "alice"


def _raise_alert_on(tmp_path, user):
    state = str(tmp_path / "s.db")
    scan = run_cli("scan", str(_trail(tmp_path, users=(user,))), "--state", state)
    return state, jsonl(scan.stdout)[0]["AlertId"]


def test_respond_on_a_user_that_does_not_exist_is_refused_not_already_removed(aws, tmp_path):
    state, alert_id = _raise_alert_on(tmp_path, "ghost")
    for extra in ((), ("--yes",)):
        result = run_cli("respond", alert_id, "--state", state, "--disable-console-access", *extra)
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"there is no IAM user ghost in account {MOTO_ACCOUNT}" in result.stderr
        assert "already removed" not in result.stdout + result.stderr


def test_a_refused_respond_never_says_it_will_call(aws, tmp_path):
    state, alert_id = _raise_alert(tmp_path, account="111122223333")
    result = run_cli("respond", alert_id, "--state", state, "--disable-console-access", "--yes")
    assert result.returncode == 2 and "refused" in result.stderr
    assert "will call" not in result.stdout and "would call" not in result.stdout


def test_respond_dry_run_checks_that_the_login_profile_exists(aws, tmp_path):
    boto3.client("iam").create_user(UserName="alice")  # a user, without a console password
    state, alert_id = _raise_alert(tmp_path)
    result = run_cli("respond", alert_id, "--state", state, "--disable-console-access")
    assert result.returncode == 0, result.stderr
    assert "alice has no login profile" in result.stdout and "nothing to do" in result.stdout
    assert "would call" not in result.stdout
