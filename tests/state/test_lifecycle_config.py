"""`trailhound alerts list|show|ack|close` over the state store, and the config file's checks."""

from __future__ import annotations

import pytest

from trailhound.errors import ConfigError
from trailhound.sinks.config import load_config, parse_sink_option

from ..helpers import jsonl, record, run_cli, write


@pytest.fixture
def store(tmp_path):
    write(tmp_path / "t.json", {"Records": [record(eventID="e-1", user="alice", eventTime="2026-11-27T10:00:00Z"),
                                            record(eventID="e-2", user="bob", eventTime="2026-11-27T14:00:00Z")]})
    state = str(tmp_path / "s.db")
    ids = [a["AlertId"] for a in jsonl(run_cli("scan", str(tmp_path / "t.json"), "--state", state).stdout)]
    return state, ids


def test_ack_and_close_move_an_alert_through_its_lifecycle(store):
    state, (first, second) = store
    assert run_cli("alerts", "ack", first[:8], "--state", state, "--note", "calling alice").returncode == 0
    assert run_cli("alerts", "close", second, "--state", state, "--note", "known onboarding").returncode == 0
    listed = {a["AlertId"]: a["Status"] for a in jsonl(run_cli("alerts", "list", "--state", state, "-f", "jsonl").stdout)}
    assert listed == {first: "acknowledged", second: "closed"}
    open_only = run_cli("alerts", "list", "--state", state, "--status", "closed")
    assert second in open_only.stdout and first not in open_only.stdout
    shown = run_cli("alerts", "show", first, "--state", state, env={"TRAILHOUND_USER": "analyst@example.com"}).stdout
    assert "[acknowledged]" in shown and "note: calling alice" in shown
    assert "Response actions" in shown and "disable the access to prior levels" in shown
    assert '"eventID":"e-1"' in shown  # the raw event


def test_list_filters_by_event_time_and_rule(store):
    state, (first, second) = store
    late = jsonl(run_cli("alerts", "list", "--state", state, "--since", "2026-11-27T12:00:00Z", "-f", "jsonl").stdout)
    assert [a["AlertId"] for a in late] == [second]
    assert run_cli("alerts", "list", "--state", state, "--rule", "0xFF-9999").stdout == "No alerts.\n"


def test_unknown_ids_statuses_and_state_files_are_one_clear_line(store, tmp_path):
    state, _ = store
    for args, expected in ((("alerts", "show", "ffffffffffff", "--state", state), "no alert with id 'ffffffffffff'"),
                           (("alerts", "ack", "zz", "--state", state), "give the 16-hex-digit id"),
                           (("alerts", "list", "--state", state, "--status", "done"), "--status: 'done'"),
                           (("alerts", "list", "--state", str(tmp_path / "typo.db")), "no such state file")):
        result = run_cli(*args)
        assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "typo.db").exists()


def test_config_errors_name_the_file_the_entry_and_the_field(tmp_path):
    cases = {
        '[[sink]]\nkind = "pager"\n': "[[sink]] 1: kind:",
        '[[sink]]\nkind = "webhook"\n': "[[sink]] 1: url: a webhook sink needs its url",
        '[[sink]]\nkind = "jsonl"\npath = "a"\nurl = "https://x"\n': "[[sink]] 1: url: not used by a jsonl sink",
        '[[sink]]\nkind = "sns"\ntopic_arn = "my-topic"\n': "is not an SNS topic ARN",
        '[delivery]\nretries = -1\n': "[delivery]: retries:",
        '[delivery]\nretry = 3\n': "[delivery]: retry: Extra inputs are not permitted",
        '[sinks]\n': "unknown top-level key(s) sinks",
        '[[sink]]\nkind = "slack"\nurl = "env:NOT_SET_ANYWHERE"\n': "environment variable NOT_SET_ANYWHERE",
    }
    for text, expected in cases.items():
        path = tmp_path / "c.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert str(caught.value).startswith(str(path)) and expected in str(caught.value), str(caught.value)


def test_sink_option_kinds_and_a_bad_config_stops_the_scan_before_it_starts(tmp_path):
    assert parse_sink_option("securityhub").target == ""
    assert parse_sink_option("jsonl:out/a.jsonl").target == "out/a.jsonl"
    with pytest.raises(ConfigError, match="unknown kind 'email'"):
        parse_sink_option("email:me@example.com")
    (tmp_path / "c.toml").write_text('[[sink]]\nkind = "webhook"\nurl = "ftp://x"\n')
    write(tmp_path / "t.json", {"Records": [record()]})
    result = run_cli("scan", str(tmp_path / "t.json"), "--config", str(tmp_path / "c.toml"))
    assert result.returncode == 2 and "must start with https://" in result.stderr and result.stdout == ""
