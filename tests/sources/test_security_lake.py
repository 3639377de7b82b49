"""Security Lake on moto's S3: its layout pruned like CloudTrail's, Parquet read by ranged GETs, and an
`s3://` scan reading every object beside the layouts as a folder scan would."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import boto3
import pyarrow.parquet as pq

from trailhound.sources import place
from trailhound.sources.lake_layout import partitions, split
from trailhound.sources.s3 import S3Object, list_folders, objects
from trailhound.sources.s3_layout import Selection

from ..helpers import jsonl, run_cli
from ..ocsf_rows import lake_key, to_ocsf
from ..s3helpers import bucket, delivery_key, hit, put_trail_file

A, B = "111122223333", "444455556666"
LAKE = "aws-security-data-lake-us-east-1-x"


def put_parquet(name: str, key: str, records: list[dict], row_group_size: int = 64) -> str:
    """CloudTrail records as a Security Lake Parquet object."""
    return write_rows(name, key, [to_ocsf(r) for r in records], row_group_size)


def write_rows(name: str, key: str, rows: list[dict], row_group_size: int = 64) -> str:
    import pyarrow as pa

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink, row_group_size=row_group_size)
    boto3.client("s3").put_object(Bucket=name, Key=key, Body=sink.getvalue())
    return key


def _lake() -> dict[str, str]:
    """Two accounts x two regions x three days of CloudTrail management events, and another source."""
    bucket(LAKE)
    keys = {}
    for account in (A, B):
        for region in ("us-east-1", "eu-west-1"):
            for day in ("2026-11-26", "2026-11-27", "2026-11-28"):
                event = f"{account}-{region}-{day}"
                rec = hit(event, day, recipientAccountId=account, awsRegion=region)
                keys[event] = put_parquet(LAKE, lake_key(rec) + f"{event}.gz.parquet", [rec])
    put_parquet(LAKE, "aws/ROUTE53/2.0/region=us-east-1/accountId=111122223333/eventDay=20261127/dns.parquet",
                [hit("not-cloudtrail")])
    return keys


def test_split_finds_the_layout_at_a_source_or_deeper():
    assert split("aws/CLOUD_TRAIL_MGMT/2.0/") == ("aws/", ["CLOUD_TRAIL_MGMT", "2.0"])
    assert split("lake/aws/CLOUD_TRAIL_MGMT/") == ("lake/aws/", ["CLOUD_TRAIL_MGMT"])
    assert split("aws/") is None and split("exports/aws/logs/") is None
    assert split("aws/CLOUD_TRAIL_MGMT/2.0/region=us") is None  # a partial name: listed as given


def test_partitions_are_built_from_the_selection_and_only_unknown_levels_are_listed(aws):
    _lake()
    listed: list[str] = []

    def recording(prefix: str) -> list[str]:
        listed.append(prefix)
        return list_folders(LAKE, prefix)

    since = datetime(2026, 11, 27, tzinfo=UTC)
    sel = Selection(since=since, until=since, accounts=frozenset({B}), regions=("eu-west-1",))
    found = list(partitions("aws/", [], sel, recording))
    assert found == [f"aws/CLOUD_TRAIL_MGMT/2.0/region=eu-west-1/accountId={B}/eventDay=202611{d}/" for d in ("27", "28")]
    assert listed == ["aws/CLOUD_TRAIL_MGMT/"]  # only the source's versions had to be discovered


def test_a_lake_scan_reads_only_the_selected_accounts_regions_and_days(aws):
    _lake()
    result = run_cli("scan", f"s3://{LAKE}/", "--accounts", A, "--regions", "eu-west-1,us-east-1",
                     "--since", "2026-11-27T00:00:00Z", "--until", "2026-11-27T23:59:59Z")
    assert result.returncode == 0, result.stderr
    assert sorted(a["EventID"] for a in jsonl(result.stdout)) == [f"{A}-eu-west-1-2026-11-27", f"{A}-us-east-1-2026-11-27"]
    assert "4 input(s) (4 from Security Lake)" in result.stderr  # days 27 and 28 of two regions, no Route 53


def test_without_a_window_every_partition_of_the_cloudtrail_source_is_read(aws):
    keys = _lake()
    found = {o.key for o in objects(f"s3://{LAKE}/aws/", Selection(accounts=frozenset({B})))}
    assert found == {k for event, k in keys.items() if event.startswith(B)}


def test_a_big_parquet_object_is_read_by_ranged_gets_row_group_by_row_group(aws):
    bucket(LAKE)
    records = [hit(f"r-{i}", userAgent="x" * 500) for i in range(400)]
    key = put_parquet(LAKE, "big.parquet", records, row_group_size=100)
    from trailhound.records.read import sift

    doc = sift(S3Object(LAKE, key), None).document  # an S3 body cannot seek: ranged reads instead
    assert doc is not None and [r["eventID"] for r in doc.records] == [f"r-{i}" for i in range(400)]
    with S3Object(LAKE, key).open_random_access() as handle:
        assert pq.ParquetFile(handle).num_row_groups == 4


def test_s3_scan_reads_every_object_beside_the_layouts_and_counts_each_place(aws):
    bucket("mixed")
    put_trail_file("mixed", delivery_key(A, "us-east-1", "2026-11-27"), hit("in-trail"))
    put_trail_file("mixed", delivery_key(A, "us-east-1", "2026-11-20"), hit("pruned-day"))
    put_trail_file("mixed", "export-by-hand.json.gz", hit("at-the-root"))
    put_trail_file("mixed", "exports/2026/11/cloudtrail.json.gz", hit("in-a-folder"))
    put_trail_file("mixed", "logs/AWSLogs/" + delivery_key(B, "us-east-1", "2026-11-27")[len("AWSLogs/"):],
                   hit("trail-under-prefix"))
    rec = hit("in-lake", recipientAccountId=B)
    put_parquet("mixed", lake_key(rec) + "part.parquet", [rec])
    result = run_cli("scan", "s3://mixed/", "--since", "2026-11-27T00:00:00Z", "--until", "2026-11-27T23:59:59Z")
    assert result.returncode == 0, result.stderr
    found = sorted(a["EventID"] for a in jsonl(result.stdout))
    assert found == ["at-the-root", "in-a-folder", "in-lake", "in-trail", "trail-under-prefix"]
    summary = result.stderr.splitlines()[-1]
    assert "5 input(s) (2 from CloudTrail layout, 1 from Security Lake, 2 from other S3 objects)" in summary


def test_place_names_where_an_input_came_from():
    assert place("s3://b/AWSLogs/o-abcdefghij/111122223333/CloudTrail/us-east-1/2026/11/27/x.json.gz") \
        == "CloudTrail layout"
    assert place("s3://b/aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=1/eventDay=20261127/a.parquet") \
        == "Security Lake"
    assert place("s3://b/exports/x.json") == "other S3 objects" and place("/tmp/x.json") == "local files"
    assert place("cloudtrail-event-history:us-east-1") == "event history"
    assert place("s3://b/AWSLogs-copy/111122223333/CloudTrail/x") == "other S3 objects"

