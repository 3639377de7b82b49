"""Every input is streamed from its source: memory follows the chunk, not the file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest
from isal import igzip

from trailhound.engine.evaluate import ScanOptions
from trailhound.engine.rules import load_rules
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.sources.files import FileInput

from ..helpers import jsonl, record

MB = 1 << 20

# The CLI in a child, which writes its own peak RSS (VmHWM) when it exits. Not getrusage's ru_maxrss: Linux
# carries it across exec, so a child started from this (big) test process would report the parent's size.
_CLI_PEAK = textwrap.dedent("""
    import atexit, sys
    def peak(path):
        hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0].split()[1]
        open(path, "w").write(hwm)
    atexit.register(peak, sys.argv[1])
    sys.argv = ["trailhound", *sys.argv[2:]]
    from trailhound.cli import main
    main()
""")


def _ndjson(size: int) -> bytes:
    """About `size` bytes of NDJSON: unrelated EC2 calls in big repeated blocks, one hit near the end."""
    filler = orjson.dumps(record(eventSource="ec2.amazonaws.com", eventName="DescribeInstances", eventID="f",
                                 requestParameters={"maxResults": 5})) + b"\n"
    block = filler * (MB // len(filler))
    count = size // len(block)
    hit = orjson.dumps(record(eventID="late-hit")) + b"\n"
    return block * (count - 2) + hit + block * 2


@pytest.fixture(scope="module")
def big_plain(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "big.jsonl"
    path.write_bytes(_ndjson(300 * MB))
    return path


def _scan_peak(tmp_path: Path, path: Path, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    peak_file = tmp_path / "peak"
    run = subprocess.run([sys.executable, "-c", _CLI_PEAK, str(peak_file), "scan", str(path), *args],
                         capture_output=True, text=True, timeout=300)
    return run, int(peak_file.read_text()) * 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads peak memory from Linux's /proc")
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_a_300_mb_input_is_scanned_in_far_less_memory_than_its_size(big_plain, tmp_path, gz):
    path = big_plain
    if gz:
        path = tmp_path / "big.jsonl.gz"
        path.write_bytes(igzip.compress(big_plain.read_bytes(), 0))
    size = big_plain.stat().st_size  # decompressed
    run, peak = _scan_peak(tmp_path, path)
    assert run.returncode == 0, run.stderr
    assert [a["EventID"] for a in jsonl(run.stdout)] == ["late-hit"]
    # Read whole, the file alone would take its size, and the reader another 100 MB beside it.
    assert peak < 0.7 * size, f"peak RSS {peak / MB:.0f} MB for a {size / MB:.0f} MB input"


def _no_read(self: FileInput) -> bytes:
    raise AssertionError(f"{self.path} was read whole")


@pytest.mark.parametrize("prefilter", [True, False], ids=["prefilter", "no-prefilter"])
def test_a_file_is_streamed_never_read_whole(tmp_path, monkeypatch, prefilter):
    monkeypatch.setattr(FileInput, "read", _no_read)
    plain = tmp_path / "a.jsonl"
    plain.write_bytes(orjson.dumps(record(eventID="plain")) + b"\n")
    packed = tmp_path / "b.json.gz"
    packed.write_bytes(igzip.compress(orjson.dumps({"Records": [record(eventID="packed")]})))
    result = scan_inputs(Run(load_rules(), ScanOptions(prefilter=prefilter)),
                         [FileInput(str(plain)), FileInput(str(packed))])
    assert sorted(a.row["EventID"] for a in result.alerts) == ["packed", "plain"]
    assert result.summary.bad_inputs == []
