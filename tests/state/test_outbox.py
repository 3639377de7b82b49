"""Nothing lost, nothing twice: with --state each alert's delivery to each sink is recorded; a sink that is
down keeps its deliveries pending and the next run delivers them; nothing delivered is ever sent again."""

from __future__ import annotations

import socket

from ..helpers import jsonl, record, run_cli, write
from ..receivers import Receiver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(tmp_path, url: str, out) -> str:
    path = tmp_path / "trailhound.toml"
    path.write_text(f'[delivery]\nretries = 1\nbackoff = 0.01\ntimeout = 5\n'
                    f'[[sink]]\nkind = "webhook"\nurl = "{url}"\n[[sink]]\nkind = "jsonl"\npath = "{out}"\n')
    return str(path)


def test_a_sink_down_then_up_gets_every_alert_exactly_once(tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook/SECRET"
    out, state = tmp_path / "alerts.jsonl", str(tmp_path / "state.db")
    config = _config(tmp_path, url, out)
    day1 = write(tmp_path / "in" / "day1.json", {"Records": [record(eventID=f"e-{i}", user=f"u{i}") for i in range(3)]})

    down = run_cli("scan", str(day1), "--config", config, "--state", state)
    assert down.returncode == 4, down.stderr
    assert "3 delivery(ies) pending for webhook:" in down.stderr
    assert len(jsonl(out.read_text())) == 3  # the other sink is not held back by the one that is down

    write(tmp_path / "in" / "day2.json", {"Records": [record(eventID="e-9", user="u9")]})
    with Receiver(port=port, fail_first=1, fail_status=503) as hook:
        up = run_cli("scan", str(tmp_path / "in"), "--config", config, "--state", state)
        again = run_cli("scan", str(tmp_path / "in"), "--config", config, "--state", state)
    assert up.returncode == 0, up.stderr
    assert "(3 held over from earlier runs)" in up.stderr
    assert again.returncode == 0 and "delivered 0 to webhook" in again.stderr
    assert sorted(r["json"]["TargetUserName"] for r in hook.received) == ["u0", "u1", "u2", "u9"]
    assert sorted(r["TargetUserName"] for r in jsonl(out.read_text())) == ["u0", "u1", "u2", "u9"]


def test_without_state_a_failed_delivery_is_reported_and_exits_4(tmp_path):
    write(tmp_path / "t.json", {"Records": [record()]})
    result = run_cli("scan", str(tmp_path / "t.json"), "--sink", f"webhook:http://127.0.0.1:{_free_port()}/x",
                     "--config", _config(tmp_path, f"http://127.0.0.1:{_free_port()}/y", tmp_path / "o.jsonl"))
    assert result.returncode == 4
    assert "without --state failed deliveries are not retried" in result.stderr
    assert len(jsonl(result.stdout)) == 1  # the alert itself still reached stdout


def test_pending_deliveries_of_a_sink_no_longer_configured_wait_for_it(tmp_path):
    write(tmp_path / "t.json", {"Records": [record()]})
    state = str(tmp_path / "s.db")
    port = _free_port()
    run_cli("scan", str(tmp_path / "t.json"), "--state", state, "--sink", f"webhook:http://127.0.0.1:{port}/a",
            "--config", _config(tmp_path, f"http://127.0.0.1:{port}/b", tmp_path / "o.jsonl"))
    other = run_cli("scan", str(tmp_path / "t.json"), "--state", state, "--sink", f"jsonl:{tmp_path / 'p.jsonl'}")
    assert other.returncode == 0
    assert "pending for webhook:http://127.0.0.1:" in other.stderr
    assert not (tmp_path / "p.jsonl").exists()  # an alert raised earlier is not replayed into a new sink


def test_a_crash_between_storing_and_delivering_loses_no_delivery(tmp_path):
    # The deliveries are queued in the transaction that stores the alerts, so the next run sends them even
    # though, for it, every alert is old news.
    port = _free_port()
    out, state = tmp_path / "alerts.jsonl", str(tmp_path / "state.db")
    config = _config(tmp_path, f"http://127.0.0.1:{port}/hook/SECRET", out)
    logs = write(tmp_path / "in" / "a.json", {"Records": [record(eventID=f"e-{i}", user=f"u{i}") for i in range(3)]})
    crashed = run_cli("scan", str(logs), "--config", config, "--state", state,
                      env={"TRAILHOUND_TEST_CRASH_AT": "before-delivery"})
    assert crashed.returncode == 70 and len(jsonl(crashed.stdout)) == 3
    assert not out.exists()
    with Receiver(port=port) as hook:
        restarted = run_cli("scan", str(logs), "--config", config, "--state", state)
    assert restarted.returncode == 0, restarted.stderr
    assert jsonl(restarted.stdout) == [] and "3 already alerted" in restarted.stderr
    assert sorted(r["json"]["TargetUserName"] for r in hook.received) == ["u0", "u1", "u2"]
    assert sorted(r["TargetUserName"] for r in jsonl(out.read_text())) == ["u0", "u1", "u2"]
