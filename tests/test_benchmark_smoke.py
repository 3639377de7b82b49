"""The benchmark runs end to end and every contender finds exactly the planted matches (no timings here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_quick_benchmark_contenders_agree_on_the_matches(tmp_path):
    made = subprocess.run([sys.executable, str(BENCH / "make_corpus.py"), str(tmp_path / "c"), "--quick"],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    ran = subprocess.run([sys.executable, str(BENCH / "run.py"), str(tmp_path / "c"), "--quick", "--workers", "2",
                          "--json", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    rows = orjson.loads((tmp_path / "r.json").read_text())["rows"]
    planted = sorted((tmp_path / "c/expected.txt").read_text().split())
    scanners = [r for r in rows if r["found"] is not None]
    assert len(planted) == 4 and {"trailhound scan, 1 worker", "orjson parse-everything loop"} <= {r["name"] for r in scanners}
    assert all(r["found"] == planted for r in scanners), [(r["name"], r["found"]) for r in scanners]
    assert "| x ISA-L floor |" in ran.stdout
