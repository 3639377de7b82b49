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


@pytest.fixture(scope="module")
def big_records(big_plain, tmp_path_factory) -> Path:
    """The same records as one `{"Records":[...]}` document on one line, CloudTrail's own layout."""
    path = tmp_path_factory.mktemp("stream") / "big.json"
    lines = big_plain.read_bytes().rstrip(b"\n").split(b"\n")
    path.write_bytes(b'{"Records":[' + b",".join(lines) + b"]}")
    return path


BOUND = 200 * MB  # a 300 MB input read whole would take its size, and its parse several times more


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads peak memory from Linux's /proc")
@pytest.mark.parametrize("shape", ["ndjson", "records"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("args", [(), ("--no-context",)], ids=["context", "no-context"])
def test_a_300_mb_input_is_scanned_in_memory_bounded_by_the_chunk(big_plain, big_records, tmp_path, shape, gz,
                                                                   args):
    path = big_plain if shape == "ndjson" else big_records
    size = path.stat().st_size  # decompressed
    if gz:
        packed = tmp_path / (path.name + ".gz")
        packed.write_bytes(igzip.compress(path.read_bytes(), 0))
        path = packed
    run, peak = _scan_peak(tmp_path, path, "--workers", "1", *args)
    assert run.returncode == 0, run.stderr
    assert [a["EventID"] for a in jsonl(run.stdout)] == ["late-hit"]
    assert peak < BOUND, f"peak RSS {peak / MB:.0f} MB for a {size / MB:.0f} MB input"


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads peak memory from Linux's /proc")
def test_without_the_prefilter_every_record_is_parsed_a_window_at_a_time(big_records, tmp_path):
    run, peak = _scan_peak(tmp_path, big_records, "--workers", "1", "--no-prefilter", "--no-context")
    assert run.returncode == 0, run.stderr
    assert [a["EventID"] for a in jsonl(run.stdout)] == ["late-hit"]
    assert peak < BOUND, f"peak RSS {peak / MB:.0f} MB for a {big_records.stat().st_size / MB:.0f} MB input"


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads peak memory from Linux's /proc")
def test_a_big_ndjson_file_over_two_workers_gives_the_same_alerts(big_plain, tmp_path):
    run, _ = _scan_peak(tmp_path, big_plain, "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert [a["EventID"] for a in jsonl(run.stdout)] == ["late-hit"]
    assert "1 input(s)" in run.stderr


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
