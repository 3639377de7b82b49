"""The run pipeline (run/): settings and their messages, one Run with and without state, emission, and the
promise that `scan`, `watch` and the library give the same alerts for the same input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import boto3
import orjson
import pytest

import trailhound
from trailhound.demo import DAY, write_demo
from trailhound.engine.evaluate import InputResult, ScanOptions, evaluate
from trailhound.engine.rules import dedup_fields_for, load_rules
from trailhound.errors import ConfigError
from trailhound.run.local import scan_inputs, scan_paths, workers_for
from trailhound.run.pipeline import Run, build_context, rules_named
from trailhound.run.settings import (
    ContextSettings,
    DetectionSettings,
    ExecutionSettings,
    InputSettings,
    OutputSettings,
    Settings,
    WatchSettings,
    from_keywords,
    split_values,
)
from trailhound.sources.files import iter_files
from trailhound.state.store import StateStore

from ..helpers import jsonl, record, run_cli, write


def verdicts(rows: list[dict]) -> list[tuple[str, str, list[str]]]:
    """What must agree between entry points: each alert's id, severity and the reasons for it."""
    return sorted((row["AlertId"], row["Severity"], list(row["Reasons"])) for row in rows)


def test_scan_watch_and_the_library_give_the_same_alerts_severities_and_reasons(aws, tmp_path):
    root = tmp_path / "trail"
    files = write_demo(root)
    library = trailhound.scan([str(root)])
    expected = verdicts([orjson.loads(orjson.dumps(a.as_dict())) for a in library.alerts])
    # The demo's story ranks by context: onboarding (Low) and an attacker's sign-in (Critical).
    assert {"Low", "Critical"} <= {severity for _, severity, _ in expected}

    scanned = run_cli("scan", str(root), "--format", "jsonl")
    assert scanned.returncode == 0, scanned.stderr
    assert verdicts(jsonl(scanned.stdout)) == expected

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="trail")
    for path in files:
        s3.put_object(Bucket="trail", Key=path.relative_to(root).as_posix(), Body=path.read_bytes())
    days = (datetime.now(UTC) - DAY).days + 2  # the demo's day, and no more: each day is a listing
    watched = run_cli("watch", "s3://trail", "--state", str(tmp_path / "state.db"), "--once",
                      "--lookback", f"{days}d", "--format", "jsonl")
    assert watched.returncode == 0, watched.stderr
    assert verdicts(jsonl(watched.stdout)) == expected


def test_watch_takes_the_context_options_as_scan_does(aws, tmp_path):
    boto3.client("s3").create_bucket(Bucket="trail")
    result = run_cli("watch", "s3://trail", "--state", str(tmp_path / "s.db"), "--once",
                     "--severity", "onboarding=Nope")
    assert result.returncode == 2 and "--severity" in result.stderr
    assert run_cli("watch", "s3://trail", "--state", str(tmp_path / "s.db"), "--once", "--no-context").returncode == 0


# -- settings ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, says", [
    (lambda: DetectionSettings.from_options(since="yesterday"), "--since"),
    (lambda: DetectionSettings.from_options(until="soon"), "--until"),
    (lambda: DetectionSettings.from_options(dedup_window="2 hours"), "--dedup-window"),
    (lambda: OutputSettings.from_options("xml"), "--format"),
    (lambda: OutputSettings.from_options("jsonl", "yaml"), "--log-format"),
    (lambda: ExecutionSettings(workers=0), "--workers"),
    (lambda: ExecutionSettings(engine="dask"), "--engine"),
    (lambda: WatchSettings.from_options(None, interval="often"), "--interval"),
    (lambda: WatchSettings.from_options(None, lookback="long"), "--lookback"),
])
def test_a_bad_option_is_a_config_error_naming_it(make, says):
    with pytest.raises(ConfigError, match=f"^{says}: "):
        make()


def test_options_are_parsed_once_into_typed_values():
    detection = DetectionSettings.from_options(["0xFF-0237"], since="2026-11-10", dedup_fields="EventID, AWSRegion",
                                               dedup_window="30m")
    assert detection.since is not None and detection.since.year == 2026
    assert detection.dedup_fields == ("EventID", "AWSRegion") and detection.dedup_window_s == 1800
    assert split_values(["111122223333,444455556666", " 777788889999 "]) == (
        "111122223333", "444455556666", "777788889999")
    inputs = InputSettings.from_options(["s3://b"], ["1,2"], ["us-east-1"])
    assert inputs.accounts == frozenset({"1", "2"}) and inputs.regions == ("us-east-1",)


def test_scan_checks_its_inputs_before_anything_is_opened(tmp_path):
    for settings, says in (
            (Settings(), "nothing to scan"),
            (Settings(InputSettings((str(tmp_path),), regions=("us-east-1",))), "--accounts/--regions"),
            (Settings(InputSettings(("s3://b",)), execution=ExecutionSettings(engine="spark")), "--engine spark"),
            (Settings(InputSettings((str(tmp_path / "nowhere"),))), "nowhere")):
        with pytest.raises(ConfigError, match=says):
            settings.check_scan()


def test_watch_needs_state_and_one_source():
    for settings, says in ((Settings(), "either --sqs-queue-url"),
                           (Settings(InputSettings(("s3://b",))), "--state FILE is required"),
                           (Settings(InputSettings(("./logs",)), state=Path("s.db")), "s3:// URLs only")):
        with pytest.raises(ConfigError, match=says):
            settings.check_watch()


def test_library_keywords_are_checked_by_name():
    settings = from_keywords(["logs"], since="2026-11-10T00:00:00Z", context=False, workers=2, state="s.db")
    assert settings.detection.since is not None and settings.detection.context.enabled is False
    assert settings.execution.workers == 2 and settings.state == Path("s.db")
    with pytest.raises(ConfigError, match="^workers: "):
        from_keywords([], workers="many")
    with pytest.raises(ConfigError, match="^colour: not a setting"):
        from_keywords([], colour="red")


# -- the Run -------------------------------------------------------------------------------------------

def test_a_run_is_built_and_checked_from_settings(tmp_path):
    with pytest.raises(ConfigError, match="^--dedup-fields: Nope"):
        Run.from_settings(Settings(detection=DetectionSettings(dedup_fields=("Nope",))))
    with pytest.raises(ConfigError, match="^--rule: "):
        Run.from_settings(Settings(detection=DetectionSettings(rules=("0xFF-0000",))))
    with pytest.raises(ConfigError, match="^--severity: "):
        Run.from_settings(Settings(detection=DetectionSettings(context=ContextSettings(severity=("x=High",)))))
    with pytest.raises(ConfigError, match="none.toml"):
        Run.from_settings(Settings(detection=DetectionSettings(allowlist=tmp_path / "none.toml")))
    assert dedup_fields_for(load_rules(), ("TargetUserName", "EventID")) == ("TargetUserName", "EventID")
    assert build_context(ContextSettings(enabled=False), load_rules()) == ((), ())
    collectors, enrichers = build_context(ContextSettings(), load_rules())
    assert len(collectors) == 1 and len(enrichers) == 1


def _logs(tmp_path: Path) -> str:
    write(tmp_path / "logs/a.json", {"Records": [record(eventID="e-1"), record(eventID="e-1"),
                                                 record(eventID="e-2", eventName="GetUser")]})
    return str(tmp_path / "logs")


def test_a_run_without_state_dedups_within_the_run_only(tmp_path):
    path = _logs(tmp_path)
    with Run.from_settings(Settings()) as run:
        assert run.state is None and run.enrichers  # context by default
        first = scan_paths(run, [path], workers=1)
        again = scan_paths(run, [path], workers=1)
    assert len(first.alerts) == len(again.alerts) == 1
    assert first.summary.duplicates == 1 and first.summary.records == 3


def test_a_run_with_state_admits_each_event_once_and_emission_marks_what_was_written(tmp_path):
    path, state = _logs(tmp_path), tmp_path / "state.db"
    written: list[str] = []
    with Run.from_settings(Settings(state=state)) as run:
        result = scan_paths(run, [path], workers=1)
        assert len(result.alerts) == 1
        run.emit(result.alerts, lambda alerts: written.extend(a.id for a in alerts))
        assert run.state is not None and run.state.pending() == 0
    assert written == [result.alerts[0].id]
    with Run.from_settings(Settings(state=state)) as run:
        assert scan_paths(run, [path], workers=1).summary.already_alerted == 1


def test_alerts_stored_but_never_written_come_back_on_the_next_run(tmp_path):
    path, state = _logs(tmp_path), tmp_path / "state.db"
    with Run.from_settings(Settings(state=state)) as run:
        stored = scan_paths(run, [path], workers=1).alerts  # a run killed before it wrote them out
    with Run.from_settings(Settings(state=state)) as run:
        again = scan_paths(run, [path], workers=1)
    assert [a.id for a in again.alerts] == [a.id for a in stored] and again.summary.redelivered == 1


def test_a_run_from_its_parts_takes_an_open_store(tmp_path):
    path = _logs(tmp_path)
    with StateStore(tmp_path / "state.db") as store:
        run = Run(rules_named(()), state=store)
        assert len(scan_inputs(run, iter_files([path])).alerts) == 1
        assert scan_inputs(run, iter_files([path])).alerts == []


def test_workers_are_never_more_than_the_inputs():
    assert workers_for(8, 3) == 3 and workers_for(None, 1) == 1 and workers_for(2, 0) == 1


def _result(origin: str, *records: dict) -> InputResult:
    result = InputResult(origin=origin)
    evaluate(records, load_rules(), ScanOptions(), result)
    return result


def test_finish_keeps_one_alert_per_event_the_copy_from_the_first_origin():
    run = Run(load_rules())
    done = run.finish([_result("s3://b/2.json", record(eventID="e-1")), _result("s3://b/1.json", record(eventID="e-1"))])
    assert [a.origin for a in done.alerts] == ["s3://b/1.json"] and done.summary.duplicates == 1


class _Escalates:
    """An enricher that ranks every alert Critical, as the context plug-in may."""

    def remember(self, related, state) -> None:
        pass

    def __call__(self, alerts, state) -> None:
        for alert in alerts:
            alert.row["Severity"] = "Critical"


def test_finish_recomputes_dedup_entity_after_an_enricher_changed_a_dedup_field():
    run = Run(load_rules(), ScanOptions(dedup_fields=("EventID", "Severity")), enrichers=(_Escalates(),))
    (alert,) = run.finish([_result("a.json", record(eventID="e-1"))]).alerts
    assert alert.row["DedupEntity"] == "e-1|Critical"


# -- the failed-call step: one place, one setting ------------------------------------------------------

def test_a_failed_call_is_ranked_once_with_the_same_setting_with_context_or_without(tmp_path):
    failed = record(False, eventID="failed", errorCode="AccessDenied")
    write(tmp_path / "a.json", [failed, record(False, eventID="undated", eventTime="garbage", errorCode="X")])
    for extra in ([], ["--no-context"]):
        out = run_cli("scan", str(tmp_path), "--format", "jsonl", "--severity", "failure_steps=2", *extra)
        rows = {r["EventID"]: r for r in jsonl(out.stdout)}
        # Medium two steps down, whether the identity context ranked it first or not ...
        assert rows["failed"]["Severity"] == "Informational", extra
        # ... and an alert whose time the context cannot read is still ranked as a failure.
        assert rows["undated"]["Severity"] == "Informational", extra
        if not extra:
            assert rows["failed"]["Reasons"][-1] == "Informational: the call failed (AccessDenied): 2 steps lower"
            assert sum("failed" in r for r in rows["failed"]["Reasons"]) == 1
        else:
            assert "Reasons" not in rows["failed"]
