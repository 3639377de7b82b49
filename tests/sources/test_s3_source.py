"""`trailhound scan s3://...` against moto's server: delivery layout, partition pruning, checkpoints."""

from __future__ import annotations

import gzip
import pickle
import subprocess
import sys
from datetime import UTC, datetime

import boto3
import orjson

from trailhound.records.stream import chunks
from trailhound.sources.s3 import S3Object, list_folders, objects
from trailhound.sources.s3_layout import Selection, partitions

from ..helpers import jsonl, run_cli
from ..s3helpers import bucket, delivery_key, hit, put_trail_file

ORG = "o-a1b2c3d4e5"
A, B = "111122223333", "444455556666"


def _org_trail(name: str = "trail") -> dict[str, str]:
    """Two accounts x two regions x three days of an organisation trail, plus what must be skipped."""
    bucket(name)
    keys = {}
    for account in (A, B):
        for region in ("us-east-1", "eu-west-1"):
            for day in ("2026-11-26", "2026-11-27", "2026-11-28"):
                event = f"{account}-{region}-{day}"
                keys[event] = put_trail_file(name, delivery_key(account, region, day, org=ORG),
                                             hit(event, day, recipientAccountId=account, awsRegion=region))
    s3 = boto3.client("s3")
    day_folder = f"AWSLogs/{ORG}/{A}/CloudTrail/us-east-1/2026/11/27/"
    s3.put_object(Bucket=name, Key=day_folder, Body=b"")  # a folder marker
    s3.put_object(Bucket=name, Key=day_folder + "empty.json.gz", Body=b"")
    s3.put_object(Bucket=name, Key=f"AWSLogs/{ORG}/{A}/CloudTrail-Digest/us-east-1/2026/11/27/"
                                    f"{A}_CloudTrail-Digest_us-east-1_x_20261127T1405Z.json.gz",
                  Body=gzip.compress(b'{"digestStartTime": "2026-11-27T13:00:00Z"}'))
    return keys


def test_org_trail_scan_reads_only_the_selected_accounts_regions_and_days(aws):
    _org_trail()
    result = run_cli("scan", "s3://trail", "--accounts", A, "--regions", "eu-west-1,us-east-1",
                     "--since", "2026-11-27T00:00:00Z", "--until", "2026-11-27T23:59:59Z")
    assert result.returncode == 0, result.stderr
    assert sorted(a["EventID"] for a in jsonl(result.stdout)) == [f"{A}-eu-west-1-2026-11-27", f"{A}-us-east-1-2026-11-27"]
    # Days 27 and 28 (one day of delivery slack) of two regions: four objects; the 26th is never listed.
    assert "4 input(s)" in result.stderr and "outside --since/--until" in result.stderr


def test_partitions_are_built_from_the_selection_and_only_unknown_levels_are_listed(aws):
    _org_trail()
    listed: list[str] = []

    def recording(prefix: str) -> list[str]:
        listed.append(prefix)
        return list_folders("trail", prefix)

    since = datetime(2026, 11, 27, tzinfo=UTC)
    found = list(partitions("", Selection(since=since, until=since, accounts=frozenset({B}), regions=("eu-west-1",)),
                            recording))
    assert found == [f"AWSLogs/{ORG}/{B}/CloudTrail/eu-west-1/2026/11/{d}/" for d in ("27", "28")]
    # The organisation and its accounts had to be discovered; regions and days were given, so not listed.
    assert listed == ["AWSLogs/", f"AWSLogs/{ORG}/"]


def test_without_a_window_every_region_is_listed_and_every_day_read(aws):
    keys = _org_trail()
    found = {o.key for o in objects("s3://trail", Selection(accounts=frozenset({B})))}
    assert found == {k for event, k in keys.items() if event.startswith(B)}


def test_folder_markers_digests_and_empty_objects_are_never_read(aws):
    keys = _org_trail()
    found = [o.key for o in objects("s3://trail/AWSLogs/", Selection())]
    assert sorted(found) == sorted(keys.values())


def test_trail_under_a_bucket_prefix_and_a_bucket_without_the_layout(aws):
    bucket("logs")
    put_trail_file("logs", delivery_key(A, "us-east-1", "2026-11-27", prefix="cloudtrail/"), hit("under-prefix"))
    put_trail_file("logs", "exports/anything/goes.json.gz", hit("no-layout"))
    since = datetime(2026, 11, 27, tzinfo=UTC)
    under = list(partitions("cloudtrail", Selection(since=since, until=since), lambda p: list_folders("logs", p)))
    assert under == [f"cloudtrail/AWSLogs/{A}/CloudTrail/us-east-1/2026/11/{d}/" for d in ("27", "28")]
    result = run_cli("scan", "s3://logs/cloudtrail", "s3://logs/exports/")
    assert sorted(a["EventID"] for a in jsonl(result.stdout)) == ["no-layout", "under-prefix"]


def test_a_prefix_down_to_the_region_is_used_as_given(aws):
    _org_trail()
    result = run_cli("scan", f"s3://trail/AWSLogs/{ORG}/{B}/CloudTrail/us-east-1/", "--since", "2026-11-28T00:00:00Z")
    assert [a["EventID"] for a in jsonl(result.stdout)] == [f"{B}-us-east-1-2026-11-28"]
    assert "1 input(s)" in result.stderr


def test_state_makes_a_rerun_read_only_new_or_rewritten_objects(aws, tmp_path):
    bucket()
    first = put_trail_file("trail", delivery_key(A, "us-east-1", "2026-11-27"), hit("e-1"))
    state = str(tmp_path / "state.db")
    run1 = run_cli("scan", "s3://trail", "--state", state)
    assert [a["EventID"] for a in jsonl(run1.stdout)] == ["e-1"]

    put_trail_file("trail", delivery_key(A, "us-east-1", "2026-11-27", stamp="1410"), hit("e-2"))
    run2 = run_cli("scan", "s3://trail", "--state", state)
    assert [a["EventID"] for a in jsonl(run2.stdout)] == ["e-2"]
    assert "1 input(s)" in run2.stderr and "1 object(s) already processed" in run2.stderr

    put_trail_file("trail", first, hit("e-1"), hit("e-3"))  # rewritten: a new ETag, read again
    run3 = run_cli("scan", "s3://trail", "--state", state)
    assert [a["EventID"] for a in jsonl(run3.stdout)] == ["e-3"]
    assert "1 already alerted" in run3.stderr and "2 object(s) already processed" not in run3.stderr


def test_unreadable_objects_and_buckets_are_named_and_the_rest_is_scanned(aws, tmp_path):
    bucket()
    put_trail_file("trail", delivery_key(A, "us-east-1", "2026-11-27"), hit("good"))
    good_part = gzip.compress(orjson.dumps({"Records": [hit("salvaged")]}))
    broken = delivery_key(A, "us-east-1", "2026-11-27", stamp="1410")
    boto3.client("s3").put_object(Bucket="trail", Key=broken, Body=good_part[:-4])  # truncated gzip
    state = str(tmp_path / "state.db")
    result = run_cli("scan", "s3://trail", "s3://no-such-bucket/AWSLogs/", "--state", state)
    assert result.returncode == 1
    assert sorted(a["EventID"] for a in jsonl(result.stdout)) == ["good", "salvaged"]
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert any(f"s3://trail/{broken}" in w and "gzip" in w for w in warnings), warnings
    assert any("s3://no-such-bucket/AWSLogs/" in w and "NoSuchBucket" in w for w in warnings), warnings
    # The partly read object is not marked processed: the next run reads it again (and names it again),
    # while its salvaged alert is not raised twice.
    again = run_cli("scan", "s3://trail", "--state", state)
    assert again.returncode == 1 and jsonl(again.stdout) == [] and broken in again.stderr
    assert "1 object(s) already processed" in again.stderr


def test_an_object_input_is_picklable_and_reads_in_another_process(aws):
    bucket()
    key = put_trail_file("trail", "a/b.json.gz", hit("e-1"), hit("e-2"))
    item = pickle.loads(pickle.dumps(S3Object("trail", key)))
    # read() gives the bytes as stored (gzip here): the records' reader decompresses them.
    code = ("import pickle, sys; from trailhound.records.formats import parse; "
            "item = pickle.loads(sys.stdin.buffer.read()); print(len(parse(item.read()).records))")
    child = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(item), capture_output=True, timeout=60)
    assert child.stdout.strip() == b"2", child.stderr
    assert item.origin == f"s3://trail/{key}"


def test_multi_member_gzip_objects_are_streamed_whole(aws):
    bucket()
    body = gzip.compress(orjson.dumps([hit("m-1")])[:-1] + b",") + gzip.compress(orjson.dumps(hit("m-2")) + b"]")
    boto3.client("s3").put_object(Bucket="trail", Key="multi.json.gz", Body=body)
    with S3Object("trail", "multi.json.gz").open() as body:  # streamed from the connection, gunzipped as it comes
        data = b"".join(chunks(body, size=16))
    assert [r["eventID"] for r in orjson.loads(data)] == ["m-1", "m-2"]


def test_usage_errors_for_remote_options_exit_2(tmp_path):
    (tmp_path / "a.json").write_text("[]")
    for args, says in ((["scan"], "nothing to scan"), (["scan", str(tmp_path), "--accounts", "1"], "--accounts"),
                       (["scan", "s3://"], "not an S3 URL")):
        result = run_cli(*args)
        assert result.returncode == 2 and says in result.stderr, (args, result.stderr)
