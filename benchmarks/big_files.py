"""Big files: the benchmark corpus's records as ONE file in each shape, timed beside the small files.

    python benchmarks/big_files.py CORPUS [--scale 1] [--workers N] [--repeat 3] [--quick] [--json FILE]

CORPUS is what make_corpus.py wrote (CORPUS/AWSLogs, CORPUS/expected.txt). Written once under CORPUS/big-SCALE/
(reused while complete): the corpus's records, in the order trailhound reads its files, SCALE times over, as
one `{"Records":[...]}` document on one line (CloudTrail's own layout), the same gzipped, one record per line
(NDJSON), and that gzipped. Then, side by side in rounds (run.py's), each contender in its own process:
trailhound on the small files and on each big file (1 worker, and N on the plain ones, with and without
context), the floors (ISA-L decompression; for plain files a read loop, `grep -c`, the literal search, and
run.py's bound: the reads plus one hyperscan search for the needle, the least an exact prefilter does),
`--no-prefilter` once per big file at scale 1, DuckDB's read_json on each big file and jq where it fits.

Repeated records keep their eventIDs, so the planted matches are the expected alerts at any scale: trailhound
alerts once per event, and must print exactly the planted eventIDs and the very alerts (severities, reasons,
context) that its small-file run of the same mode prints. DuckDB and jq print a row per copy: their SET of
eventIDs is compared. Prints one markdown table (per byte ratios: a big file at scale K holds K times the
small files' JSON) and, with --json, writes the rows. Exit status 1 when any contender's matches differ.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import orjson
from isal import igzip

from run import BOUND, DUCKDB, DUCKDB_WHERE, FLOOR, JQ_FILTER, JQ_SELECT, Run, event_ids, median_run, run_rounds
from trailhound.sources.files import iter_files

SHAPES = ("records.json", "records.json.gz", "records.ndjson", "records.ndjson.gz")
MANIFEST = "manifest.json"
GZIP_LEVEL = 3  # ISA-L's best (its levels are 0-3): close to gzip -6's ratio, written at hundreds of MB/s
ONCE_OVER = 60.0  # seconds: a contender slower than this runs in the first round only
JQ_DOCUMENT_LIMIT = 1.5e9  # JSON bytes: jq holds a whole document, ~10x its size, in memory
EXIT = "__exit="  # the wrapper's last line: the contender's exit status

# The plain-file floor: reading the bytes, nothing else (into one buffer: no allocation per read).
READ = """
import sys
buffer = bytearray(8 << 20)
with open(sys.argv[1], "rb", buffering=0) as f:
    while f.readinto(buffer):
        pass
"""


def duckdb_records(limit: int) -> str:
    """DuckDB's query over a Records document: one JSON object, which DuckDB reads whole, so its
    maximum_object_size (a UINTEGER: at most 4 GiB) must exceed the file, as a user finds out."""
    return f"""
    SELECT json_extract_string(r, '$.eventID') FROM (
        SELECT unnest(Records) AS r FROM read_json(?, columns = {{'Records': 'JSON[]'}}, format = 'unstructured',
                                                   maximum_object_size = {limit}))
""" + DUCKDB_WHERE


# NDJSON as a user would read it: typed columns, the request kept as JSON (its keys vary by call).
DUCKDB_NDJSON = """
    SELECT eventID FROM read_json(?, format = 'newline_delimited',
                                  columns = {'eventID': 'VARCHAR', 'eventName': 'VARCHAR', 'eventSource': 'VARCHAR',
                                             'eventType': 'VARCHAR', 'requestParameters': 'JSON'})
    WHERE lower(eventName) = 'createloginprofile' AND lower(eventSource) = 'iam.amazonaws.com'
      AND lower(eventType) = 'awsapicall'
      AND lower(json_extract_string(requestParameters, '$.passwordResetRequired')) = 'false'
"""
UINT32_MAX = 2**32 - 1


@dataclass
class Contender:
    name: str
    argv: list[str]  # or a shell command line as its one item, when shell
    input: str  # "small files" or one of SHAPES
    kind: str  # "trailhound", "floor" or "tool" (DuckDB, jq)
    mode: str = ""  # rows of one mode are compared: "scan" (with context), "no-context", "isal" (the floor)
    workers: int = 1
    shell: bool = False
    once: bool = False  # slow by design (--no-prefilter): one run
    ok_exits: tuple[int, ...] = (0,)


def small_files(corpus: Path) -> list[str]:
    """The corpus's delivery files in the order trailhound reads them (its own folder walk)."""
    return [item.path for item in iter_files([str(corpus / "AWSLogs")]) if item.path.endswith(".json.gz")]


def write_big(corpus: Path, files: list[str], scale: int) -> dict:
    """CORPUS/big-SCALE/ in every shape, streamed one small file at a time; reused while its manifest says it
    is complete and was written from these files. Written under a temporary name, renamed when done."""
    folder = corpus / f"big-{scale}"
    source = {"scale": scale, "files": len(files), "stored_bytes": sum(os.stat(f).st_size for f in files)}
    done = _complete(folder, source)
    if done is not None:
        return done
    print(f"writing {folder} (scale {scale}) ...", file=sys.stderr)
    partial = corpus / f"big-{scale}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    records = small_json = 0
    with ExitStack() as stack:
        plain = stack.enter_context(open(partial / "records.json", "wb"))
        zipped = stack.enter_context(igzip.open(partial / "records.json.gz", "wb", compresslevel=GZIP_LEVEL))
        lines = stack.enter_context(open(partial / "records.ndjson", "wb"))
        zipped_lines = stack.enter_context(igzip.open(partial / "records.ndjson.gz", "wb", compresslevel=GZIP_LEVEL))
        for out in (plain, zipped):
            out.write(b'{"Records":[')
        for copy in range(scale):
            for path in files:
                data = igzip.decompress(Path(path).read_bytes())
                small_json += len(data) if copy == 0 else 0
                batch = [orjson.dumps(record) for record in orjson.loads(data)["Records"]]
                if not batch:
                    continue
                joined = (b"," if records else b"") + b",".join(batch)
                for out in (plain, zipped):
                    out.write(joined)
                joined = b"\n".join(batch) + b"\n"
                for out in (lines, zipped_lines):
                    out.write(joined)
                records += len(batch)
        for out in (plain, zipped):
            out.write(b"]}")  # one line, no newline: as CloudTrail delivers a file
    sizes = {shape: (partial / shape).stat().st_size for shape in SHAPES}
    manifest = {**source, "records": records, "small_json_bytes": small_json, "sizes": sizes,
                "json_bytes": {shape: sizes[shape.removesuffix(".gz")] for shape in SHAPES}}
    (partial / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    shutil.rmtree(folder, ignore_errors=True)  # a stale or partial copy
    partial.rename(folder)
    return manifest


def _complete(folder: Path, source: dict) -> dict | None:
    try:
        manifest = orjson.loads((folder / MANIFEST).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if any(manifest.get(key) != value for key, value in source.items()):
        return None
    for shape in SHAPES:
        path = folder / shape
        if not path.is_file() or path.stat().st_size != manifest["sizes"].get(shape):
            return None
    return manifest


def contenders(corpus: Path, files: list[str], big: dict, workers: int, scale: int, quick: bool,
               notes: list[str]) -> list[Contender]:
    py = sys.executable
    folder = corpus / f"big-{scale}"
    scan = [py, "-m", "trailhound", "scan"]

    def trailhound(input_: str, target: str, context: bool, n: int, extra: tuple[str, ...] = ()) -> Contender:
        flags = ("" if context else " --no-context") + "".join(f" {e}" for e in extra)
        label = f"{input_}: trailhound{flags or ' scan'}, {n} worker{'s' if n > 1 else ''}"
        return Contender(label, [*scan, target, "--workers", str(n), *extra, *([] if context else ["--no-context"]),
                                 "--format", "jsonl"], input_, "trailhound", "scan" if context else "no-context", n)

    small = "small files"
    found = [Contender(f"{small}: decompress, ISA-L (floor)", [py, "-c", FLOOR.format(module="isal.igzip"), *files],
                       small, "floor", "isal")]
    for n in sorted({1, workers}):
        found += [trailhound(small, str(corpus / "AWSLogs"), True, n), trailhound(small, str(corpus / "AWSLogs"), False, n)]
    for shape in SHAPES:
        path = str(folder / shape)
        gz = shape.endswith(".gz")
        if gz:
            found.append(Contender(f"{shape}: decompress, ISA-L (floor)", [py, "-c", FLOOR.format(module="isal.igzip"),
                                                                            path], shape, "floor", "isal"))
        else:
            found += [Contender(f"{shape}: read (floor)", [py, "-c", READ, path], shape, "floor", "read"),
                      Contender(f"{shape}: grep -c -i createloginprofile (literal-search floor)",
                                [f"LC_ALL=C grep -c -i createloginprofile {shlex.quote(path)}"], shape, "floor",
                                "grep", shell=True, ok_exits=(0, 1)),
                      Contender(f"{shape}: read + one needle search (run.py's bound)",
                                [py, "-c", BOUND.format(module="io"), path], shape, "floor", "needle")]
        for n in sorted({1, workers}) if not gz else [1]:
            found += [trailhound(shape, path, True, n), trailhound(shape, path, False, n)]
        if scale == 1 and not quick:
            prefilter = trailhound(shape, path, True, 1, ("--no-prefilter",))
            prefilter.once = True
            found.append(prefilter)
        if shape.startswith("records.json"):
            limit = min(UINT32_MAX, max(1 << 30, big["json_bytes"][shape] + 1))
            sql = duckdb_records(limit)
        else:
            sql = DUCKDB_NDJSON
        found.append(Contender(f"{shape}: DuckDB read_json", [py, "-c", DUCKDB, sql, path], shape, "tool"))
        jq = _jq(shape, path, big["json_bytes"][shape], notes)
        if jq is not None:
            found.append(Contender(f"{shape}: jq", [jq], shape, "tool", shell=True))
    if scale != 1:
        notes.append(f"--no-prefilter not run: scale {scale} (it runs at scale 1 only, being ~10x slower)")
    elif quick:
        notes.append("--no-prefilter not run: --quick")
    return found


def _jq(shape: str, path: str, json_bytes: int, notes: list[str]) -> str | None:
    if not shutil.which("jq"):
        notes.append(f"jq not run on {shape}: jq is not installed")
        return None
    quoted = shlex.quote(path)
    if shape == "records.ndjson":
        return f"jq -r {shlex.quote(JQ_SELECT)} {quoted}"
    if shape == "records.ndjson.gz":
        return f"{shlex.quote(sys.executable)} -m isal.igzip -d -c {quoted} | jq -r {shlex.quote(JQ_SELECT)}"
    if shape == "records.json.gz":
        notes.append("jq not run on records.json.gz: the same document as records.json behind a decompressor, "
                     "and jq holds a whole document (~10x it) in memory: one such run is records.json's")
        return None
    if json_bytes > JQ_DOCUMENT_LIMIT:
        notes.append(f"jq not run on {shape}: {json_bytes / 1e9:.2f} GB is one document, which jq holds whole "
                     f"(~10x its size in memory); skipped past {JQ_DOCUMENT_LIMIT / 1e9:.1f} GB")
        return None
    return f"jq -r {shlex.quote(JQ_FILTER)} {quoted}"


def wrapped(contender: Contender, err: Path) -> list[str]:
    """The contender under sh, its stderr to `err` and its exit status as the last line of its output (run.py's
    measure keeps neither). The shell is ~2 MB and waits for the contender: peak RSS stays the contender's."""
    if contender.shell:
        return ["sh", "-c", f"{{ {contender.argv[0]}\n}} 2>{shlex.quote(str(err))}; {_STATUS}"]
    return ["sh", "-c", f'err=$1; shift; "$@" 2>"$err"; {_STATUS}', "sh", str(err), *contender.argv]


# On a line of its own even after output with no final newline (measure drops the empty lines).
_STATUS = f"printf '\\n{EXIT}%s\\n' $?"


@dataclass
class Outcome:
    ok: bool | None  # None: a floor (nothing to compare)
    text: str
    ids: list[str]
    alerts: list[str]


def judge(contender: Contender, lines: list[str], err: str, expected: list[str],
          reference: list[str] | None) -> Outcome:
    """What a run's output says against the planted matches (and, for trailhound, the small files' alerts)."""
    status = int(lines[-1].removeprefix(EXIT)) if lines and lines[-1].startswith(EXIT) else -1
    lines = lines[:-1] if status != -1 else lines
    if status not in contender.ok_exits:  # another tool's failure is its result, not a wrong match
        last = err.strip().splitlines()[-1][:120] if err.strip() else "-"
        return Outcome(None if contender.kind == "tool" else False, f"failed (exit {status}: {last})", [], [])
    if contender.kind == "floor":
        return Outcome(None, "-", [], [])
    if contender.kind == "tool":
        ids = sorted(set(lines))
        copies = f"; {len(lines)} rows" if len(lines) != len(ids) else ""
        return Outcome(ids == expected, ("identical (set" + copies + ")") if ids == expected
                       else f"DIFFER ({len(ids)} ids)", ids, [])
    ids = event_ids("trailhound", lines)
    alerts = sorted(line for line in lines if line.startswith("{"))
    if ids != expected:
        return Outcome(False, f"DIFFER ({len(ids)} ids)", ids, alerts)
    if reference is not None and alerts != reference:
        return Outcome(False, "ids identical, alerts DIFFER from the small files'", ids, alerts)
    return Outcome(True, "identical", ids, alerts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--scale", type=int, default=1, help="the corpus's records this many times over")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3,
                        help=f"rounds: each contender under {ONCE_OVER:.0f} s runs this often; its median run counts")
    parser.add_argument("--quick", action="store_true", help="skip --no-prefilter and run each contender once")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale must be 1 or more")
    files = small_files(args.corpus)
    if not files:
        parser.error(f"no .json.gz files under {args.corpus / 'AWSLogs'}: write the corpus with make_corpus.py")
    expected = sorted((args.corpus / "expected.txt").read_text().split())
    big = write_big(args.corpus, files, args.scale)
    notes: list[str] = []
    chosen = contenders(args.corpus, files, big, args.workers, args.scale, args.quick, notes)
    for shape in SHAPES:  # into the page cache: no contender pays for the disk
        with open(args.corpus / f"big-{args.scale}" / shape, "rb", buffering=0) as handle:
            buffer = bytearray(8 << 20)
            while handle.readinto(buffer):
                pass
    with tempfile.TemporaryDirectory() as scratch:
        errs = {c.name: Path(scratch) / f"{index}.err" for index, c in enumerate(chosen)}
        runs = run_rounds([(c.name, wrapped(c, errs[c.name]), False) for c in chosen],
                          1 if args.quick else args.repeat, ONCE_OVER, {c.name for c in chosen if c.once})
        rows = _rows(chosen, runs, errs, expected, big)
    _print(rows, big, len(files), len(expected), args, notes)
    if args.json:
        args.json.write_bytes(orjson.dumps({"scale": args.scale, "workers": args.workers, "files": len(files),
                                            "planted": len(expected), "big": big, "notes": notes, "rows": rows},
                                           option=orjson.OPT_INDENT_2))
    return 0 if all(r["agree"] in (None, True) for r in rows) else 1


def _rows(chosen: list[Contender], runs: dict[str, list[Run]], errs: dict[str, Path], expected: list[str],
          big: dict) -> list[dict]:
    """One row per contender, from its median run; its matches judged on every run (each must agree). The
    err file holds the last run's stderr."""
    references: dict[str, list[str]] = {}
    rows = []
    for c in chosen:  # the small files come first: their 1-worker alerts are every later row's reference
        err = errs[c.name].read_text(errors="replace") if errs[c.name].exists() else ""
        outcomes = [judge(c, lines, err, expected, references.get(c.mode)) for _, _, _, lines in runs[c.name]]
        if c.kind == "trailhound" and c.input == "small files" and c.workers == 1 and outcomes[0].ok:
            references[c.mode] = outcomes[0].alerts
        bad = [o for o in outcomes if o.ok is False]
        seconds, cpu, _, _ = median_run(runs[c.name])
        rows.append({"name": c.name, "input": c.input, "kind": c.kind, "mode": c.mode, "workers": c.workers,
                     "json_bytes": big["small_json_bytes"] if c.input == "small files" else big["json_bytes"][c.input],
                     "seconds": seconds, "cpu": cpu, "peak_rss": max(r[2] for r in runs[c.name]),
                     "runs": [round(r[0], 3) for r in runs[c.name]],
                     "agree": None if c.kind == "floor" else not bad,
                     "matches": (bad or outcomes)[0].text, "found": outcomes[0].ids,
                     "stderr_tail": err.strip().splitlines()[-1][:200] if err.strip() else ""})
    return rows


def _print(rows: list[dict], big: dict, files: int, planted: int, args: argparse.Namespace, notes: list[str]) -> None:
    per_byte = {r["name"]: r["seconds"] / r["json_bytes"] for r in rows}
    small = {(r["mode"], r["workers"]): per_byte[r["name"]] for r in rows if r["input"] == "small files"}
    floors = {r["input"]: per_byte[r["name"]] for r in rows if r["mode"] in ("isal", "read")}
    greps = {r["input"]: per_byte[r["name"]] for r in rows if r["mode"] == "grep"}
    needles = {r["input"]: per_byte[r["name"]] for r in rows if r["mode"] == "needle"}
    one = {(r["input"], r["mode"]): r["seconds"] for r in rows
           if r["kind"] == "trailhound" and r["workers"] == 1 and "--no-prefilter" not in r["name"]}

    def ratio(value: float | None, of: float | None) -> str:
        return f"{value / of:.2f}" if value is not None and of else ""

    print(f"{files} small files, {big['small_json_bytes'] / 1e9:.2f} GB of JSON, {planted} planted matches; big files at "
          f"scale {args.scale}: {big['records']} records, "
          + ", ".join(f"{s} {big['sizes'][s] / 1e6:.0f} MB" for s in SHAPES) + f"; {args.workers} workers\n")
    print("Ratios are per byte of JSON (a big file at scale K holds K times the small files' records); "
          "'x small files' compares the same mode (context or not, same workers) on the small files.\n")
    print("| contender | seconds | CPU s | GB/s of JSON | x small files, same mode | x its floor | x grep -c | "
          "x needle search | vs its 1 worker | peak RSS | matches |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        name, mine = r["name"], per_byte[r["name"]]
        same = small.get((r["mode"], 1 if "--no-prefilter" in name else r["workers"])) \
            if r["kind"] == "trailhound" or r["mode"] == "isal" else None
        vs_one = one.get((r["input"], r["mode"])) if r["kind"] == "trailhound" and r["workers"] > 1 else None
        speedup = f"{vs_one / r['seconds']:.2f}x" if vs_one else ""
        print(f"| {name} | {r['seconds']:.2f} | {r['cpu']:.2f} | {r['json_bytes'] / r['seconds'] / 1e9:.2f} | "
              f"{ratio(mine, same) if r['input'] != 'small files' else ''} | {ratio(mine, floors.get(r['input']))} | "
              f"{ratio(mine, greps.get(r['input']))} | {ratio(mine, needles.get(r['input']))} | {speedup} | "
              f"{r['peak_rss'] / 2**20:.0f} MB | {r['matches']} |")
    _plain_against_gzipped(rows)
    for r in rows:  # GNU grep holds a whole line: a one-line file is read into memory, not searched as a stream
        if r["mode"] == "grep" and r["peak_rss"] > big["sizes"][r["input"]] / 2:
            notes.append(f"grep -c on {r['input']} held the line whole ({r['peak_rss'] / 2**20:.0f} MB peak for a "
                         f"{big['sizes'][r['input']] / 2**20:.0f} MB file): there it is no search floor; the needle "
                         "search row is")
    print()
    for note in notes:
        print(f"- {note}")


def _plain_against_gzipped(rows: list[dict]) -> None:
    """The issue's "plain inputs faster than gzipped ones": each plain shape's time over its gzipped twin's."""
    seconds = {(r["input"], r["mode"]): r["seconds"] for r in rows
               if r["kind"] == "trailhound" and r["workers"] == 1 and "--no-prefilter" not in r["name"]}
    pairs = [(shape, mode, seconds[shape, mode] / seconds[shape + ".gz", mode])
             for shape in ("records.json", "records.ndjson") for mode in ("scan", "no-context")
             if (shape, mode) in seconds and (shape + ".gz", mode) in seconds]
    if pairs:
        print("\nPlain against gzipped, trailhound with 1 worker (the plain file's seconds / the gzipped one's; "
              "under 1: plain is faster):\n")
        print("| plain shape | mode | plain / gzipped |\n|---|---|---:|")
        for shape, mode, ratio in pairs:
            print(f"| {shape} | {mode} | {ratio:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
