"""The bundled story: the planted attack alerts, the decoys do not."""

from __future__ import annotations

from trailhound.demo import ATTACKER_IP, write_demo
from trailhound.engine.evaluate import ScanOptions
from trailhound.engine.rules import load_rules
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.sources.files import iter_files


def test_demo_data_holds_the_planted_story(tmp_path):
    files = write_demo(tmp_path, hours=24, events_per_file=20)
    assert all("/CloudTrail/" in str(f) and str(f).endswith(".json.gz") for f in files)
    result = scan_inputs(Run(load_rules()), iter_files([str(tmp_path)]))
    rows = {a.row["TargetUserName"]: a.row for a in result.alerts}
    assert set(rows) == {"j.doe", "backup-admin", "svc-reporting"}
    attack = rows["svc-reporting"]
    assert attack["SourceIpAddress"] == ATTACKER_IP and attack["UserIdentityUserName"] == "ci-deploy"
    assert attack["Outcome"] == "success" and rows["backup-admin"]["Outcome"] == "failure"
    assert result.summary.bad_inputs == []
    # The digest file holds no needle: the prefilter skips it unparsed; without it, it is parsed and skipped.
    assert result.summary.prefiltered >= 1 and result.summary.skipped == 0
    plain = scan_inputs(Run(load_rules(), ScanOptions(prefilter=False)), iter_files([str(tmp_path)]))
    assert plain.summary.skipped == 1 and plain.summary.prefiltered == 0


def test_demo_data_is_reproducible(tmp_path):
    a = write_demo(tmp_path / "a", hours=2, events_per_file=5)
    b = write_demo(tmp_path / "b", hours=2, events_per_file=5)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
