"""Time trailhound against the floor and the usual tools, side by side, on the same files.

    python benchmarks/run.py CORPUS [--workers N] [--quick] [--json FILE]

CORPUS is what make_corpus.py wrote (CORPUS/AWSLogs, CORPUS/expected.txt). Contenders, each in its own
process so peak memory is its own: decompression alone with ISA-L and with the standard library (the
floor: no scanner can beat reading its input), `trailhound scan` with 1 and N workers, a plain orjson
parse-everything loop, jq, and DuckDB's read_json. jq and DuckDB run only where installed (make bench
installs both). Prints a markdown table: seconds, GB/s of JSON, ratios to the ISA-L floor and to 1
worker, peak RSS, and whether the contender found exactly the planted matches.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent

# Each contender prints the eventIDs it found, one per line (none for the decompression floors).
FLOOR = """
import sys
from {module} import open as gz_open
for path in sys.argv[1:]:
    with gz_open(path, "rb") as f:
        while f.read(8 << 20):
            pass
"""
ORJSON_LOOP = """
import sys, orjson
from isal.igzip import decompress
def text(v):
    return "" if v is None else ("true" if v is True else "false" if v is False else str(v))
for path in sys.argv[1:]:
    for r in orjson.loads(decompress(open(path, "rb").read()))["Records"]:
        req = r.get("requestParameters") or {}
        if (text(r.get("eventName")).lower() == "createloginprofile"
                and text(r.get("eventSource")).lower() == "iam.amazonaws.com"
                and text(r.get("eventType")).lower() == "awsapicall"
                and text(req.get("passwordResetRequired")).lower() == "false"):
            print(r["eventID"])
"""
JQ_FILTER = ('.Records[] | select((.eventName|ascii_downcase) == "createloginprofile" and '
             '(.eventSource|ascii_downcase) == "iam.amazonaws.com" and (.eventType|ascii_downcase) == "awsapicall" '
             'and ((.requestParameters.passwordResetRequired|tostring|ascii_downcase) == "false")) | .eventID')
DUCKDB = """
import sys, duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
rows = con.execute('''
    SELECT json_extract_string(r, '$.eventID') FROM (
        SELECT unnest(Records) AS r FROM read_json(?, columns = {'Records': 'JSON[]'}, compression = 'gzip',
                                                   format = 'unstructured', maximum_object_size = 1073741824))
    WHERE lower(json_extract_string(r, '$.eventName')) = 'createloginprofile'
      AND lower(json_extract_string(r, '$.eventSource')) = 'iam.amazonaws.com'
      AND lower(json_extract_string(r, '$.eventType')) = 'awsapicall'
      AND lower(json_extract_string(r, '$.requestParameters.passwordResetRequired')) = 'false'
''', [sys.argv[1]]).fetchall()
for (event_id,) in rows:
    print(event_id)
"""


def measure(cmd: list[str], shell: bool = False) -> tuple[float, int, list[str]]:
    """(seconds, peak RSS in bytes of the largest process in the tree, stdout lines)."""
    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, shell=shell)
    peak = 0
    watcher = psutil.Process(proc.pid)
    out_chunks: list[bytes] = []
    import threading

    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    while proc.poll() is None:
        try:
            for p in [watcher, *watcher.children(recursive=True)]:
                peak = max(peak, p.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    reader.join()
    seconds = time.perf_counter() - started
    lines = [line.strip() for line in b"".join(out_chunks).decode().splitlines() if line.strip()]
    return seconds, peak, lines


def contenders(files: list[str], root: str, workers: int) -> list[tuple[str, list[str], bool]]:
    py = sys.executable
    found = [
        ("decompress: ISA-L (floor)", [py, "-c", FLOOR.format(module="isal.igzip"), *files], False),
        ("decompress: gzip (stdlib)", [py, "-c", FLOOR.format(module="gzip"), *files], False),
        ("trailhound scan, 1 worker", [py, "-m", "trailhound", "scan", root, "--workers", "1", "--format", "jsonl"], False),
        (f"trailhound scan, {workers} workers", [py, "-m", "trailhound", "scan", root, "--workers", str(workers),
                                                 "--format", "jsonl"], False),
        ("trailhound --no-context, 1 worker", [py, "-m", "trailhound", "scan", root, "--workers", "1",
                                               "--no-context", "--format", "jsonl"], False),
        (f"trailhound --no-context, {workers} workers", [py, "-m", "trailhound", "scan", root, "--workers",
                                                         str(workers), "--no-context", "--format", "jsonl"], False),
        ("trailhound --no-prefilter, 1 worker", [py, "-m", "trailhound", "scan", root, "--workers", "1",
                                                 "--no-prefilter", "--format", "jsonl"], False),
        ("orjson parse-everything loop", [py, "-c", ORJSON_LOOP, *files], False),
    ]
    if shutil.which("jq"):
        listing = " ".join(f"'{f}'" for f in files)
        found.append(("jq", [f"for f in {listing}; do {py} -m isal.igzip -d -c \"$f\"; done | "
                             f"jq -r '{JQ_FILTER}'"], True))
    try:
        import duckdb  # noqa: F401
        found.append(("DuckDB read_json", [py, "-c", DUCKDB, f"{root}/**/*.json.gz"], False))
    except ImportError:
        pass
    return found


def event_ids(name: str, lines: list[str]) -> list[str]:
    if name.startswith("trailhound"):
        return sorted(orjson.loads(line)["EventID"] for line in lines if line.startswith("{"))
    return sorted(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="skip the slow --no-prefilter run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    root = str(args.corpus / "AWSLogs")
    files = sorted(str(p) for p in Path(root).rglob("*.json.gz"))
    expected = sorted((args.corpus / "expected.txt").read_text().split())
    json_bytes = _json_bytes(files)
    rows = []
    for name, cmd, shell in contenders(files, root, args.workers):
        if args.quick and "--no-prefilter" in name:
            continue
        seconds, peak, lines = measure(cmd[0] if shell else cmd, shell)
        matches = None if name.startswith("decompress") else event_ids(name, lines)
        rows.append({"name": name, "seconds": seconds, "peak_rss": peak,
                     "agree": None if matches is None else matches == expected, "found": matches})
    _print_table(rows, json_bytes, len(files), len(expected))
    if args.json:
        args.json.write_text(orjson.dumps({"files": len(files), "json_bytes": json_bytes, "rows": rows}).decode())
    return 0 if all(r["agree"] in (None, True) for r in rows) else 1


def _json_bytes(files: list[str]) -> int:
    from isal.igzip import decompress

    return sum(len(decompress(Path(f).read_bytes())) for f in files)


def _print_table(rows: list[dict], json_bytes: int, files: int, planted: int) -> None:
    floor = next(r["seconds"] for r in rows if "ISA-L" in r["name"])
    one = next((r["seconds"] for r in rows if r["name"] == "trailhound scan, 1 worker"), None)
    print(f"{files} files, {json_bytes / 1e9:.2f} GB of JSON, {planted} planted matches\n")
    print("| contender | seconds | GB/s of JSON | x ISA-L floor | speed-up vs 1 worker | peak RSS | matches |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        agree = "-" if r["agree"] is None else ("identical" if r["agree"] else f"DIFFER ({len(r['found'])})")
        vs_one = f"{one / r['seconds']:.2f}x" if one and r["name"].startswith("trailhound") else ""
        print(f"| {r['name']} | {r['seconds']:.2f} | {json_bytes / r['seconds'] / 1e9:.2f} | "
              f"{r['seconds'] / floor:.2f} | {vs_one} | {r['peak_rss'] / 2**20:.0f} MB | {agree} |")


if __name__ == "__main__":
    sys.exit(main())
