"""Every core, deterministic output, bounded memory: what `--workers` and streaming promise."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import orjson
import pytest
from isal import igzip

from trailhound.demo import write_demo

from ..helpers import jsonl, record, run_cli, write


def test_workers_give_the_same_output_in_the_same_order(tmp_path):
    write_demo(tmp_path / "logs", hours=24, events_per_file=10)
    write(tmp_path / "logs/zz-broken.json", b'{"Records": [{"eventName": "CreateLoginProfile", ')
    one = run_cli("scan", str(tmp_path / "logs"), "--workers", "1")
    two = run_cli("scan", str(tmp_path / "logs"), "--workers", "2")
    assert one.returncode == two.returncode == 1  # the broken file is named by either
    assert one.stdout == two.stdout and len(jsonl(one.stdout)) == 3
    assert [line for line in one.stderr.splitlines() if "warning" in line] == \
           [line for line in two.stderr.splitlines() if "warning" in line]
    times = [(a["TimeGenerated"], a["EventID"]) for a in jsonl(two.stdout)]
    assert times == sorted(times)


def test_no_prefilter_option_gives_the_same_alerts(tmp_path):
    write_demo(tmp_path / "logs", hours=24, events_per_file=5)
    fast = run_cli("scan", str(tmp_path / "logs"))
    slow = run_cli("scan", str(tmp_path / "logs"), "--no-prefilter")
    assert fast.stdout == slow.stdout and "skipped unparsed" in fast.stderr and "skipped unparsed" not in slow.stderr


def test_bad_worker_count_is_a_usage_error(tmp_path):
    write(tmp_path / "a.json", {"Records": [record()]})
    result = run_cli("scan", str(tmp_path), "--workers", "0")
    assert result.returncode == 2 and "--workers" in result.stderr


# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a child started from this (big)
# test process would report the parent's size.
_PEAK = textwrap.dedent("""
    import sys
    from trailhound.run.local import scan_inputs
    from trailhound.run.pipeline import Run
    from trailhound.engine.rules import load_rules
    from trailhound.sources.files import iter_files
    result = scan_inputs(Run(load_rules()), iter_files(sys.argv[1:]))
    hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0].split()[1]
    print(len(result.alerts), result.summary.bad_inputs, hwm)
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads peak memory from Linux's /proc")
def test_a_200_mb_file_and_a_30_mb_string_stay_under_300_mb(tmp_path):
    filler = orjson.dumps(record(eventName="GetUser", eventID="f"))
    count = 200_000_000 // (len(filler) + 1)
    body = b'{"Records":[' + b",".join([filler] * count) + b"," + orjson.dumps(record(eventID="late")) + b"]}"
    (tmp_path / "big.json.gz").write_bytes(igzip.compress(body, 0))
    del body
    huge = record(eventID="long", userAgent="CreateLoginProfile " + "x" * 30_000_000)
    write(tmp_path / "long.json", {"Records": [huge]})
    out = subprocess.run([sys.executable, "-c", _PEAK, str(tmp_path / "big.json.gz"), str(tmp_path / "long.json")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    alerts, bad, peak_kb = out.stdout.split(" ", 1)[0], out.stdout.rsplit(" ", 1)[0], int(out.stdout.split()[-1])
    assert alerts == "2" and "[]" in bad
    assert peak_kb < 300 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"
