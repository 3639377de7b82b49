"""The environment-specific filter: documented, glob-matched, expiring, counted, never silent."""

from __future__ import annotations

from datetime import date

import pytest

from trailhound.engine.allowlist import load_allowlist
from trailhound.engine.rules import load_rules
from trailhound.errors import ConfigError
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.sources.files import iter_files
from trailhound.state.store import StateStore

from ..helpers import record, write

TERRAFORM = {"type": "AssumedRole", "accountId": "111122223333",
             "arn": "arn:aws:sts::111122223333:assumed-role/terraform-ci/run-42"}


def allowlist(tmp_path, text):
    path = tmp_path / "allow.toml"
    path.write_text(text)
    return load_allowlist(path)


def run(tmp_path, allow, state=None, today=None):
    write(tmp_path / "logs/a.json", [record(eventID="e-1", userIdentity=TERRAFORM), record(eventID="e-2")])
    return scan_inputs(Run(load_rules(), allowlist=allow, state=state, today=today), iter_files([str(tmp_path / "logs")]))


ENTRY = '''
[[exclude]]
rule = "0xFF-0237"
reason = "Terraform CI onboards staff"
owner = "platform@example.com"
UserIdentityArn = "arn:aws:sts::*:assumed-role/terraform-ci/*"
'''


def test_matching_entry_excludes_and_counts_by_reason(tmp_path):
    result = run(tmp_path, allowlist(tmp_path, ENTRY))
    assert [a.row["EventID"] for a in result.alerts] == ["e-2"]
    assert result.summary.excluded == 1
    assert result.summary.excluded_by == {"Terraform CI onboards staff": 1}
    assert result.excluded[0][0].row["EventID"] == "e-1"


def test_excluded_hits_are_kept_in_the_state_store(tmp_path):
    with StateStore(tmp_path / "s.db") as state:
        run(tmp_path, allowlist(tmp_path, ENTRY), state)
        row = state.db.execute("SELECT reason, owner FROM exclusions").fetchall()
        assert row == [("Terraform CI onboards staff", "platform@example.com")]


def test_conditions_are_and_ed_and_lists_are_any_of(tmp_path):
    both = ENTRY + 'AWSRegion = ["eu-west-1", "eu-central-1"]\n'
    assert run(tmp_path, allowlist(tmp_path, both)).summary.excluded == 0
    either = ENTRY + 'AWSRegion = ["eu-west-1", "us-*"]\n'
    assert run(tmp_path, allowlist(tmp_path, either)).summary.excluded == 1


def test_entry_for_another_rule_does_not_apply(tmp_path):
    other = ENTRY.replace('rule = "0xFF-0237"', 'rule = "TH-0001"')
    assert run(tmp_path, allowlist(tmp_path, other)).summary.excluded == 0


def test_expired_entry_stops_applying_and_is_reported(tmp_path):
    expiring = ENTRY + "expires = 2026-01-31\n"
    result = run(tmp_path, allowlist(tmp_path, expiring), today=date(2026, 2, 1))
    assert result.summary.excluded == 0 and len(result.alerts) == 2
    assert "expired on 2026-01-31" in result.summary.expired_entries[0]
    still = run(tmp_path, allowlist(tmp_path, expiring), today=date(2026, 1, 31))
    assert still.summary.excluded == 1 and still.summary.expired_entries == []


@pytest.mark.parametrize("text, says", [
    ("[[exclude]]\nUserIdentityArn = 'x'\n", "reason"),
    ("[[exclude]]\nreason = 'r'\n", "no conditions"),
    ("[[exclude]]\nreason = 'r'\nUserArn = 'x'\n", "unknown field 'UserArn'"),
    ("[[exclude]]\nreason = 'r'\nAWSRegion = 3\n", "AWSRegion must be a glob"),
    ("[[exclude]]\nreason = 'r'\nexpires = 'soon'\nAWSRegion = 'x'\n", "expires"),
    ("[[exclude]\n", "not valid TOML"),
    ("[[allow]]\nreason = 'r'\n", "unknown top-level key"),
    ("[[exclude]]\nreason = '  '\nAWSRegion = 'x'\n", "reason"),
    ("[[exclude]]\nreason = 'r'\nUserIdentityArn = '[terraform-ci/*'\n", "UserIdentityArn: glob '[terraform-ci/*'"),
    ("[[exclude]]\nrule = '0xFF-237'\nreason = 'r'\nAWSRegion = 'x'\n", "rule '0xFF-237' matches no rule"),
    ("[[exclude]]\nreason = 'r'\nUserIdentityArn = '*'\n", "matches every value"),
    ("[[exclude]]\nreason = 'r'\nAWSRegion = ['eu-*', '**']\n", "matches every value"),
])
def test_malformed_allowlist_is_a_clear_error_naming_file_and_field(tmp_path, text, says):
    with pytest.raises(ConfigError) as caught:
        allowlist(tmp_path, text)
    message = str(caught.value)
    assert "allow.toml" in message and says in message and "\n" not in message


@pytest.mark.parametrize("arn, excluded", [
    ("arn:aws:sts::111122223333:assumed-role/terraform-ci/run-42", True),
    ("arn:aws:sts::111122223333:assumed-role/terraform-ci/a/b/c", False),  # * stays in one segment
    ("arn:aws:sts::111122223333:assumed-role/evil:assumed-role/terraform-ci/x", False),  # nor crosses ':'
    ("arn:aws:sts::111122223333:assumed-role/terraform-ci/run\n42", False),  # nor a line break
    ("arn:aws:sts::1:2:assumed-role/terraform-ci/x", False),
])
def test_glob_wildcards_stay_within_one_segment(tmp_path, arn, excluded):
    write(tmp_path / "logs/a.json", [record(eventID="e-1", userIdentity={**TERRAFORM, "arn": arn})])
    result = scan_inputs(Run(load_rules(), allowlist=allowlist(tmp_path, ENTRY)), iter_files([str(tmp_path / "logs")]))
    assert result.summary.excluded == int(excluded)


def test_double_star_crosses_segments_and_classes_match_one_character(tmp_path):
    deep = ENTRY.replace("terraform-ci/*", "terraform-ci/**")
    write(tmp_path / "logs/a.json", [record(eventID="e-1", userIdentity={**TERRAFORM, "arn": TERRAFORM["arn"] + "/x"})])
    assert scan_inputs(Run(load_rules(), allowlist=allowlist(tmp_path, deep)),
                       iter_files([str(tmp_path / "logs")])).summary.excluded == 1
    classes = ENTRY.replace("terraform-ci/*", "terraform-ci/run-[0-9][!a-z]")
    assert run(tmp_path, allowlist(tmp_path, classes)).summary.excluded == 1


def test_an_entry_matching_everything_applies_when_it_says_so(tmp_path):
    everything = "[[exclude]]\nreason = 'lab account: nothing here matters'\nmatch_everything = true\nAWSRegion = '*'\n"
    assert run(tmp_path, allowlist(tmp_path, everything)).summary.excluded == 2
