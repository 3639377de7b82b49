"""Webhook and Slack sinks against a real HTTP receiver on loopback: retries with backoff on 429/5xx and
dropped connections, Retry-After, no secret in any message, and the Slack message's content."""

from __future__ import annotations

import socket
import sqlite3

from trailhound.engine.rules import get_rule
from trailhound.engine.rules.base import make_alert
from trailhound.records.record import Record
from trailhound.sinks import RetryPolicy, build
from trailhound.sinks.base import redact_url
from trailhound.sinks.slack import message

from ..helpers import record, run_cli, write
from ..receivers import Receiver

FAST = RetryPolicy(retries=3, backoff=0.01, max_backoff=0.05, timeout=5)


def _alert(**overrides):
    return make_alert(get_rule("0xFF-0237"), Record(record(**overrides), "t"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_webhook_retries_through_503s_and_delivers_once():
    with Receiver(fail_first=2, fail_status=503) as hook:
        results = build("webhook", hook.url(), FAST).send([_alert()])
    assert list(results.values()) == [None]
    assert len(hook.requests) == 3 and len(hook.received) == 1
    body = hook.received[0]["json"]
    assert body["TargetUserName"] == "alice" and body["AlertId"] == _alert().id
    assert hook.received[0]["headers"]["X-Trailhound-Alert-Id"] == _alert().id


def test_429_with_retry_after_is_honoured_then_delivered():
    with Receiver(fail_first=1, fail_status=429, retry_after="0") as hook:
        assert list(build("webhook", hook.url(), FAST).send([_alert()]).values()) == [None]
    assert len(hook.requests) == 2


def test_a_4xx_other_than_429_is_not_retried():
    with Receiver(fail_first=5, fail_status=400) as hook:
        error = build("webhook", hook.url(), FAST).send([_alert()])[_alert().id]
    assert len(hook.requests) == 1 and "HTTP 400 after 1 attempt(s)" in error


def test_errors_never_show_the_url_secret():
    secret_url = f"http://127.0.0.1:{_closed_port()}/hooks/T0SECRET/B0SECRET?token=XXXXSECRET"
    with Receiver(fail_first=10, fail_status=500) as hook:
        http_error = build("slack", hook.url(), FAST).send([_alert()])[_alert().id]
    refused = build("webhook", secret_url, FAST).send([_alert()])[_alert().id]
    assert "HTTP 500 after 4 attempt(s)" in http_error
    assert "NewConnectionError" in refused or "ConnectionRefused" in refused
    for text in (http_error, refused, build("webhook", secret_url, FAST).id):
        assert "SECRET" not in text and "/hooks" not in text
    assert redact_url(secret_url).endswith("/…")


def test_scan_keeps_the_secret_out_of_stderr_and_the_state_file(tmp_path):
    write(tmp_path / "t.json", {"Records": [record()]})
    url = f"http://127.0.0.1:{_closed_port()}/services/T0SECRET/B0SECRET/XXXXSECRET"
    config = tmp_path / "trailhound.toml"
    config.write_text('[delivery]\nretries = 1\nbackoff = 0.01\n[[sink]]\nkind = "slack"\nurl = "env:HOOK"\n')
    result = run_cli("scan", str(tmp_path / "t.json"), "--config", str(config), "--state", str(tmp_path / "s.db"),
                     env={"HOOK": url})
    assert result.returncode == 4, result.stderr
    assert "pending for slack:http://127.0.0.1:" in result.stderr and "SECRET" not in result.stderr
    with sqlite3.connect(tmp_path / "s.db") as db:
        stored = " ".join(str(v) for row in db.execute("SELECT * FROM deliveries") for v in row)
    assert "slack:http://127.0.0.1:" in stored and "SECRET" not in stored


def test_slack_message_says_who_gave_whom_a_password_from_where_and_the_playbook():
    blocks = message(_alert())["blocks"]
    text = " ".join(str(b) for b in blocks)
    assert blocks[0]["text"]["text"].startswith("Password Assigned to Existing AWS IAM User")
    assert "`arn:aws:iam::111122223333:user/ci-deploy` gave `alice` a console password" in text
    assert "`203.0.113.66`" in text and "Medium" in text
    assert "*Playbook*" in text and "disable the access to prior levels" in text
    assert f"trailhound respond {_alert().id} --disable-console-access" in text


def test_slack_message_escapes_hostile_values():
    msg = message(_alert(user="<!channel> <https://evil.example|click> `x`", userAgent="\x1b[2J"))
    text = str(msg)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text and "\x1b" not in text


def test_slack_sink_retries_then_posts_blocks():
    with Receiver(fail_first=1, fail_status=502) as hook:
        assert list(build("slack", hook.url(), FAST).send([_alert()]).values()) == [None]
    assert len(hook.requests) == 2 and hook.received[0]["json"]["blocks"][0]["type"] == "header"


def test_webhook_can_send_ocsf():
    with Receiver() as hook:
        build("webhook", hook.url(), FAST, fmt="ocsf").send([_alert()])
    assert hook.received[0]["json"]["class_uid"] == 2004


def test_webhook_body_escapes_bidi_line_separators_and_c1_controls():
    hostile = "evil\u202eusr\u2028line\u009bcsi"
    with Receiver() as hook:
        results = build("webhook", hook.url(), FAST).send([_alert(user=hostile)])
    assert list(results.values()) == [None]
    body = hook.received[0]["body"]
    for raw in ("\u202e", "\u2028", "\u009b"):
        assert raw.encode() not in body
    assert b"\\u202e" in body and b"\\u2028" in body and b"\\u009b" in body
    assert hook.received[0]["json"]["TargetUserName"] == hostile  # the value itself is kept, escaped
