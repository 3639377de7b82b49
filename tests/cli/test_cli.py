"""The command line as users run it: streams, formats, exit codes, options."""

from __future__ import annotations

import orjson

from ..helpers import jsonl, record, run_cli, write


def logs(tmp_path):
    write(tmp_path / "logs/a.json.gz", {"Records": [record(eventID="e-1"), record(eventID="e-2", eventName="GetUser")]},
          gz=True)
    return str(tmp_path / "logs")


def test_jsonl_on_stdout_and_summary_on_stderr(tmp_path):
    result = run_cli("scan", logs(tmp_path))
    assert result.returncode == 0, result.stderr
    (alert,) = jsonl(result.stdout)
    assert alert["EventID"] == "e-1" and alert["RuleId"] == "0xFF-0237" and alert["AlertId"]
    assert "1 alert(s)" in result.stderr and "2 record(s)" in result.stderr


def test_json_format_is_one_array(tmp_path):
    result = run_cli("scan", logs(tmp_path), "--format", "json")
    assert [a["EventID"] for a in orjson.loads(result.stdout)] == ["e-1"]


def test_table_format_shows_the_alert(tmp_path):
    result = run_cli("scan", logs(tmp_path), "--format", "table", env={"COLUMNS": "250"})
    assert result.returncode == 0 and "ci-deploy" in result.stdout and "1 alert(s)" in result.stdout


def test_bad_input_is_named_the_rest_is_scanned_and_exit_is_1(tmp_path):
    path = logs(tmp_path)
    write(tmp_path / "logs/broken.json", b'{"Records": [{"eventName": ')
    result = run_cli("scan", path)
    assert result.returncode == 1
    assert len(jsonl(result.stdout)) == 1
    warning = [line for line in result.stderr.splitlines() if "broken.json" in line]
    assert len(warning) == 1 and "Traceback" not in result.stderr


def test_fail_on_alert_exits_3(tmp_path):
    assert run_cli("scan", logs(tmp_path), "--fail-on-alert").returncode == 3
    write(tmp_path / "quiet/a.json", [record(eventName="GetUser")])
    assert run_cli("scan", str(tmp_path / "quiet"), "--fail-on-alert").returncode == 0


def test_usage_and_configuration_errors_exit_2(tmp_path):
    path = logs(tmp_path)
    for args, says in ((["--since", "yesterday"], "--since"), (["--dedup-fields", "Nope"], "--dedup-fields"),
                       (["--format", "xml"], "--format"), (["--dedup-window", "2 hours"], "--dedup-window"),
                       (["--allowlist", str(tmp_path / "none.toml")], "none.toml"), (["--rule", "0xFF-0000"], "0xFF-0000")):
        result = run_cli("scan", path, *args)
        assert result.returncode == 2 and says in result.stderr and result.stdout == "", args
    missing = run_cli("scan", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "nowhere" in missing.stderr


def test_malformed_allowlist_fails_before_any_scan(tmp_path):
    bad = tmp_path / "allow.toml"
    bad.write_text("[[exclude]]\nUserIdentityArn = 'arn:*'\n")
    result = run_cli("scan", logs(tmp_path), "--allowlist", str(bad))
    assert result.returncode == 2 and "allow.toml" in result.stderr and "reason" in result.stderr
    assert "record(s)" not in result.stderr


def test_since_and_until_filter_on_event_time(tmp_path):
    write(tmp_path / "t/a.json", [record(eventID="old", eventTime="2026-11-01T00:00:00Z"),
                                  record(eventID="mid", eventTime="2026-11-15T00:00:00Z"),
                                  record(eventID="new", eventTime="2026-11-27T00:00:00Z")])
    result = run_cli("scan", str(tmp_path / "t"), "--since", "2026-11-10", "--until", "2026-11-20T00:00:00Z")
    assert [a["EventID"] for a in jsonl(result.stdout)] == ["mid"]
    assert "2 outside --since/--until" in result.stderr
    recent = run_cli("scan", str(tmp_path / "t"), "--since", "100000d")
    assert len(jsonl(recent.stdout)) == 3


def test_state_across_runs_from_the_cli(tmp_path):
    path, state = logs(tmp_path), str(tmp_path / "state.db")
    assert len(jsonl(run_cli("scan", path, "--state", state).stdout)) == 1
    second = run_cli("scan", path, "--state", state)
    assert jsonl(second.stdout) == [] and "1 already alerted" in second.stderr


def test_allowlist_from_the_cli_counts_exclusions(tmp_path):
    allow = tmp_path / "allow.toml"
    allow.write_text("[[exclude]]\nreason = 'known automation'\nSourceIpAddress = '203.0.113.*'\n")
    result = run_cli("scan", logs(tmp_path), "--allowlist", str(allow))
    assert jsonl(result.stdout) == [] and "1 excluded by allowlist" in result.stderr


def test_run_summary_counts_exclusions_per_reason(tmp_path):
    allow = tmp_path / "allow.toml"
    allow.write_text("[[exclude]]\nreason = 'known automation'\nSourceIpAddress = '203.0.113.*'\n")
    result = run_cli("scan", logs(tmp_path), "--allowlist", str(allow))
    assert "1 excluded by allowlist (known automation: 1)" in result.stderr


def test_rules_list_and_show():
    listing = run_cli("rules", "list")
    assert listing.returncode == 0 and "0xFF-0237" in listing.stdout
    shown = run_cli("rules", "show", "0xff-0237")
    assert shown.returncode == 0
    for text in ("Password Assigned to Existing AWS IAM User", "T1098.001", "False positives",
                 "Suggested response actions", "disable the access", "Blind spots"):
        assert text in shown.stdout
    assert run_cli("rules", "show", "nope").returncode == 2


def test_hostile_values_are_inert_in_the_table_and_stderr(tmp_path):
    evil = "evil\x1b[2J\x1b]8;;http://x\x07[bold]fake[/bold]\nline"
    write(tmp_path / "h/a.json", [record(user=evil, userAgent=evil)])
    write(tmp_path / "h/bad\x1b[31mname.json", b'{"Records": [{"eventName": "CreateLoginProfile", ')  # named
    result = run_cli("scan", str(tmp_path / "h"), "--format", "table", env={"COLUMNS": "400"})
    assert "\x1b" not in result.stdout and "\x1b" not in result.stderr
    assert "bad\\x1b[31mname.json" in result.stderr
    assert "\\x1b" in result.stdout and "[bold]fake[/bold]" in result.stdout
    raw = run_cli("scan", str(tmp_path / "h"), "--format", "jsonl")
    assert "\x1b" not in raw.stdout and jsonl(raw.stdout)[0]["TargetUserName"] == evil
