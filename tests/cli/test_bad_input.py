"""Hostile and broken input never crashes a run: each bad file is named in one line, the rest is scanned.

The corpus is written here. Every bad file that could hold a match carries the rule's needle
(CreateLoginProfile), so a prefilter may never let it pass unnamed; files without a needle may be skipped
unparsed, and are only required not to break the run.
"""

from __future__ import annotations

import gzip
import os
import random
import re

import orjson
import pytest

from trailhound.engine.rules import load_rules
from trailhound.engine.rules.iam_login_profile import PasswordAssignedToExistingIAMUser
from trailhound.records.formats import parse
from trailhound.records.record import Record
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.sources.files import FileInput

from ..helpers import jsonl, record, run_cli, write
from ..ocsf_rows import to_ocsf, write_parquet
from ..records.test_wrappers import awslogs

# What a scan searches files for: the rule's event name, or (context on, the default) its event source.
# A broken file holding neither cannot hold a match and is skipped unparsed, like any file without a hit.
NEEDLE = b'"eventSource":"iam.amazonaws.com","eventName":"CreateLoginProfile"'


def rec(event_id: str, **fields) -> dict:
    out = record()
    out.update(fields)
    out["eventID"] = event_id
    return out


# Records whose fields have the wrong type or an odd value: judged on what they have. The bool says
# whether the rule must match it (what is left still says CreateLoginProfile without a forced reset).
ODD_RECORDS = [
    (rec("odd-name-number", eventName=5), False),
    (rec("odd-params-list", requestParameters=[1, 2]), True),  # nothing recorded, call succeeded: API default
    (rec("odd-identity-null", userIdentity=None), True),
    (rec("odd-identity-string", userIdentity="arn:aws:iam::111122223333:user/x"), True),
    (rec("odd-version", eventVersion="99.99"), True),
    (rec("odd-version-number", eventVersion=2), True),
    (rec("odd-time-text", eventTime="yesterday at noon"), True),
    (rec("odd-time-huge", eventTime=1e300), True),
    (rec("odd-time-list", eventTime=[2026]), True),
    (rec("odd-time-invalid-date", eventTime="2026-13-45T99:99:99Z"), True),
    (rec("odd-ip-list", sourceIPAddress=["203.0.113.1"]), True),
    (rec("odd-agent-null", userAgent=None), True),
    (rec("odd-response-string", responseElements='{"loginProfile": 5}'), True),
    (rec("odd-error-object", errorCode={"code": "AccessDenied"}), True),  # a failure that recorded `false`
    (rec("odd-source-null", eventSource=None), False),
    (rec("odd-flag-list", requestParameters={"userName": "bob", "passwordResetRequired": [False]}), False),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A folder of good files (known alerts) and every kind of bad file, with what each must produce."""
    root = tmp_path_factory.mktemp("bad-input")
    good = {f"good-{i}" for i in range(3)}
    write(root / "good/a.json.gz", {"Records": [rec("good-0"), rec("quiet", eventName="GetUser")]}, gz=True)
    write(root / "good/b.jsonl", b"\n".join(orjson.dumps(rec(i)) for i in ("good-1", "good-2")))
    lines = b"".join(orjson.dumps(rec(f"trunc-{i}")) + b"\n" for i in range(300))
    packed = gzip.compress(lines)
    bad = {
        "truncated.json.gz": packed[: len(packed) // 2],
        "broken.json": b'{"Records": [' + orjson.dumps(rec("broken-0")) + b", {" + NEEDLE + b', "x": ',
        "garbage.bin": random.Random(8).randbytes(4096) + NEEDLE + random.Random(9).randbytes(512),
        "nested.json": b'{"Records": [' + orjson.dumps(rec("before-deep")) + b', {' + NEEDLE
                       + b', "requestParameters": ' + b'{"a":' * 200_000 + b"1" + b"}" * 200_000 + b"}, "
                       + orjson.dumps(rec("after-deep")) + b"]}",
        "nested-array.json": b"[" * 200_000 + NEEDLE + b"]" * 200_000,
        "mixed-lines.jsonl": orjson.dumps(rec("line-1")) + b"\n{" + NEEDLE + b", oops\n"
                             + orjson.dumps(rec("line-3")) + b"\n",
        "odd.json": orjson.dumps({"Records": [r for r, _ in ODD_RECORDS]}),
        "long-csv.csv": b"TimeGenerated,EventName,EventSource,EventTypeName,AwsEventId,UserAgent\n"
                        b"2026-11-27T14:06:00Z,CreateLoginProfile,iam.amazonaws.com,AwsApiCall,csv-long,"
                        + b"A" * 300_000 + b"\n",
    }
    # Security Lake and Lambda shapes: a Parquet file cut short, one of another schema, a broken base64 payload
    lake = write_parquet([to_ocsf(rec(f"lake-{i}")) for i in range(3)], root / "good/lake.parquet").read_bytes()
    bad["cut.parquet"] = lake[: len(lake) // 2]
    write_parquet([{"flow_id": 1, "bytes": 20}], root / "bad/flows.parquet")
    bad["broken-base64.json"] = orjson.dumps([{"awslogs": {"data": "H4sI" + "%" * 40}}, awslogs(rec("b64-kept"))])
    for name, data in bad.items():
        write(root / "bad" / name, data)
    write(root / "bad/empty.json", b"")
    write(root / "bad/huge-string.json", {"Records": [rec("huge-1", userAgent="A" * 30_000_000)]})
    os.mkfifo(root / "bad/a-fifo")
    expect_alerts = good | {f"trunc-{i}" for i in range(10)} | {"broken-0", "before-deep", "after-deep", "line-1",
                                                               "line-3", "huge-1", "csv-long", "b64-kept"}
    expect_alerts |= {f"lake-{i}" for i in range(3)}
    expect_alerts |= {r["eventID"] for r, hit in ODD_RECORDS if hit}
    named = {"truncated.json.gz", "broken.json", "garbage.bin", "nested.json", "nested-array.json",
             "mixed-lines.jsonl", "a-fifo", "cut.parquet", "flows.parquet", "broken-base64.json"}
    return root, expect_alerts, named


@pytest.fixture(scope="module")
def scanned(corpus):
    root, _, _ = corpus
    return run_cli("scan", str(root))


def test_run_over_bad_input_exits_1_without_a_traceback(scanned):
    assert scanned.returncode == 1, scanned.stderr[-2000:]
    assert "Traceback" not in scanned.stderr and "unexpected" not in scanned.stderr


def test_every_bad_file_with_a_needle_is_named_in_one_line(corpus, scanned):
    _, _, named = corpus
    warnings = [line for line in scanned.stderr.splitlines() if line.startswith("trailhound: warning:")]
    for name in named:
        mine = [line for line in warnings if f"/bad/{name}: " in line]
        assert len(mine) == 1, (name, warnings)
        assert len(mine[0]) < 400, mine[0]
    summary = scanned.stderr.splitlines()[-1]
    assert re.search(r"\d+ bad input\(s\)", summary), summary


def test_every_readable_alert_is_emitted(corpus, scanned):
    _, expect, _ = corpus
    ids = [a["EventID"] for a in jsonl(scanned.stdout)]
    assert len(ids) == len(set(ids))
    missing = expect - set(ids)
    assert not missing, missing
    truncated = {i for i in ids if i.startswith("trunc-")}
    assert 10 <= len(truncated) < 300, "a truncated gzip keeps what precedes the cut, and only that"
    assert set(ids) - expect - truncated == set()


def test_the_30mb_string_reaches_the_alert_whole(scanned):
    (huge,) = [a for a in jsonl(scanned.stdout) if a["EventID"] == "huge-1"]
    assert len(huge["UserAgent"]) == 30_000_000


def test_table_output_cuts_the_30mb_string(corpus):
    root, _, _ = corpus
    result = run_cli("scan", str(root / "bad/huge-string.json"), "--format", "table", env={"COLUMNS": "250"})
    assert result.returncode == 0 and len(result.stdout) < 10_000


def test_debug_shows_no_traceback_for_handled_bad_input(corpus):
    root, _, _ = corpus
    result = run_cli("scan", str(root / "bad/broken.json"), "--debug")
    assert result.returncode == 1 and "Traceback" not in result.stderr and "broken.json" in result.stderr


@pytest.mark.parametrize("odd, hit", ODD_RECORDS, ids=[r["eventID"] for r, _ in ODD_RECORDS])
def test_record_with_odd_types_is_judged_on_what_it_has(odd, hit):
    doc = parse(orjson.dumps({"Records": [odd]}))
    assert doc.records == [odd] and doc.problem is None
    assert PasswordAssignedToExistingIAMUser().matches(Record(odd)) is hit


def test_a_too_deep_item_is_counted_and_the_records_after_it_are_kept(corpus):
    root, _, _ = corpus
    doc = parse((root / "bad/nested.json").read_bytes())
    assert [r["eventID"] for r in doc.records] == ["before-deep", "after-deep"]
    assert doc.unreadable == 1 and "nesting too deep" in doc.problem


def test_unreadable_items_are_counted_in_the_summary(corpus):
    root, _, _ = corpus
    result = scan_inputs(Run(load_rules()), [FileInput(str(root / "bad/mixed-lines.jsonl")),
                                       FileInput(str(root / "bad/nested.json"))])
    assert result.summary.unreadable == 2
    assert [origin.rsplit("/", 1)[1] for origin, _ in result.summary.bad_inputs] == ["mixed-lines.jsonl",
                                                                                      "nested.json"]


def test_log_analytics_tables_of_the_wrong_shape_are_unreadable_not_fatal():
    for tables in ([{"columns": [{"name": ["x"]}], "rows": [[1]]}], [{"columns": [], "rows": 5}],
                   [{"columns": {"a": 1}, "rows": [[1]]}], ["x"]):
        doc = parse(orjson.dumps({"tables": tables}))
        assert doc.records == []


class Exploding:
    """A source whose read fails with something other than OSError (as an SDK's own error would)."""

    origin = "s3://bucket/exploding.json"

    def read(self) -> bytes:
        raise RuntimeError("connection reset\n\x1b[31mforged line")


def test_an_input_that_fails_unexpectedly_costs_only_that_input(tmp_path, capsys):
    from trailhound.cli.scan import report

    write(tmp_path / "a.json", [rec("survivor")])
    result = scan_inputs(Run(load_rules()), [Exploding(), FileInput(str(tmp_path / "a.json"))])
    assert [a.row["EventID"] for a in result.alerts] == ["survivor"]
    ((origin, reason),) = result.summary.bad_inputs
    assert origin == Exploding.origin and "RuntimeError" in reason
    report(result.summary, debug=False)
    quiet = capsys.readouterr().err
    assert "Traceback" not in quiet and "\x1b" not in quiet
    assert len([line for line in quiet.splitlines() if "exploding.json" in line]) == 1
    report(result.summary, debug=True)
    loud = capsys.readouterr().err
    assert "Traceback" in loud and "RuntimeError" in loud and "\x1b" not in loud


def test_a_fifo_or_device_is_named_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "pipe.json")
    os.symlink("/dev/zero", tmp_path / "zero.json")
    write(tmp_path / "a.json", [rec("still-here")])
    result = run_cli("scan", str(tmp_path))
    assert result.returncode == 1 and [a["EventID"] for a in jsonl(result.stdout)] == ["still-here"]
    for name in ("pipe.json", "zero.json"):
        assert f"{name}: cannot read (not a regular file)" in result.stderr


def test_durations_beyond_the_calendar_are_usage_errors(tmp_path):
    write(tmp_path / "a.json", [rec("x")])
    for option in ("--since", "--dedup-window"):
        result = run_cli("scan", str(tmp_path), option, "99999999999999999999d")
        assert result.returncode == 2 and option in result.stderr and "Traceback" not in result.stderr


def test_integers_beyond_64_bits_do_not_cost_the_record_or_the_output(tmp_path):
    huge = 2**70
    body = '{"Records": [' + orjson.dumps(rec("big-int-1")).decode()[:-1] + f', "apiVersion": {huge}}}]}}'
    write(tmp_path / "a.json", body.encode())
    write(tmp_path / "b.jsonl", (orjson.dumps(rec("big-int-2")).decode()[:-1] + f', "x": -{huge}}}\n').encode())
    result = run_cli("scan", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(a["EventID"] for a in jsonl(result.stdout)) == ["big-int-1", "big-int-2"]


def test_a_file_cut_inside_its_records_array_is_named():
    data = orjson.dumps({"Records": [rec("whole")]})
    doc = parse(data[: data.index(b"]") + 0] + b",")
    assert [r["eventID"] for r in doc.records] == ["whole"] and "cut short" in doc.problem
