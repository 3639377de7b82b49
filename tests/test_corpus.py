"""The rule over real, published CloudTrail samples in ../shared/corpus (skipped where that folder is absent)."""

from __future__ import annotations

import csv

import pytest

from trailhound.engine.rules.iam_login_profile import PasswordAssignedToExistingIAMUser
from trailhound.records.formats import parse
from trailhound.records.record import Record
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.sources.files import iter_files

from .helpers import CORPUS

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
RULE = PasswordAssignedToExistingIAMUser()
SAMPLES = CORPUS / "login-profile-samples"


def corpus_files():
    return [f for f in iter_files([str(CORPUS)]) if not f.path.endswith((".tsv", ".md"))]


def test_no_corpus_file_crashes_the_reader_or_the_rule():
    files = corpus_files()
    assert len(files) > 200
    total = 0
    for item in files:
        doc = parse(item.read())
        total += len(doc.records)
        for raw in doc.records:
            RULE.matches(Record(raw))
    assert total > 1600


def test_stratus_create_login_profile_detonation_alerts():
    detonation = CORPUS / "stratus-red-team/docs/detonation-logs/aws.persistence.iam-create-user-login-profile.json"
    result = scan_inputs(Run([RULE]), iter_files([str(detonation)]))
    (alert,) = result.alerts
    assert alert.row["TargetUserName"] == "stratus-red-team-login-profile-user"
    assert alert.row["UserIdentityArn"].endswith(":user/christophe") and alert.row["Outcome"] == "success"


def test_no_update_or_delete_login_profile_sample_alerts():
    seen = 0
    for item in corpus_files():
        for raw in parse(item.read()).records:
            rec = Record(raw)
            if rec.event_name in ("UpdateLoginProfile", "DeleteLoginProfile"):
                seen += 1
                assert not RULE.matches(rec), item.path
    assert seen >= 5


def expected_for_0237(row: dict) -> bool:
    """PROVENANCE.tsv speaks for several rules; this is what it says of a CreateLoginProfile-only rule."""
    expected, why = row["expected"], row["why"]
    if "CreateLoginProfile-only" in expected or "CreateLoginProfile-only rule would not alert" in why:
        return False
    return expected.startswith("ALERT")


def test_provenance_expectations_hold_for_this_rule():
    with open(SAMPLES / "PROVENANCE.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) >= 9
    verdicts = {}
    for row in rows:
        records = parse((SAMPLES / row["filename"]).read_bytes()).records
        assert records, row["filename"]
        verdicts[row["filename"]] = any(RULE.matches(Record(r)) for r in records)
        assert verdicts[row["filename"]] == expected_for_0237(row), row["filename"]
    # The two real CreateLoginProfile events alert; nothing else in the set does.
    assert sorted(k for k, v in verdicts.items() if v) == ["splunk_create_login_profile_awscli2.json",
                                                           "stratus_create_login_profile_success.json"]
