"""--format ocsf: one OCSF 1.5.0 Detection Finding per alert, checked against the OCSF schema (the schema
packaged by ocsf-json-schema, validated by jsonschema), never by hand alone."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

from trailhound.alerts.ocsf import OCSF_VERSION, to_ocsf
from trailhound.engine.rules import get_rule
from trailhound.engine.rules.base import make_alert
from trailhound.records.record import Record

from ..helpers import MISSING, jsonl, record, run_cli, write


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schemas = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=OCSF_VERSION))
    schema = schemas.get_class_schema(schemas.lookup_class_name_from_uid(2004), profiles=["cloud"])
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _errors(validator: Draft202012Validator, finding: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(finding)]


VARIANTS = {
    "iam user, success": record(),
    "failed call": record(errorCode="AccessDenied", errorMessage="no"),
    "root gives itself a password": record(user=MISSING, userIdentity={
        "type": "Root", "accountId": "111122223333", "arn": "arn:aws:iam::111122223333:root"}),
    "service source, no ip": record(sourceIPAddress="AWS Internal"),
    "assumed role, ipv6, china partition": record(sourceIPAddress="2001:db8::7", userIdentity={
        "type": "AssumedRole", "accountId": "111122223333",
        "arn": "arn:aws-cn:sts::111122223333:assumed-role/ops/alice"}),
    "hostile values": record(user="x\u202e\x1b[31m</script>", userAgent="\u2028evil"),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_every_alert_shape_is_a_valid_ocsf_detection_finding(validator, name):
    finding = to_ocsf(make_alert(get_rule("0xFF-0237"), Record(VARIANTS[name], "t")))
    assert _errors(validator, finding) == []
    assert (finding["class_uid"], finding["category_uid"], finding["type_uid"]) == (2004, 2, 200401)


def test_the_validator_catches_a_broken_finding(validator):
    finding = to_ocsf(make_alert(get_rule("0xFF-0237"), Record(record(), "t")))
    del finding["finding_info"]
    finding["severity_id"] = 42
    finding["surprise"] = True
    problems = " ".join(_errors(validator, finding))
    assert "finding_info" in problems and "42" in problems and "surprise" in problems


def test_the_finding_carries_what_an_analyst_needs():
    alert = make_alert(get_rule("0xFF-0237"), Record(record(), "t"))
    finding = to_ocsf(alert)
    info = finding["finding_info"]
    assert info["uid"] == alert.id and info["title"] == "Password Assigned to Existing AWS IAM User"
    assert [(a["tactic"]["uid"], a["sub_technique"]["uid"]) for a in info["attacks"]] == [
        ("TA0001", "T1078.004"), ("TA0003", "T1098.001")]
    assert info["attacks"][1]["sub_technique"]["name"] == "Additional Cloud Credentials"
    evidence = finding["evidences"][0]
    assert evidence["actor"]["user"]["uid"] == "arn:aws:iam::111122223333:user/ci-deploy"
    assert evidence["actor"]["user"]["credential_uid"] == "AKIAEXAMPLE"
    assert evidence["user"]["name"] == "alice" and evidence["src_endpoint"] == {"ip": "203.0.113.66"}
    assert evidence["data"] == alert.raw
    assert finding["cloud"] == {"provider": "AWS", "region": "us-east-1",
                                "account": {"uid": "111122223333", "type_id": 10, "type": "AWS Account"}}
    assert finding["resources"][0]["uid"] == "arn:aws:iam::111122223333:user/alice"
    assert (finding["severity_id"], finding["status_id"]) == (3, 1)
    assert finding["time"] == 1795788360000  # 2026-11-27T14:06:00Z
    assert finding["metadata"]["version"] == "1.5.0" and finding["metadata"]["product"]["name"] == "trailhound"


def test_scan_format_ocsf_writes_one_valid_finding_per_alert(tmp_path, validator):
    write(tmp_path / "trail.json", {"Records": [record(), record(eventID="e-2", user="bob")]})
    result = run_cli("scan", str(tmp_path / "trail.json"), "--format", "ocsf")
    assert result.returncode == 0, result.stderr
    findings = jsonl(result.stdout)
    assert [f["evidences"][0]["user"]["name"] for f in findings] == ["alice", "bob"]
    assert all(_errors(validator, f) == [] for f in findings)
