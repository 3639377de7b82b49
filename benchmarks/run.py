"""Time trailhound against the floor and the usual tools, side by side, on the same files.

    python benchmarks/run.py CORPUS [--workers N] [--repeat 5] [--quick] [--json FILE]

CORPUS is what make_corpus.py wrote (CORPUS/AWSLogs, CORPUS/expected.txt). Contenders, each in its own
process so peak memory is its own: decompression alone with ISA-L and with the standard library (the
floor: no scanner can beat reading its input), `trailhound scan` with 1 and N workers, the spec's KQL text
(`--rules ../shared/spec/0xFF-0237.md`, where that file is) against the native rule, a plain orjson
parse-everything loop, jq, and DuckDB's read_json; and a bound, the least an exact needle prefilter does
(decompress, one needle search). jq and DuckDB run only where installed (make bench installs both). Each
contender under 10 s runs five times, in rounds, and its median run counts. Prints a markdown table: seconds, CPU
seconds, GB/s of JSON, ratios to the ISA-L floor and to 1 worker, peak RSS, and whether the contender found
exactly the planted matches; then trailhound's speed-up over jq and DuckDB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Container
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
# Not a scanner: the least any exact needle prefilter does per file here (ISA-L, one hyperscan search for the
# rule's needle, the stringzilla check for escapes). It shows how close to the floor such a design can get.
# {module}.open reads the files: isal.igzip here, io for plain files (big_files.py).
BOUND = """
import os, sys, hyperscan
from {module} import open as gz_open
from stringzilla import find_first_of
db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
db.compile(expressions=[b"createloginprofile"], flags=[hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH])
scratch = hyperscan.Scratch(db)
for path in sys.argv[1:]:
    with gz_open(path, "rb") as f:
        while data := f.read(8 << 20):  # the floor's reads; a needle across two reads is not looked for
            find_first_of(data, b"\\\\\\xc4\\xe2")
            db.scan(data, match_event_handler=lambda *a: None, scratch=scratch)
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
# The rule as jq over one record and as SQL over one record `r`; big_files.py runs them on other shapes too.
JQ_SELECT = ('select((.eventName|ascii_downcase) == "createloginprofile" and '
             '(.eventSource|ascii_downcase) == "iam.amazonaws.com" and (.eventType|ascii_downcase) == "awsapicall" '
             'and ((.requestParameters.passwordResetRequired|tostring|ascii_downcase) == "false")) | .eventID')
JQ_FILTER = ".Records[] | " + JQ_SELECT
DUCKDB_WHERE = """
    WHERE lower(json_extract_string(r, '$.eventName')) = 'createloginprofile'
      AND lower(json_extract_string(r, '$.eventSource')) = 'iam.amazonaws.com'
      AND lower(json_extract_string(r, '$.eventType')) = 'awsapicall'
      AND lower(json_extract_string(r, '$.requestParameters.passwordResetRequired')) = 'false'
"""
DUCKDB_SQL = """
    SELECT json_extract_string(r, '$.eventID') FROM (
        SELECT unnest(Records) AS r FROM read_json(?, columns = {'Records': 'JSON[]'}, compression = 'gzip',
                                                   format = 'unstructured', maximum_object_size = 1073741824))
""" + DUCKDB_WHERE
# Runs argv[1], a query with one parameter (the files it reads, argv[2]), and prints the eventIDs it selects.
DUCKDB = """
import sys, duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
for (event_id,) in con.execute(sys.argv[1], [sys.argv[2]]).fetchall():
    print(event_id)
"""


# The spec's own KQL (published FalconForce text, read from ../shared, never copied here). Its rule declares no
# context plug-in, so it is held against the native rule without context: the same work, query for code.
SPEC = HERE.parents[1] / "shared" / "spec" / "0xFF-0237.md"  # HERE is benchmarks/: ../../shared
KQL_SPEC = "trailhound scan --rules spec (KQL), 1 worker"
KQL_NATIVE = "trailhound --no-context, 1 worker"


# GNU time runs each contender from a process of ~2 MB. Started straight from this one, a contender's peak
# RSS would count this harness's (the kernel keeps the larger of the two across exec).
TIME = "/usr/bin/time"


def measure(cmd: list[str] | str, shell: bool = False) -> tuple[float, float, int, list[str]]:
    """(wall seconds, CPU seconds, peak RSS in bytes of the largest process in the tree, stdout lines).

    All from the kernel's accounting of the finished process (wait4, GNU time's %M): CPU time and peak RSS
    include every child it waited for (pool workers, jq behind its shell), and the clock stops when the
    process does. Nothing samples while it runs: on two cores a sampler would steal time from it.
    """
    import tempfile
    import threading

    argv = ["sh", "-c", cmd] if shell else list(cmd)
    with tempfile.NamedTemporaryFile("r") as peak_file:
        wrapped = [TIME, "-f", "%M", "-o", peak_file.name, *argv] if os.access(TIME, os.X_OK) else argv
        started = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out_chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        reader.join()
        text = peak_file.read().strip().splitlines()
    peak_kib = int(text[-1]) if wrapped is not argv and text and text[-1].isdigit() else usage.ru_maxrss
    lines = [line.strip() for line in b"".join(out_chunks).decode().splitlines() if line.strip()]
    return seconds, usage.ru_utime + usage.ru_stime, peak_kib * 1024, lines


Run = tuple[float, float, int, list[str]]  # what measure returns


def run_rounds(chosen: list[tuple[str, list[str], bool]], rounds: int, once_over: float = 10.0,
               once: Container[str] = ()) -> dict[str, list[Run]]:
    """Each contender's runs: every contender once per round, so a slow spell of a shared machine hits them
    all alike. One whose first run took `once_over` seconds or more, or named in `once`, runs in the first
    round only. A shell contender's command is its list's one string."""
    runs: dict[str, list[Run]] = {name: [] for name, _, _ in chosen}
    for round_ in range(max(1, rounds)):
        for name, cmd, shell in chosen:
            if round_ == 0 or (name not in once and runs[name][0][0] < once_over):
                runs[name].append(measure(cmd[0] if shell else cmd, shell))
    return runs


def median_run(runs: list[Run]) -> Run:
    """The run a table row shows: the median by wall time (the upper one of an even count)."""
    return sorted(runs, key=lambda run: run[0])[len(runs) // 2]


def contenders(files: list[str], root: str, workers: int) -> list[tuple[str, list[str], bool]]:
    py = sys.executable
    found = [
        ("decompress: ISA-L (floor)", [py, "-c", FLOOR.format(module="isal.igzip"), *files], False),
        ("decompress: gzip (stdlib)", [py, "-c", FLOOR.format(module="gzip"), *files], False),
        ("bound: decompress + one needle search", [py, "-c", BOUND.format(module="isal.igzip"), *files], False),
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
    if SPEC.exists():  # the spec's KQL text run as written, in place of the native rule (issue 14)
        found.insert(7, (KQL_SPEC, [py, "-m", "trailhound", "scan", root, "--workers", "1", "--no-context",
                                    "--rules", str(SPEC), "--format", "jsonl"], False))
    if shutil.which("jq"):
        listing = " ".join(f"'{f}'" for f in files)
        found.append(("jq", [f"for f in {listing}; do {py} -m isal.igzip -d -c \"$f\"; done | "
                             f"jq -r '{JQ_FILTER}'"], True))
    try:
        import duckdb  # noqa: F401
        found.append(("DuckDB read_json", [py, "-c", DUCKDB, DUCKDB_SQL, f"{root}/**/*.json.gz"], False))
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
    parser.add_argument("--repeat", type=int, default=5,
                        help="rounds: each contender under 10 s runs this often; its median run counts")
    parser.add_argument("--quick", action="store_true",
                        help="skip the slow --no-prefilter run and run each contender once")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    root = str(args.corpus / "AWSLogs")
    files = sorted(str(p) for p in Path(root).rglob("*.json.gz"))
    expected = sorted((args.corpus / "expected.txt").read_text().split())
    json_bytes = _json_bytes(files)
    chosen = [c for c in contenders(files, root, args.workers) if not (args.quick and "--no-prefilter" in c[0])]
    runs = run_rounds(chosen, 1 if args.quick else args.repeat)
    rows = []
    for name, _, _ in chosen:
        seconds, cpu, _, lines = median_run(runs[name])
        matches = None if name.startswith(("decompress", "bound")) else event_ids(name, lines)
        rows.append({"name": name, "seconds": seconds, "cpu": cpu, "peak_rss": max(r[2] for r in runs[name]),
                     "runs": [round(r[0], 3) for r in runs[name]],
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
    by_name = {r["name"]: r["seconds"] for r in rows}
    print(f"{files} files, {json_bytes / 1e9:.2f} GB of JSON, {planted} planted matches\n")
    print("| contender | seconds | CPU s | GB/s of JSON | x ISA-L floor | speed-up vs its 1 worker | peak RSS | "
          "matches |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        agree = "-" if r["agree"] is None else ("identical" if r["agree"] else f"DIFFER ({len(r['found'])})")
        one = by_name.get(r["name"].split(",")[0] + ", 1 worker") if r["name"].startswith("trailhound") else None
        vs_one = f"{one / r['seconds']:.2f}x" if one and not r["name"].endswith(", 1 worker") else ""
        print(f"| {r['name']} | {r['seconds']:.2f} | {r['cpu']:.2f} | {json_bytes / r['seconds'] / 1e9:.2f} | "
              f"{r['seconds'] / floor:.2f} | {vs_one} | {r['peak_rss'] / 2**20:.0f} MB | {agree} |")
    if KQL_SPEC in by_name and KQL_NATIVE in by_name:
        print(f"\nThe spec's KQL text against the native rule (both 1 worker, no context): "
              f"{by_name[KQL_SPEC] / by_name[KQL_NATIVE]:.2f}x its time")
    others = {name: by_name[name] for name in ("jq", "DuckDB read_json") if name in by_name}
    if others:
        print("\nHow many times faster than the other tools (their seconds / trailhound's):\n")
        print("| trailhound | " + " | ".join(f"vs {n}" for n in others) + " |")
        print("|---|" + "---:|" * len(others))
        for r in rows:
            if r["name"].startswith("trailhound") and "--no-prefilter" not in r["name"]:
                print(f"| {r['name'].removeprefix('trailhound ')} | "
                      + " | ".join(f"{s / r['seconds']:.1f}x" for s in others.values()) + " |")


if __name__ == "__main__":
    sys.exit(main())
