"""`rules list --rules ...` and `rules show ID --rules ...`: which rule files loaded, and why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import run_cli

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "0xFF-0237.md"
GOOD = 'AWSCloudTrail\n| where EventName == "DeleteTrail"\n| project TimeGenerated, EventName\n'
BAD = 'AWSCloudTrail\n| where EventName == "StopLogging"\n| make-series count() on TimeGenerated step 1h\n'


def _files(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "delete-trail.kql").write_text(GOOD)
    (folder / "stop-logging.kql").write_text(BAD)
    return folder


def test_rules_list_shows_each_file_loaded_or_skipped_with_where_and_why(tmp_path):
    listing = run_cli("rules", "list", "--rules", str(_files(tmp_path)))
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert any(line.startswith("delete-trail\t") and "(loaded from" in line for line in lines)
    (skipped,) = [line for line in lines if line.startswith("skipped\t")]
    assert "stop-logging.kql:3:3: unsupported construct: operator make-series" in skipped
    assert "1 of 2 rule file(s) loaded, 1 skipped" in listing.stderr


def test_rules_show_a_loaded_rule_gives_its_file_needles_and_query(tmp_path):
    shown = run_cli("rules", "show", "delete-trail", "--rules", str(_files(tmp_path)))
    assert shown.returncode == 0, shown.stderr
    assert "delete-trail.kql (kql)" in shown.stdout and "deletetrail" in shown.stdout
    assert '| where EventName == "DeleteTrail"' in shown.stdout and "once per run" in shown.stdout


def test_rules_show_a_skipped_rule_says_why_it_did_not_load(tmp_path):
    shown = run_cli("rules", "show", "stop-logging", "--rules", str(_files(tmp_path)))
    assert shown.returncode == 2
    assert "did not load" in shown.stderr and "unsupported construct: operator make-series" in shown.stderr


def test_rules_list_names_a_missing_rules_path(tmp_path):
    listing = run_cli("rules", "list", "--rules", str(tmp_path / "nope"))
    assert listing.returncode == 2 and "no such file" in listing.stderr


@pytest.mark.skipif(not SPEC.exists(), reason="../shared/spec absent")
def test_a_loaded_rule_shows_in_place_of_the_built_in_it_replaces():
    listing = run_cli("rules", "list", "--rules", str(SPEC))
    builtin, loaded = [line for line in listing.stdout.splitlines() if line.startswith("0xFF-0237\t")]
    assert builtin.endswith("(replaced by --rules)") and "(loaded from" in loaded
    shown = run_cli("rules", "show", "0xff-0237", "--rules", str(SPEC))
    assert "(falconforce)" in shown.stdout and "every 1:00:00 over 2:00:00" in shown.stdout
    assert "createloginprofile" in shown.stdout and "pack_all()" in shown.stdout
