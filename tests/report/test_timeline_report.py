"""`trailhound alerts timeline ID` and `trailhound report ID --html FILE`, as users run them; the report is
opened in Debian's headless chromium: it renders, the timeline is drawn, the facts are in the DOM."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from ..context_events import ATTACKER_IP, OFFICE_IP, STOLEN, console_login, event, login_profile
from ..helpers import jsonl, run_cli, write

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                                              "(`make test` installs it where apt can)")
HOSTILE_AGENT = "<script>alert(1)</script>\x1b[31m[bold]red[/bold]\u202e"


def attack(tmp_path: Path) -> list[dict]:
    return [event("CreateAccessKey", "2026-11-27T13:58:00Z", STOLEN, request={"userName": "ci-deploy"}),
            event("ListUsers", "2026-11-27T14:00:00Z", STOLEN),
            login_profile("backup-admin", "2026-11-27T14:02:00Z", errorCode="AccessDenied"),
            login_profile("svc-reporting", "2026-11-27T14:06:00Z", userAgent=HOSTILE_AGENT),
            console_login("svc-reporting", "2026-11-27T14:31:00Z", ATTACKER_IP),
            event("ListUsers", "2026-11-27T03:00:00Z", STOLEN, ip=OFFICE_IP)]  # outside the window


def scanned(tmp_path: Path, records: list[dict]) -> tuple[str, dict[str, dict]]:
    write(tmp_path / "logs/a.json", {"Records": records})
    state = str(tmp_path / "state.db")
    result = run_cli("scan", str(tmp_path / "logs"), "--state", state)
    assert result.returncode == 0, result.stderr
    return state, {a["TargetUserName"]: a for a in jsonl(result.stdout)}


def test_timeline_lists_the_actors_and_targets_events_in_order(tmp_path):
    state, alerts = scanned(tmp_path, attack(tmp_path))
    result = run_cli("alerts", "timeline", alerts["svc-reporting"]["AlertId"], "--state", state, "--format", "json")
    assert result.returncode == 0, result.stderr
    out = orjson.loads(result.stdout)
    events = [(e["Time"][11:16], e["Name"], e["Lane"], e["Outcome"]) for e in out["events"]]
    assert events == [("13:58", "CreateAccessKey", "actor", "success"), ("14:00", "ListUsers", "actor", "success"),
                      ("14:02", "CreateLoginProfile", "actor", "failure"),
                      ("14:06", "CreateLoginProfile", "both", "success"),
                      ("14:31", "ConsoleLogin", "target", "success")]
    assert [e["IsAlert"] for e in out["events"]] == [False, False, False, True, False]
    assert out["events"][0]["Offset"] == "-0:08:00" and out["events"][-1]["Offset"] == "+0:25:00"
    assert out["alert"]["Severity"] == out["now"]["Severity"] == "Critical"


def test_timeline_table_in_the_terminal_shows_reasons_and_makes_log_values_inert(tmp_path):
    state, alerts = scanned(tmp_path, attack(tmp_path))
    alert_id = alerts["svc-reporting"]["AlertId"]
    result = run_cli("alerts", "timeline", alert_id[:6], "--state", state, env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert f"Alert {alert_id}  Critical" in result.stdout
    assert "signed in to the console 25 min later from the same address" in result.stdout
    assert "5 event(s) around the alert" in result.stdout and "signin:ConsoleLogin" in result.stdout
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout


def test_timeline_shows_severity_assessed_again_when_a_later_run_saw_the_sign_in(tmp_path):
    write(tmp_path / "run1/a.json", [login_profile("svc-reporting", "2026-11-27T14:06:00Z")])
    write(tmp_path / "run2/a.json", [console_login("svc-reporting", "2026-11-27T14:31:00Z", ATTACKER_IP)])
    state = str(tmp_path / "state.db")
    (alert,) = jsonl(run_cli("scan", str(tmp_path / "run1"), "--state", state).stdout)
    assert alert["Severity"] == "Medium"
    assert run_cli("scan", str(tmp_path / "run2"), "--state", state).returncode == 0
    out = orjson.loads(run_cli("alerts", "timeline", alert["AlertId"], "--state", state, "--format", "json").stdout)
    assert out["alert"]["Severity"] == "Medium" and out["now"]["Severity"] == "Critical"


def test_unknown_ambiguous_or_missing_alert_or_state_is_one_clear_line_and_exit_2(tmp_path):
    state, alerts = scanned(tmp_path, attack(tmp_path))
    for args, says in ((["nope"], "no alert with id 'nope'"), ([""], "no alert with id ''"),
                       (["x", "--before", "soon"], "--before")):
        result = run_cli("alerts", "timeline", *args, "--state", state)
        assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr, args
    ids = sorted(a["AlertId"] for a in alerts.values())
    missing = run_cli("report", ids[0], "--state", str(tmp_path / "none.db"), "--html", str(tmp_path / "r.html"))
    assert missing.returncode == 2 and "none.db" in missing.stderr and not (tmp_path / "none.db").exists()


def test_a_prefix_naming_several_alerts_is_refused(tmp_path):
    # 17 alerts: two of them share a first hex digit, whatever the ids turn out to be.
    state, alerts = scanned(tmp_path, [login_profile(f"user-{i}", "2026-11-27T14:06:00Z") for i in range(17)])
    firsts = [a["AlertId"][0] for a in alerts.values()]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    result = run_cli("alerts", "timeline", shared, "--state", state)
    assert result.returncode == 2 and "more than one alert" in result.stderr


def write_report(tmp_path: Path) -> tuple[Path, dict]:
    state, alerts = scanned(tmp_path, attack(tmp_path))
    alert = alerts["svc-reporting"]
    page = tmp_path / "report.html"
    result = run_cli("report", alert["AlertId"], "--state", state, "--html", str(page))
    assert result.returncode == 0, result.stderr
    return page, alert


def test_report_is_self_contained_and_escapes_every_log_value(tmp_path):
    page, alert = write_report(tmp_path)
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\x1b" not in html and "\u202e" not in html and "\\x1b[31m" in html
    assert not re.search(r"""(src|href)\s*=|url\(|@import""", html)  # nothing fetched from anywhere
    assert "default-src 'none'" in html and "<svg" in html
    assert alert["AlertId"] in html and "Confirm if the user responsible" in html


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--hide-scrollbars", f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@needs_chromium
def test_report_opens_in_chromium_with_the_key_facts_in_the_dom(tmp_path):
    page, alert = write_report(tmp_path)
    result = chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = result.stdout
    assert result.returncode == 0 and "</html>" in dom, result.stderr[-2000:]
    assert re.search(r'id="severity"[^>]*>Critical<', dom)
    assert re.search(r'id="target">svc-reporting<', dom) and f'id="alert-id">{alert["AlertId"]}<' in dom
    assert "signed in to the console 25 min later from the same address (203.0.113.66)" in dom
    assert dom.count('<g class="event') == 5 and dom.count('<g class="event alert"') == 1
    assert "If the console access is deemed suspicious" in dom
    assert "<script" not in dom  # the hostile user agent stayed text


@needs_chromium
def test_report_screenshot_shows_the_timeline(tmp_path):
    from PIL import Image, ImageChops

    page, _ = write_report(tmp_path)
    shot = tmp_path / "shot.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1100,1500", page.as_uri())
    assert shot.is_file(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    # The SVG's own background colour marks where the timeline landed on the page.
    channels = [c.point(lambda v, want=want: 255 if v == want else 0) for c, want in zip(image.split(), (251, 252, 252))]
    mask = ImageChops.multiply(ImageChops.multiply(channels[0], channels[1]), channels[2])
    bbox = mask.getbbox()
    assert bbox is not None, "the timeline's background is not on screen"
    left, top, right, bottom = bbox
    assert right - left > 800 and bottom - top > 250
    area = image.crop(bbox)
    colours = area.getcolors(maxcolors=1 << 20)
    blue = sum(n for n, c in colours if _near(c, (0x2b, 0x7b, 0xb9)))
    red = sum(n for n, c in colours if _near(c, (0xc0, 0x39, 0x2b)))
    assert blue > 400 and red > 300, (blue, red)  # four successful events drawn, one failed, one alert ring


def _near(colour: tuple[int, int, int], target: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(colour, target))
