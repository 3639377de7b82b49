"""Values from logs are inert wherever trailhound shows them: terminal table, stderr, JSON, rule text.

The hostile strings and the per-format checks live in tests/hostile.py so sinks and reports reuse them.
"""

from __future__ import annotations

import html
from pathlib import Path

import orjson
import pytest

from ..helpers import jsonl, record, run_cli, write
from ..hostile import (
    HOSTILE,
    assert_csv_safe,
    assert_html_escaped,
    assert_lines_not_forged,
    assert_slack_escaped,
    assert_terminal_safe,
)

_TABLE_LINE = (" ", "┏", "┃", "┡", "│", "└")


def hostile_record(name: str, value: str) -> dict:
    return record(user=value, eventID=f"id-{name}-{value}", userAgent=value, awsRegion=value,
                  sourceIPAddress=value, userIdentity={"type": value, "userName": value, "arn": value,
                                                       "accountId": value})


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    write(root / "a.json", [hostile_record(n, v) for n, v in HOSTILE.items()])
    # A file name is attacker-controlled too (an S3 key, an uploaded file).
    write(root / "bad\x1b[31m\ntrailhound: 0 bad input(s)\u202e.json", b'{"eventName": "CreateLoginProfile", ')
    return root


def test_table_shows_every_value_inert_in_its_own_cells(logs):
    result = run_cli("scan", str(logs), "--format", "table", env={"COLUMNS": "400"})
    assert result.returncode == 1
    assert_terminal_safe(result.stdout)
    assert_lines_not_forged(result.stdout, _TABLE_LINE)
    assert "[bold red]fake[/bold red]" in result.stdout, "rich markup in a value is shown, not applied"
    assert "evil\\x1b[2J" in result.stdout


def test_stderr_names_a_hostile_file_in_one_inert_line(logs):
    result = run_cli("scan", str(logs), "--format", "jsonl")
    assert_terminal_safe(result.stderr)
    assert_lines_not_forged(result.stderr, ("trailhound: warning: ", "trailhound: "))
    warnings = [line for line in result.stderr.splitlines() if line.startswith("trailhound: warning:")]
    assert len(warnings) == 1 and "bad\\x1b[31m\\x0atrailhound" in warnings[0]
    summaries = [line for line in result.stderr.splitlines()
                 if line.startswith("trailhound: ") and not line.startswith("trailhound: warning:")]
    assert len(summaries) == 1 and "1 bad input(s)" in summaries[0]


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_json_output_is_terminal_safe_and_loses_nothing(logs, fmt):
    result = run_cli("scan", str(logs), "--format", fmt)
    assert_terminal_safe(result.stdout)
    alerts = jsonl(result.stdout) if fmt == "jsonl" else orjson.loads(result.stdout)
    by_target = {a["TargetUserName"]: a for a in alerts}
    assert set(by_target) == set(HOSTILE.values()), "every value round-trips exactly through the escaping"
    for value, alert in by_target.items():
        assert alert["UserAgent"] == value and alert["UserIdentityArn"] == value


def test_jsonl_keeps_one_alert_per_line(logs):
    result = run_cli("scan", str(logs), "--format", "jsonl")
    assert len(result.stdout.splitlines()) == len(HOSTILE)


def test_usage_error_naming_a_hostile_path_is_inert(tmp_path):
    result = run_cli("scan", str(tmp_path / "no\x1b]0;owned\x07\nsuch"))
    assert result.returncode == 2
    assert_terminal_safe(result.stderr)
    assert len(result.stderr.splitlines()) == 1


def test_rules_show_and_list_are_terminal_safe():
    for args in (("rules", "show", "0xFF-0237"), ("rules", "list")):
        result = run_cli(*args)
        assert result.returncode == 0 and result.stdout
        assert_terminal_safe(result.stdout.replace("\t", ""))


def test_an_unknown_rule_id_is_echoed_inert():
    result = run_cli("rules", "show", "x\x1b[2Jy")
    assert result.returncode == 2
    assert_terminal_safe(result.stderr)


# The checks for formats that land with sinks and reports (HTML, Slack, CSV) must themselves be able to
# fail: shown here against a raw and an escaped rendering.

def test_html_check_rejects_raw_markup_and_accepts_escaped():
    value = HOSTILE["html"]
    assert_html_escaped(f"<td>{html.escape(value)}</td>", value)
    with pytest.raises(AssertionError):
        assert_html_escaped(f"<td>{value}</td>", value)


def test_slack_check_rejects_live_mentions_and_links():
    value = HOSTILE["slack"]
    assert_slack_escaped(value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    with pytest.raises(AssertionError):
        assert_slack_escaped(value)


def test_csv_check_rejects_formulas():
    assert_csv_safe("'" + HOSTILE["csv-formula"])
    with pytest.raises(AssertionError):
        assert_csv_safe(HOSTILE["csv-formula"])


def test_terminal_check_rejects_every_hostile_value_raw():
    for value in HOSTILE.values():
        if any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or ord(c) > 0x2000 for c in value if c != "\n"):
            with pytest.raises(AssertionError):
                assert_terminal_safe(value)
