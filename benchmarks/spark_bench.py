"""Spark local mode against the embedded engine on a generated corpus: same matches, overhead, per-core speed.

    python benchmarks/spark_bench.py [--hours 24] [--files-per-hour 2] [--events-per-file 1500]
                                     [--cores 1,2] [--results benchmarks/RESULTS-spark.md]

The corpus is the demo generator's day of S3 delivery files (gzip), made bigger. Every Spark run must give
the embedded engine's alerts and counts exactly, or the benchmark stops: a fast wrong answer is no result.
Spark's start-up (a JVM) is measured apart from the scan, since a cluster job pays it once per job.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from trailhound.demo import write_demo
from trailhound.engine.rules import load_rules
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.run.spark import SparkOptions, scan_on_spark, session
from trailhound.sources.files import iter_files

HERE = Path(__file__).resolve().parent
TB = 1e12


def outcome(result):
    summary = result.summary.as_dict()
    summary.pop("seconds")
    return [a.as_dict() for a in result.alerts], [a.origin for a in result.alerts], summary


def corpus(root: Path, hours: int, files_per_hour: int, events_per_file: int) -> Path:
    marker = root / f".made-{hours}-{files_per_hour}-{events_per_file}"
    if not marker.exists():
        started = time.perf_counter()
        write_demo(root, hours=hours, files_per_hour=files_per_hour, events_per_file=events_per_file)
        marker.touch()
        print(f"corpus written in {time.perf_counter() - started:.1f}s")
    return root


def uncompressed_bytes(root: Path) -> int:
    from isal import igzip

    return sum(len(igzip.decompress(Path(f.path).read_bytes())) for f in iter_files([str(root)]))


def embedded(root: Path, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = scan_inputs(Run(load_rules()), iter_files([str(root)]))
        best = min(best, time.perf_counter() - started)
    return best, result


def on_spark(root: Path, cores: int, repeat: int):
    # Four partitions a core: small files packed by size alone leave a core idle at the end.
    options = SparkOptions(master=f"local[{cores}]", partitions=4 * cores)
    started = time.perf_counter()
    spark = session(SparkOptions(master=f"local[{cores}]"))
    startup = time.perf_counter() - started
    best, result = float("inf"), None
    try:
        scan_on_spark(Run(load_rules()), [str(root)], options, spark=spark)  # warm the Python workers
        for _ in range(repeat):
            started = time.perf_counter()
            result = scan_on_spark(Run(load_rules()), [str(root)], options, spark=spark).result
            best = min(best, time.perf_counter() - started)
    finally:
        spark.stop()
    return startup, best, result


def sizing_rows(per_core_gz_s: float, ratio: float) -> list[tuple[str, str, int]]:
    """Cores to scan a 1 TB/day trail in an hour, whether the TB is counted as stored gzip or as JSON."""
    rows = []
    for days in (1, 30):
        for label, gz_volume in (("stored (gzip) in S3", days * TB),
                                 ("of JSON (a SIEM's ingest count)", days * TB / ratio)):
            cores = max(1, math.ceil(gz_volume / (per_core_gz_s * 3600)))
            rows.append((f"{days} day(s) of a 1 TB/day trail, TB {label}", f"{gz_volume / TB:.2f} TB", cores))
    return rows


def report(args, files, gz_bytes, raw_bytes, local_s, local_result, runs) -> str:
    records = local_result.summary.records
    lines = [
        "# Spark engine: local mode against the embedded engine",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python benchmarks/spark_bench.py "
        + (f"--existing {args.existing}" if args.existing else f"--hours {args.hours} --files-per-hour "
           f"{args.files_per_hour} --events-per-file {args.events_per_file}")
        + f" --cores {args.cores}` on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        f"Load average before the run: {args.load:.2f} (nothing else was running).",
        "",
        f"Corpus: {files} S3 delivery files (gzip), {records:,} records parsed (the prefilter skips the rest), "
        f"{gz_bytes / 1e6:.1f} MB as stored "
        f"(gzip), {raw_bytes / 1e6:.1f} MB of JSON ({raw_bytes / gz_bytes:.1f}x). "
        f"Every Spark run gave the embedded engine's alerts ({len(local_result.alerts)}) and counts exactly.",
        "",
        "| engine | cores | start-up s | scan s | records/s | stored MB/s per core | scan time vs embedded |",
        "|---|---|---|---|---|---|---|",
        f"| embedded | 1 | none | {local_s:.2f} | {records / local_s:,.0f} | {gz_bytes / local_s / 1e6:.2f} | 1.00 |",
    ]
    for index, (cores, startup, scan_s) in enumerate(runs):
        start = f"{startup:.1f}" + (" (JVM up)" if index else " (JVM)")
        lines.append(f"| Spark local[{cores}], {4 * cores} partitions | {cores} | {start} | {scan_s:.2f} | "
                     f"{records / scan_s:,.0f} | {gz_bytes / scan_s / cores / 1e6:.2f} | {scan_s / local_s:.2f} |")
    one_core = [r for r in runs if r[0] == 1] or runs[:1]
    cores_used, _, scan_s = one_core[0]
    per_core = gz_bytes / scan_s / cores_used
    lines += [
        "",
        f"Overhead of Spark on one core (same work, Spark's read, pickling and task scheduling added): "
        f"{scan_s / local_s:.2f}x the embedded engine's time. Start-up is paid once per job.",
        "",
        "## Sizing",
        "",
        f"From the measured Spark per-core speed on stored (gzip) bytes, {per_core / 1e6:.2f} MB/s per core "
        f"(local[{cores_used}]); a trail's size is what S3 holds. Cores = bytes / (per-core speed x 3600 s), "
        "rounded up; add about 10% for stragglers and S3 latency, which local mode does not have.",
        "",
        "| workload | stored (gzip) bytes to scan | cores for one hour |",
        "|---|---|---|",
    ]
    for label, volume, cores in sizing_rows(per_core, raw_bytes / gz_bytes):
        lines.append(f"| {label} | {volume} | {cores:,} |")
    lines += ["", "Both engines run the rules with the needle prefilter and without context collection (the "
              "comparison is of the engines, not of the options). Local mode on one machine shows Spark's own cost "
              "per task (reading through the JVM, pickling, scheduling); a cluster adds S3 latency and removes "
              "the one-machine limit.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus" / "spark")
    parser.add_argument("--existing", type=Path, help="scan this folder (e.g. make_corpus.py's AWSLogs) instead "
                                                      "of generating one")
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--files-per-hour", type=int, default=2)
    parser.add_argument("--events-per-file", type=int, default=1500)
    parser.add_argument("--cores", default="1,2")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS-spark.md")
    args = parser.parse_args()
    args.load = os.getloadavg()[0]
    root = args.existing or corpus(args.corpus, args.hours, args.files_per_hour, args.events_per_file)
    files = list(iter_files([str(root)]))
    gz_bytes = sum(f.size() for f in files)
    raw_bytes = uncompressed_bytes(root)
    local_s, local_result = embedded(root, args.repeat)
    print(f"embedded: {local_s:.2f}s, {len(local_result.alerts)} alert(s)")
    runs = []
    for cores in (int(c) for c in args.cores.split(",")):
        startup, scan_s, result = on_spark(root, cores, args.repeat)
        if outcome(result) != outcome(local_result):
            raise SystemExit(f"Spark local[{cores}] gave other alerts or counts than the embedded engine")
        print(f"spark local[{cores}]: start-up {startup:.1f}s, scan {scan_s:.2f}s")
        runs.append((cores, startup, scan_s))
    text = report(args, len(files), gz_bytes, raw_bytes, local_s, local_result, runs)
    args.results.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
