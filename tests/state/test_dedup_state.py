"""De-duplication: within a run by event, across runs through the SQLite state store and the dedup window."""

from __future__ import annotations

import sqlite3
import time

from trailhound.alerts.alert import dedup_entity
from trailhound.engine.evaluate import ScanOptions
from trailhound.engine.rules import load_rules
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.sources.files import iter_files
from trailhound.state.store import StateStore

from ..helpers import record, write


def scan(paths, state=None, fields=("EventID",), window=7200.0):
    run = Run(load_rules(), ScanOptions(dedup_fields=tuple(fields)), state=state, dedup_window_s=window)
    return scan_inputs(run, iter_files([str(p) for p in paths]))


def test_dedup_entity_joins_fields_sorted_by_name():
    row = {"TimeGenerated": "t", "AWSRegion": "r", "EventID": "e"}
    assert dedup_entity(row, ["TimeGenerated", "EventID", "AWSRegion"]) == "r|e|t"
    assert dedup_entity(row, ["TimeGenerated"]) == "t"


def test_same_event_in_several_files_alerts_once(tmp_path):
    rec = record()
    write(tmp_path / "a.json", {"Records": [rec]})
    write(tmp_path / "b.json.gz", {"Records": [rec]}, gz=True)
    write(tmp_path / "c.jsonl", [rec])
    result = scan([tmp_path])
    assert len(result.alerts) == 1 and result.summary.matches == 3 and result.summary.duplicates == 2


def test_default_dedup_entity_is_the_event_id(tmp_path):
    write(tmp_path / "a.json", [record()])
    (alert,) = scan([tmp_path]).alerts
    assert alert.row["DedupEntity"] == "11111111-2222-4333-8444-555555555555"


def test_time_generated_dedup_reproduces_the_original(tmp_path):
    write(tmp_path / "a.json", [record()])
    (alert,) = scan([tmp_path], fields=["TimeGenerated"]).alerts
    assert alert.row["DedupEntity"] == "2026-11-27T14:06:00Z"


def test_state_remembers_alerts_so_a_rerun_emits_nothing(tmp_path):
    write(tmp_path / "logs/a.json", [record()])
    with StateStore(tmp_path / "state.db") as state:
        assert len(scan([tmp_path / "logs"], state).alerts) == 1
    with StateStore(tmp_path / "state.db") as state:
        again = scan([tmp_path / "logs"], state)
        assert again.alerts == [] and again.summary.already_alerted == 1
        assert state.count("alerts") == 1


def test_same_event_never_alerts_twice_even_after_the_window(tmp_path):
    write(tmp_path / "logs/a.json", [record()])
    with StateStore(tmp_path / "state.db") as state:
        scan([tmp_path / "logs"], state, window=1)
    time.sleep(1.1)
    with StateStore(tmp_path / "state.db") as state:
        assert scan([tmp_path / "logs"], state, window=1).alerts == []


def test_other_event_with_same_dedup_entity_is_suppressed_within_the_window(tmp_path):
    write(tmp_path / "one/a.json", [record(eventID="e-1")])
    write(tmp_path / "two/a.json", [record(eventID="e-2")])  # same TimeGenerated, another event
    with StateStore(tmp_path / "state.db") as state:
        assert len(scan([tmp_path / "one"], state, fields=["TimeGenerated"]).alerts) == 1
    with StateStore(tmp_path / "state.db") as state:
        later = scan([tmp_path / "two"], state, fields=["TimeGenerated"])
        assert later.alerts == [] and later.summary.within_window == 1


def test_other_event_with_same_dedup_entity_alerts_once_the_window_has_passed(tmp_path):
    write(tmp_path / "one/a.json", [record(eventID="e-1")])
    write(tmp_path / "two/a.json", [record(eventID="e-2")])
    with StateStore(tmp_path / "state.db") as state:
        scan([tmp_path / "one"], state, fields=["TimeGenerated"], window=1)
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute("UPDATE alerts SET raised_at = raised_at - 10")
    db.commit()
    db.close()
    with StateStore(tmp_path / "state.db") as state:
        assert len(scan([tmp_path / "two"], state, fields=["TimeGenerated"], window=1).alerts) == 1


def test_within_one_run_only_the_same_event_is_deduplicated(tmp_path):
    # Like the original: rows of one query are not de-duplicated against each other by DedupEntity.
    write(tmp_path / "a.json", [record(eventID="e-1"), record(eventID="e-2")])
    with StateStore(tmp_path / "state.db") as state:
        assert len(scan([tmp_path], state, fields=["TimeGenerated"]).alerts) == 2


def test_event_without_an_id_is_keyed_by_its_content(tmp_path):
    rec = record(eventID=None)
    write(tmp_path / "a.json", [rec])
    write(tmp_path / "b.json", {"Records": [rec]})
    (alert,) = scan([tmp_path]).alerts
    assert alert.row["EventID"].startswith("sha1:")


def test_output_is_sorted_by_event_time_then_id(tmp_path):
    write(tmp_path / "z.json", [record(eventID="b", eventTime="2026-11-27T10:00:00Z")])
    write(tmp_path / "a.json", [record(eventID="c", eventTime="2026-11-27T12:00:00Z"),
                                record(eventID="a", eventTime="2026-11-27T10:00:00Z")])
    assert [a.row["EventID"] for a in scan([tmp_path]).alerts] == ["a", "b", "c"]
