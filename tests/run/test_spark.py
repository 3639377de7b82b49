"""The Spark engine (local mode, a real JVM): the same alerts, counts and problems as the embedded engine."""

from __future__ import annotations

import csv
import gzip
import io
import os

import orjson
import pytest

from trailhound.engine.allowlist import load_allowlist
from trailhound.engine.evaluate import ScanOptions
from trailhound.engine.rules import load_rules
from trailhound.errors import ConfigError
from trailhound.records.record import parse_time
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.run.spark import SparkOptions, scan_on_spark
from trailhound.sources.files import iter_files
from trailhound.state.store import StateStore

from ..helpers import CORPUS, jsonl, record, run_cli, write
from ..records.test_formats import SENTINEL_ROW


def alerting(event_id: str, **overrides) -> dict:
    return record(eventID=event_id, **overrides)


def sentinel(event_id: str) -> dict:
    return {**SENTINEL_ROW, "AwsEventId": event_id}


def sentinel_csv(event_id: str) -> bytes:
    row = sentinel(event_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([("TimeGenerated [UTC]" if k == "TimeGenerated" else k) for k in row])
    writer.writerow(row.values())
    return buffer.getvalue().encode()


def eventbridge(rec: dict) -> dict:
    return {"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
            "account": "111122223333", "time": "2026-11-27T14:06:00Z", "region": "us-east-1", "detail": rec}


QUIET = record(eventID="quiet", eventName="ListUsers")
BROKEN = orjson.dumps({"Records": [alerting("broken-1"), alerting("broken-2")]}).decode()
TRUNCATED = gzip.compress(b"".join(orjson.dumps(alerting(f"trunc-{i}")) + b"\n" for i in range(200)))

# Every shape the core reads (tests/test_shapes.py), each holding events only it holds, and the bad inputs.
SHAPES: dict[str, bytes] = {
    "s3/plain.json": orjson.dumps({"Records": [alerting("s3-plain"), QUIET]}),
    "s3/delivery.json.gz": gzip.compress(orjson.dumps({"Records": [alerting("s3-gz")]})),
    "multi-member.gz": gzip.compress(orjson.dumps(alerting("mm-1")) + b"\n")
    + gzip.compress(orjson.dumps(alerting("mm-2")) + b"\n"),
    "array.json": orjson.dumps([alerting("array"), QUIET]),
    "lines.jsonl": orjson.dumps(alerting("ndjson-1")) + b"\n\n" + orjson.dumps(alerting("ndjson-2")) + b"\n",
    "cwl-export.log": b"2026-11-27T14:06:00.000Z " + orjson.dumps(alerting("cwl-export")),
    "single.json": orjson.dumps(alerting("single")),
    "bom.json": b"\xef\xbb\xbf" + orjson.dumps({"Records": [alerting("bom")]}),
    "eventbridge.json": orjson.dumps([eventbridge(alerting("eb-1")), eventbridge(alerting("eb-2"))]),
    "eventbridge-other.json": orjson.dumps({"detail-type": "EC2 Instance State-change Notification",
                                            "detail": {"state": "x"}}),
    "sentinel/rows.json": orjson.dumps([sentinel("sentinel-json")]),
    "sentinel/failure.json": orjson.dumps([{**sentinel("sentinel-failed"), "ErrorCode": "AccessDenied"}]),
    "sentinel/export.csv": sentinel_csv("sentinel-csv"),
    "sentinel/log-analytics.json": orjson.dumps({"tables": [{"name": "PrimaryResult",
                                                             "columns": [{"name": k} for k in SENTINEL_ROW],
                                                             "rows": [list(sentinel("la").values())]}]}),
    "lookup-events.json": orjson.dumps({"Events": [{"EventId": "lookup", "EventName": "CreateLoginProfile",
                                                    "CloudTrailEvent": orjson.dumps(alerting("lookup")).decode()}]}),
    "cwl-subscription.gz": gzip.compress(orjson.dumps({"messageType": "DATA_MESSAGE", "logGroup": "ct", "logEvents": [
        {"id": "1", "timestamp": 0, "message": orjson.dumps(alerting("cwl-sub")).decode()}]})),
    "lake.json": orjson.dumps({"QueryResultRows": [[{"eventID": "lake"}, {"eventName": "CreateLoginProfile"},
                                                    {"eventSource": "iam.amazonaws.com"}, {"eventType": "AwsApiCall"},
                                                    {"requestParameters": {"userName": "x",
                                                                           "passwordResetRequired": False}}]]}),
    "digest.json.gz": gzip.compress(orjson.dumps({"digestStartTime": "2026-11-27T00:00:00Z", "logFiles": []})),
    "insights.json": orjson.dumps({"Records": [{"eventCategory": "Insight", "insightDetails": {}, "eventID": "i"},
                                               alerting("beside-insight")]}),
    "failed-call.json": orjson.dumps([alerting("failed", errorCode="AccessDenied")]),
    "duplicate-of-single.json": orjson.dumps(alerting("single")),
    # Bad inputs: each is named, what it holds that can be read is read, and the job goes on.
    "bad/broken.json": BROKEN[: BROKEN.index('"broken-2"') + 3].encode(),
    "bad/truncated.json.gz": TRUNCATED[: len(TRUNCATED) * 3 // 4],
    "bad/bad-lines.jsonl": orjson.dumps(alerting("badline-1")) + b"\n{not json\n" + orjson.dumps(alerting("badline-2")),
    "bad/invalid-utf8.jsonl": orjson.dumps(alerting("utf8")).replace(b"python-requests", b"python-\xff\xfeq") + b"\n",
    "bad/garbage.bin": bytes(range(256)) * 4 + b"CreateLoginProfile",  # a needle: must be parsed, and named
    "bad/deep.json": b"[" * 200_000 + b'"CreateLoginProfile"' + b"]" * 200_000,
    "bad/empty.json": b"",
    # Names Spark's reader treats specially: globs, spaces, a colon, a leading underscore.
    "names/a [1] {x}*?.json": orjson.dumps([alerting("glob-chars")]),
    "names/with space,comma.json": orjson.dumps([alerting("space")]),
    "names/2026-11-27T14:06:00Z.json": orjson.dumps([alerting("colon")]),
    "names/_underscore.json": orjson.dumps([alerting("underscore")]),
    "names/.hidden.json": orjson.dumps([alerting("hidden")]),
}
ALERTING = {"s3-plain", "s3-gz", "mm-1", "mm-2", "array", "ndjson-1", "ndjson-2", "cwl-export", "single", "bom",
            "eb-1", "eb-2", "sentinel-json", "sentinel-failed", "sentinel-csv", "la", "lookup", "cwl-sub", "lake",
            "beside-insight", "failed", "broken-1", "badline-1", "badline-2", "utf8", "glob-chars", "space",
            "colon", "underscore"}


@pytest.fixture
def shapes(tmp_path):
    root = tmp_path / "trail"
    for name, data in SHAPES.items():
        write(root / name, data)
    os.symlink(tmp_path / "nowhere.json", root / "bad" / "dangling.json")  # listed, then unreadable
    return root


def make_run(**kwargs) -> Run:
    return Run(load_rules(), kwargs.pop("options", ScanOptions()), **kwargs)


def outcome(result) -> tuple[list[dict], list[str], dict]:
    summary = result.summary.as_dict()
    summary.pop("seconds")
    return [a.as_dict() for a in result.alerts], [a.origin for a in result.alerts], summary


def test_every_record_shape_gives_the_same_alerts_counts_and_problems(spark, shapes):
    local = scan_inputs(make_run(), iter_files([str(shapes)]))
    distributed = scan_on_spark(make_run(), [str(shapes)], spark=spark)
    assert {a.row["EventID"] for a in local.alerts} | {"trunc-0"} >= ALERTING, "the fixture lost a shape"
    assert outcome(distributed.result) == outcome(local)
    # Spark reads all but the files its reader leaves out; the driver reads those, so none is lost.
    left_out = {"bad/empty.json", "bad/dangling.json", "names/_underscore.json", "names/2026-11-27T14:06:00Z.json"}
    assert set(distributed.stats.driver_read) <= {str(shapes / name) for name in left_out}
    assert distributed.stats.read_by_executors + distributed.stats.read_by_driver == local.summary.inputs
    assert distributed.stats.read_by_executors >= local.summary.inputs - len(left_out)


def test_a_bad_file_is_named_and_the_job_goes_on(spark, shapes):
    scan = scan_on_spark(make_run(), [str(shapes)], spark=spark)
    problems = dict(scan.result.summary.bad_inputs)
    for name, says in (("bad/broken.json", "record(s) before it"), ("bad/truncated.json.gz", "truncated or corrupt"),
                       ("bad/bad-lines.jsonl", "line 2"), ("bad/invalid-utf8.jsonl", "invalid UTF-8"),
                       ("bad/garbage.bin", "not valid JSON"), ("bad/deep.json", "nesting too deep"),
                       ("bad/empty.json", "empty file"), ("bad/dangling.json", "cannot read")):
        assert says in problems[str(shapes / name)], name
    assert all("\n" not in reason for reason in problems.values())
    assert {"broken-1", "badline-2", "s3-plain"} <= {a.row["EventID"] for a in scan.result.alerts}


def test_time_window_and_dedup_fields_travel_to_the_executors(spark, tmp_path):
    write(tmp_path / "a.json", {"Records": [alerting("old", eventTime="2020-01-01T00:00:00Z"), alerting("new"),
                                            alerting("undated", eventTime="soon")]})
    options = ScanOptions(since=parse_time("2026-01-01T00:00:00Z"),
                          dedup_fields=("TimeGenerated", "AWSRegion"))
    local = scan_inputs(make_run(options=options), iter_files([str(tmp_path)]))
    scan = scan_on_spark(make_run(options=options), [str(tmp_path)], spark=spark)
    assert outcome(scan.result) == outcome(local)
    assert [a.row["DedupEntity"] for a in scan.result.alerts] == ["us-east-1|2026-11-27T14:06:00Z", "us-east-1|soon"]
    assert scan.result.summary.out_of_range == 1


def test_state_remembers_alerts_across_engines(spark, tmp_path):
    write(tmp_path / "logs/a.json", [alerting("e-1"), alerting("e-2")])
    with StateStore(tmp_path / "state.db") as store:
        first = scan_on_spark(make_run(state=store), [str(tmp_path / "logs")], spark=spark).result
    with StateStore(tmp_path / "state.db") as store:
        again_local = scan_inputs(make_run(state=store), iter_files([str(tmp_path / "logs")]))
    with StateStore(tmp_path / "state.db") as store:
        again_spark = scan_on_spark(make_run(state=store), [str(tmp_path / "logs")], spark=spark).result
    assert len(first.alerts) == 2
    assert again_local.alerts == again_spark.alerts == []
    assert again_local.summary.already_alerted == again_spark.summary.already_alerted == 2


def test_allowlist_excludes_the_same_alerts(spark, tmp_path):
    write(tmp_path / "logs/a.json", [alerting("e-1"), alerting("e-2", sourceIPAddress="198.51.100.7")])
    (tmp_path / "allow.toml").write_text(
        '[[exclude]]\nrule = "0xFF-0237"\nreason = "provisioning host"\nowner = "iam@example.com"\n'
        'SourceIpAddress = "203.0.113.66"\n')
    allow = load_allowlist(tmp_path / "allow.toml")
    local = scan_inputs(make_run(allowlist=allow), iter_files([str(tmp_path / "logs")]))
    scan = scan_on_spark(make_run(allowlist=allow), [str(tmp_path / "logs")], spark=spark)
    assert outcome(scan.result) == outcome(local)
    assert [a.row["EventID"] for a in scan.result.alerts] == ["e-2"] and scan.result.summary.excluded == 1


def test_partitions_spread_the_files_without_changing_the_alerts(spark, tmp_path):
    for i in range(12):
        write(tmp_path / f"logs/{i:02d}.json", [alerting(f"e-{i}")])
    one = scan_on_spark(make_run(), [str(tmp_path / "logs")], SparkOptions(partitions=1), spark=spark)
    many = scan_on_spark(make_run(), [str(tmp_path / "logs")], SparkOptions(partitions=6), spark=spark)
    assert one.stats.partitions == 1 and many.stats.partitions >= 6
    assert outcome(one.result) == outcome(many.result) and len(many.result.alerts) == 12


def test_a_uri_is_listed_and_read_through_hadoop(spark, tmp_path):
    write(tmp_path / "logs/a.json.gz", {"Records": [alerting("e-1")]}, gz=True)
    write(tmp_path / "logs/deep/b.json", [alerting("e-2")])
    write(tmp_path / "logs/empty.json", b"")
    uri = (tmp_path / "logs").as_uri()
    scan = scan_on_spark(make_run(), [uri], spark=spark)
    local = scan_inputs(make_run(), iter_files([str(tmp_path / "logs")]))
    assert [a.row for a in scan.result.alerts] == [a.row for a in local.alerts]
    assert [a.origin for a in scan.result.alerts] == [f"file:{tmp_path}/logs/a.json.gz",
                                                      f"file:{tmp_path}/logs/deep/b.json"]
    # Spark leaves empty files out of its read: the driver reads it through Hadoop and names it.
    assert scan.result.summary.bad_inputs == [(f"file:{tmp_path}/logs/empty.json", "empty file")]
    assert scan.stats.read_by_driver == 1


def test_a_uri_that_does_not_exist_is_a_configuration_error(spark, tmp_path):
    with pytest.raises(ConfigError, match="nowhere"):
        scan_on_spark(make_run(), [(tmp_path / "nowhere").as_uri()], spark=spark)
    with pytest.raises(ConfigError, match="nowhere"):
        scan_on_spark(make_run(), [str(tmp_path / "nowhere")], spark=spark)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
def test_real_published_samples_give_the_same_alerts(spark):
    local = scan_inputs(make_run(), iter_files([str(CORPUS)]))
    scan = scan_on_spark(make_run(), [str(CORPUS)], spark=spark)
    assert len(local.alerts) >= 2
    assert outcome(scan.result) == outcome(local)


def test_cli_spark_engine_prints_what_the_local_engine_prints(tmp_path):
    write(tmp_path / "logs/a.json.gz", {"Records": [alerting("e-1"), QUIET]}, gz=True)
    write(tmp_path / "logs/broken.json", b'{"Records": [{"eventName": ')
    local = run_cli("scan", str(tmp_path / "logs"))
    spark = run_cli("scan", str(tmp_path / "logs"), "--engine", "spark", "--spark-master", "local[1]",
                    "--partitions", "2")
    assert spark.returncode == local.returncode == 1, spark.stderr
    assert jsonl(spark.stdout) == jsonl(local.stdout) and len(jsonl(spark.stdout)) == 1
    assert "broken.json" in spark.stderr and "Traceback" not in spark.stderr
    assert "trailhound: spark: local[1]" in spark.stderr


def test_cli_rejects_a_bad_engine_or_partition_count_before_starting_spark(tmp_path):
    write(tmp_path / "a.json", [alerting("e-1")])
    for args, says in ((["--engine", "flink"], "--engine"),
                       (["--engine", "spark", "--partitions", "0"], "--partitions")):
        result = run_cli("scan", str(tmp_path), *args)
        assert result.returncode == 2 and says in result.stderr and result.stdout == "", args


def test_local_paths_and_uris_mix_each_file_listed_once(spark, tmp_path):
    write(tmp_path / "here/a.json", [alerting("e-1")])
    write(tmp_path / "here/.hidden/x.json", [alerting("hidden")])
    write(tmp_path / "there/b.json", [alerting("e-2")])
    os.symlink(tmp_path / "there", tmp_path / "here" / "linked")  # the embedded engine does not follow it
    scan = scan_on_spark(make_run(), [str(tmp_path / "here"), (tmp_path / "there").as_uri()], spark=spark)
    assert [a.origin for a in scan.result.alerts] == [str(tmp_path / "here/a.json"), f"file:{tmp_path}/there/b.json"]
    assert scan.result.summary.inputs == 2 and scan.result.summary.duplicates == 0


def test_a_scheme_without_its_connector_is_one_clear_line(spark):
    # pyspark ships no S3A connector (hadoop-aws): the run stops before scanning, naming the URI and the fix.
    with pytest.raises(ConfigError, match=r"s3a://trail/AWSLogs/.*connector") as caught:
        scan_on_spark(make_run(), ["s3a://trail/AWSLogs/"], spark=spark)
    assert "\n" not in str(caught.value)


def test_spark_reads_no_local_file_whole_executors_stream_them(spark, tmp_path):
    from trailhound.run.spark import SparkEngine, local_root

    write(tmp_path / "logs/a.json", {"Records": [alerting("streamed")]})
    engine = SparkEngine(Run(load_rules()), spark)
    rows = engine._read([local_root(str(tmp_path / "logs"))], []).collect()
    # Spark hands executors the path and length only: each opens and streams the file as a local run does.
    assert [(r.content, r.length) for r in rows] == [(None, (tmp_path / "logs/a.json").stat().st_size)]
    assert [a.row["EventID"] for a in scan_on_spark(Run(load_rules()), [str(tmp_path / "logs")],
                                                    spark=spark).result.alerts] == ["streamed"]


def test_a_file_the_driver_reads_through_hadoop_is_streamed_in_chunks(spark, tmp_path):
    from trailhound.run.spark import HadoopInput

    data = os.urandom(3 << 20)
    (tmp_path / "big.bin").write_bytes(data)
    with HadoopInput(f"file://{tmp_path}/big.bin", spark).open() as stream:
        parts = iter(lambda: stream.read(1 << 20), b"")
        assert b"".join(parts) == data
    with pytest.raises(OSError):
        HadoopInput(f"file://{tmp_path}/missing.bin", spark).open()
