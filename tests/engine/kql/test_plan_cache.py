"""The plan cache: a query parsed once loads from disk in later runs, without importing Lark."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"
QUERY = 'AWSCloudTrail | where EventName =~ "CreateLoginProfile" | project TimeGenerated, EventName'
PROBE = """
import sys
from trailhound.engine.kql.plan import parse_query
plan = parse_query(sys.argv[1])
print("lark" in sys.modules, type(plan.statements[-1]).__name__)
"""


def _parse_in_fresh_process(cache: Path, query: str) -> str:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", PROBE, query], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_a_parsed_query_loads_from_the_cache_without_lark(tmp_path):
    assert _parse_in_fresh_process(tmp_path, QUERY) == "True Pipeline"  # first run: Lark parses, plan kept
    assert len(list((tmp_path / "trailhound" / "kql-plans").glob("*.pickle"))) == 1
    assert _parse_in_fresh_process(tmp_path, QUERY) == "False Pipeline"  # later runs: no parser at all


def test_a_different_text_is_parsed_not_served_from_the_cache(tmp_path):
    _parse_in_fresh_process(tmp_path, QUERY)
    assert _parse_in_fresh_process(tmp_path, QUERY + " | take 1").startswith("True")


def test_a_damaged_cache_entry_is_parsed_again(tmp_path, monkeypatch):
    from trailhound.engine.kql import plan

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = plan.parse_query(QUERY)
    (entry,) = (tmp_path / "trailhound" / "kql-plans").glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    assert plan.parse_query(QUERY) == first
    assert entry.read_bytes() != b"not a pickle"  # rewritten whole
