"""Which runner a scan takes: Spark, the incremental one (s3://, event history) or local files. Apart from
the pipeline, which every runner builds on, so that no runner and the pipeline import each other."""

from __future__ import annotations

from .pipeline import ProgressBar, Run, ScanResult


def scan(run: Run, progress: ProgressBar | None = None) -> ScanResult:
    """The runner the settings call for. The inputs were checked first (`Settings.check_scan`), before the
    state store was opened."""
    execution = run.settings.execution
    if execution.engine == "spark":
        from .spark import SparkOptions, scan_on_spark  # pyspark and a JVM only when asked for

        spark = scan_on_spark(run, list(run.settings.inputs.paths),
                              SparkOptions(master=execution.spark_master, partitions=execution.partitions))
        stats = spark.stats
        spark.result.note = (f"spark: {stats.master}, {stats.partitions} partition(s), {stats.read_by_executors} "
                             f"input(s) read by executors, {stats.read_by_driver} by the driver")
        return spark.result
    if run.settings.remote:
        from .incremental import scan_remote  # boto3 is imported only on this path

        return scan_remote(run)
    from .local import scan_paths

    return scan_paths(run, run.settings.inputs.paths, execution.workers, progress)
