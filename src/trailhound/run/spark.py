"""The distributed engine: the embedded engine's own per-input code on Spark executors, its run-wide steps
on the driver, so a rule is written once and the alerts are the same on a laptop or a cluster.

- The driver lists the inputs: local paths as the embedded engine lists them (same origins, same order),
  URIs (s3a://, hdfs://, file://, globs) through Spark's own file index, i.e. Hadoop's filesystems.
- An executor runs `engine.scan_input` on each file: the same reading, prefilter and rules as a local run.
  Local files (file:) it opens and streams itself, chunk by chunk, as a local run does; a file on another
  Hadoop filesystem (s3a://, hdfs://) Spark's `binaryFile` source hands it whole, since Python on an
  executor has no Hadoop client of its own (such a file must fit an executor's memory: see docs/spark.md).
- The driver puts the per-input results back in listing order and hands them to `Run.finish`: allowlist,
  de-duplication, context, state and output are every run's (run/pipeline.py), not a copy of them.

Spark leaves some listed files out of its read (empty files, names starting with `_`, files that vanish or
fail to read once listed, and, on the local filesystem, names with a colon: Hadoop's checksum layer cannot
name their `.crc` sidecar). The driver scans those itself, so each is still read or named.
"""

from __future__ import annotations

import io
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import unquote

from ..engine.evaluate import InputResult, scan_input
from ..engine.rules.base import Rule
from ..errors import ConfigError
from ..records.stream import CHUNK
from ..sources.files import FileInput, check_paths, iter_files
from .pipeline import Run, ScanResult

try:  # pyspark is an optional extra; importing this module must not require it (nor the JVM)
    from pyspark.sql import SparkSession
except ImportError:  # pragma: no cover - exercised only where the [spark] extra is not installed
    SparkSession = None  # type: ignore[assignment,misc]

DEFAULT_MASTER = "local[*]"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_GLOB_CHARS = re.compile(r"([\\\[\]{}*?])")


@dataclass(frozen=True)
class SparkOptions:
    master: str | None = None  # None: spark-submit's or the notebook's master, else local[*]
    partitions: int | None = None  # None: Spark packs files into partitions by size, as it does for any read


@dataclass
class SparkStats:
    """How the work was spread: for the one-line report, and for tests that check the spreading."""

    master: str = ""
    partitions: int = 0
    read_by_executors: int = 0
    read_by_driver: int = 0
    driver_read: list[str] = field(default_factory=list)  # the inputs Spark's reader left out


@dataclass
class SparkScan:
    result: ScanResult
    stats: SparkStats = field(default_factory=SparkStats)


def is_uri(path: str) -> bool:
    return bool(_URI.match(path))


@dataclass(frozen=True)
class BytesInput:
    """An input whose bytes an executor already holds."""

    origin: str
    data: bytes

    def read(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class HadoopInput:
    """A file on a Hadoop filesystem (s3a://, hdfs://, ...) that the driver reads itself, through the JVM."""

    origin: str
    session: Any = field(compare=False, repr=False)

    def open(self) -> BinaryIO:
        """The file as a stream through Hadoop's client: read in chunks, never held whole."""
        jvm = self.session.sparkContext._jvm
        path = jvm.org.apache.hadoop.fs.Path(self.origin)
        try:
            fs = path.getFileSystem(self.session.sparkContext._jsc.hadoopConfiguration())
            return io.BufferedReader(_JavaStream(fs.open(path)), buffer_size=CHUNK)
        except Exception as exc:  # noqa: BLE001 - py4j wraps every Java failure; scan_input names OSErrors
            raise OSError(_java_message(exc)) from None

    def read(self) -> bytes:
        with self.open() as stream:
            return stream.read()


class _JavaStream(io.RawIOBase):
    """A java.io.InputStream read through py4j, a chunk per call (InputStream.readNBytes, Java 11+)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = bytes(self._stream.readNBytes(len(buffer)))
        except Exception as exc:  # noqa: BLE001 - py4j wraps every Java failure
            raise OSError(_java_message(exc)) from None
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._stream.close()
            finally:
                super().close()


def _java_message(exc: Exception) -> str:
    java = getattr(exc, "java_exception", None)
    text = str(java.toString()) if java is not None else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def spark_key(path: str) -> str:
    """A file's name as Spark's `path` column writes it (Hadoop's Path.toString: decoded, `file:/x`)."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*):///", r"\1:/", path)


def local_key(path: str) -> str:
    return "file:" + os.path.abspath(path)


def local_root(path: str) -> str:
    """A local path as a URI Spark reads literally: glob characters escaped, Hadoop's own escape."""
    return "file://" + _GLOB_CHARS.sub(r"\\\1", os.path.abspath(path))


def scan_partition(rows: Iterable[Any], rules: list[Rule], options: Any, origins: Any) -> Iterator[tuple[str, InputResult]]:
    """Runs on an executor: each file through the embedded engine's `scan_input`. A local file (no content
    read by Spark) is opened and streamed here; another filesystem's file comes as Spark's bytes."""
    names = origins.value if origins is not None else {}
    for row in rows:
        origin = names.get(row.path, row.path)
        item: Any = FileInput(origin) if row.content is None else BytesInput(origin, bytes(row.content))
        try:
            result = scan_input(item, rules, options)
        except Exception as exc:  # noqa: BLE001 - one file must never fail the job; name it instead
            result = InputResult(origin=origin, bytes=row.length,
                                 problem=f"could not be scanned ({type(exc).__name__}: {exc})")
        yield row.path, result


def session(options: SparkOptions) -> Any:
    """The active session (spark-submit, Databricks, a notebook), or a new one on the master asked for."""
    if SparkSession is None:
        raise ConfigError("--engine spark needs pyspark: pip install 'trailhound[spark]'")
    builder = SparkSession.builder.appName("trailhound")
    master = options.master
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:  # not launched by spark-submit
        master = DEFAULT_MASTER
    if master:
        builder = builder.master(master)
    if (master or "").startswith("local"):
        # Local executors are this machine's Python workers: make them this interpreter with this one's
        # packages (Spark starts workers by the interpreter's real path, which loses a virtualenv).
        builder = (builder.config("spark.pyspark.python", os.environ.get("PYSPARK_PYTHON", sys.executable))
                   .config("spark.executorEnv.PYTHONPATH", os.pathsep.join(p for p in sys.path if p))
                   .config("spark.ui.enabled", "false"))
    try:
        spark = builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()
    except Exception as exc:  # noqa: BLE001 - no Java, a bad master URL: one line, not a JVM trace
        raise ConfigError(f"--engine spark: cannot start Spark on {master or 'the configured master'} "
                          f"({_java_message(exc)}); is a Java runtime installed?") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class SparkEngine:
    """Runs a `Run`'s rules on Spark and finishes with that same `Run` on the driver."""

    def __init__(self, run: Run, spark: Any, options: SparkOptions | None = None) -> None:
        self.run = run
        self.spark = spark
        self.options = options or SparkOptions()

    def scan(self, paths: list[str]) -> SparkScan:
        started = time.perf_counter()
        local = [p for p in paths if not is_uri(p)]
        remote = [p for p in paths if is_uri(p)]
        check_paths(local)
        listing = [(local_key(f.path), f) for f in iter_files(local)]
        frame = self._read([local_root(p) for p in local], remote)
        if remote:
            listing += self._list_uris(frame, {key for key, _ in listing}, [local_key(p) for p in local])
        scan = SparkScan(result=None)  # type: ignore[arg-type]  # set below, once the run has finished
        scan.stats.master = self.spark.sparkContext.master
        by_key = self._run(frame, listing, scan.stats) if frame is not None else {}
        results = [by_key.get(key) or self._on_driver(item, scan.stats) for key, item in listing]
        scan.result = self.run.finish(results)
        scan.result.summary.seconds = time.perf_counter() - started
        return scan

    def _list_uris(self, frame: Any, listed: set[str], local_roots: list[str]) -> list[tuple[str, Any]]:
        """The files under the URI roots, from the file index Spark built to read them (no second listing)."""
        def under_local_root(key: str) -> bool:  # those are listed as the embedded engine lists them
            return any(key == root or key.startswith(root.rstrip("/") + "/") for root in local_roots)

        keys = sorted({spark_key(unquote(p)) for p in frame.inputFiles()})
        return [(key, HadoopInput(key, self.spark)) for key in keys
                if key not in listed and not under_local_root(key)]

    def _read(self, local_roots: list[str], remote: list[str]) -> Any:
        """Spark's view of the files: path and length of every one; the content only of files on another
        Hadoop filesystem (an executor opens local files itself, streaming them), so Spark reads no local
        file whole. None when there is nothing to read."""
        from pyspark.sql import functions

        reader = (self.spark.read.format("binaryFile").option("recursiveFileLookup", "true")
                  .option("ignoreMissingFiles", "true").option("ignoreCorruptFiles", "true"))
        frames = []
        if local_roots:  # binaryFile reads no content when the content column is not selected
            frames.append(self._load(reader, local_roots).select(
                "path", "length", functions.lit(None).cast("binary").alias("content")))
        if remote:
            frames.append(self._load(reader, remote).select("path", "length", "content"))
        if not frames:
            return None
        return frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])

    @staticmethod
    def _load(reader: Any, roots: list[str]) -> Any:
        try:
            return reader.load(roots)
        except Exception as exc:  # noqa: BLE001 - AnalysisException: a root that does not exist, a bad URI
            message = _java_message(exc)
            if "FileSystem" in message and ("not found" in message or "No FileSystem for scheme" in message):
                message += " (this Spark lacks the connector: for s3a://, add hadoop-aws; see docs/spark.md)"
            raise ConfigError(f"cannot list {', '.join(roots)}: {message}") from None

    def _run(self, frame: Any, listing: list[tuple[str, Any]], stats: SparkStats) -> dict[str, InputResult]:
        rules, options = self.run.rules, self.run.options
        origins = self.spark.sparkContext.broadcast(
            {key: item.origin for key, item in listing if isinstance(item, FileInput)})
        rdd = self._partitioned(frame)
        stats.partitions = rdd.getNumPartitions()
        wanted = {key for key, _ in listing}
        found = rdd.mapPartitions(lambda rows: scan_partition(rows, rules, options, origins)).collect()
        origins.unpersist()
        # Spark may list a file the embedded engine would not (behind a symlinked folder): keep to the listing.
        by_key = {key: result for key, result in found if key in wanted}
        stats.read_by_executors = len(by_key)
        return by_key

    def _partitioned(self, frame: Any) -> Any:
        """The read as an RDD of rows; with --partitions N, files are packed into about N partitions."""
        wanted = self.options.partitions
        if not wanted:
            return frame.rdd
        # Spark fixes the file splits when the RDD is planned, so the settings are needed only for that moment.
        conf = self.spark.conf
        saved = {k: conf.get(k, None) for k in ("spark.sql.files.minPartitionNum", "spark.sql.files.openCostInBytes")}
        conf.set("spark.sql.files.minPartitionNum", str(wanted))
        conf.set("spark.sql.files.openCostInBytes", "1")  # small files are not padded to 4 MB each
        try:
            rdd = frame.rdd
            rdd.getNumPartitions()
            return rdd
        finally:
            for key, value in saved.items():
                conf.unset(key) if value is None else conf.set(key, value)

    def _on_driver(self, item: Any, stats: SparkStats) -> InputResult:
        stats.read_by_driver += 1
        stats.driver_read.append(item.origin)
        return scan_input(item, self.run.rules, self.run.options)


def scan_on_spark(run: Run, paths: list[str], options: SparkOptions | None = None,
                  spark: Any = None) -> SparkScan:
    """Scan `paths` with `run`'s rules on Spark; a session is started (and stopped) unless one is given."""
    options = options or SparkOptions()
    if options.partitions is not None and options.partitions < 1:
        raise ConfigError(f"--partitions: {options.partitions} is not a positive number")
    own = spark is None
    spark = spark or session(options)
    try:
        return SparkEngine(run, spark, options).scan(paths)
    finally:
        if own:
            spark.stop()
