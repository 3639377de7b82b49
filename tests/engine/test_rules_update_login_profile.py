"""TH-0001: console password changed for another IAM user; one test per decided behaviour."""

from __future__ import annotations

import orjson
import pytest

from trailhound.engine.rules import get_rule, load_rules
from trailhound.engine.rules.base import make_alert
from trailhound.records.record import Record

from ..helpers import CORPUS

RULE = get_rule("TH-0001")
SAMPLES = CORPUS / "login-profile-samples"


def sample(name: str) -> dict:
    data = orjson.loads((SAMPLES / name).read_bytes())
    return data["Records"][0] if isinstance(data, dict) and "Records" in data else data


@pytest.mark.parametrize("example", RULE.examples, ids=lambda e: e.name)
def test_examples_give_their_verdicts(example):
    assert RULE.matches(Record(example.record)) is example.expect


@pytest.mark.parametrize("name, expect", [
    ("panther_update_login_profile_other_user.json", True),
    ("panther_update_login_profile_other_user_reset_required.json", False),
    ("splunk_update_login_profile_awscli2.json", True),
    ("stratus_update_login_profile_no_reset_flag.json", True),
])
def test_real_records(name, expect):
    if not (SAMPLES / name).exists():
        pytest.skip("shared corpus not present")
    assert RULE.matches(Record(sample(name))) is expect


def test_absent_reset_flag_is_not_a_forced_reset():
    if not (SAMPLES / "stratus_update_login_profile_no_reset_flag.json").exists():
        pytest.skip("shared corpus not present")
    alert = make_alert(RULE, Record(sample("stratus_update_login_profile_no_reset_flag.json")))
    assert alert.row["PasswordResetRequired"] == "" and alert.row["Severity"] == "Medium"
    assert alert.resource["Name"] == "stratus-red-team-update-login-profile-user"


def test_an_arn_ending_in_the_target_name_is_not_self_service():
    # Panther's "ChangeOwnPassword" test judges self by an ARN suffix: assumed-role/IAM/alice -> alice.
    if not (SAMPLES / "panther_update_login_profile_self.json").exists():
        pytest.skip("shared corpus not present")
    assert RULE.matches(Record(sample("panther_update_login_profile_self.json")))


def test_title_resource_and_respond_action():
    example = next(e for e in RULE.examples if e.name == "flag false")
    alert = make_alert(RULE, Record(example.record))
    assert alert.title == ("arn:aws:iam::111122223333:user/mallory changed the console password of alice "
                           "without a forced reset")
    assert alert.resource["Type"] == "AwsIamUser" and alert.resource["Arn"].endswith(":user/alice")
    assert RULE.respond_actions == ("disable-console-access",)


def test_off_by_default_and_run_when_named():
    assert "TH-0001" not in [r.id for r in load_rules()]
    assert [r.id for r in load_rules(["th-0001"])] == ["TH-0001"]
