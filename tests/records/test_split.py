"""Big inputs split as they stream, and big NDJSON files split over workers, give exactly the results the
same records give as small delivery files read whole: same alerts, severities and reasons, broken records
named and the rest kept, whatever falls on a chunk, window or range boundary."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trailhound
from trailhound.records import read, split, stream
from trailhound.records.split import split_stream
from trailhound.sources import files
from trailhound.sources.files import FileInput, FileRange, ranges

from ..helpers import record

FILLER = record(eventSource="ec2.amazonaws.com", eventName="DescribeInstances", requestParameters={"maxResults": 5})


def _item(kind: str, index: int, pad: int) -> bytes:
    """One record's bytes, compact. Kinds: a match, a match whose event name is JSON-escaped, a decoy (reset
    required), context (the target's creation, its console sign-in), filler with strings that look like
    structure, and a broken record that holds the needle."""
    eid = f"{kind}-{index}"
    when = f"2026-11-27T14:{index % 60:02d}:00Z"
    if kind == "match":
        return orjson.dumps(record(eventID=eid, eventTime=when, user=f"u{index % 3}"))
    if kind == "escaped":
        text = orjson.dumps(record(eventID=eid, eventTime=when))
        return text.replace(b'"CreateLoginProfile"', b'"\\u0043reateLoginProfil\\u0065"')
    if kind == "decoy":
        return orjson.dumps(record(flag=True, eventID=eid, eventTime=when))
    if kind == "created":
        return orjson.dumps(record(eventName="CreateUser", eventID=eid, eventTime="2026-11-27T14:00:00Z",
                                   requestParameters={"userName": f"u{index % 3}"}))
    if kind == "login":
        return orjson.dumps(record(eventSource="signin.amazonaws.com", eventName="ConsoleLogin", eventID=eid,
                                   eventTime="2026-11-27T15:00:00Z", sourceIPAddress="203.0.113.66",
                                   userIdentity={"type": "IAMUser", "userName": f"u{index % 3}",
                                                 "accountId": "111122223333"},
                                   responseElements={"ConsoleLogin": "Success"}))
    if kind == "broken":  # balanced brackets, one comma missing: not JSON, and it holds the needle
        return orjson.dumps(record(eventID=eid)).replace(b',"eventType"', b' "eventType"', 1)
    # Strings that look like record boundaries, brackets and escapes; nested arrays of objects; padding
    noise = '},{"eventVersion":"1.09"}]' + "x" * pad + '\\"[{'
    return orjson.dumps(dict(FILLER, eventID=eid, userAgent=noise,
                             requestParameters={"filters": [{"name": "a", "values": ["}", "]"]}, {"name": "b"}]}))


KINDS = st.sampled_from(["match", "match", "escaped", "decoy", "created", "login", "filler", "filler", "broken"])
ITEMS = st.lists(st.tuples(KINDS, st.integers(0, 3000)), min_size=1, max_size=40)


def _shapes(items: list[bytes]) -> dict[str, bytes]:
    return {
        "records.json": b'{"Records":[' + b",".join(items) + b"]}",
        "spaced.json": b'{"Records": [\n' + b",\n".join(items) + b"\n]}\n",
        "array.json": b"[" + b", ".join(items) + b"]",
        "lines.jsonl": b"\n".join(items) + b"\n",
        "lines-unended.jsonl": b"\n".join(items),
    }


def _outcome(result: trailhound.ScanResult) -> tuple:
    alerts = sorted((a.row["EventID"], a.row["Severity"], tuple(a.row.get("Reasons") or ())) for a in result.alerts)
    return alerts, bool(result.summary.bad_inputs)


def _small_files(folder: Path, items: list[bytes]) -> Path:
    """The reference: the records as small delivery files of three, each read whole."""
    folder.mkdir()
    for start in range(0, len(items), 3):
        (folder / f"{start:05d}.json").write_bytes(b'{"Records":[' + b",".join(items[start:start + 3]) + b"]}")
    return folder


@pytest.fixture()
def tiny_limits(monkeypatch):
    """Every input is big: held whole past 64 bytes never, read in 61-byte chunks, split past 256 bytes,
    one record at most 4 KB. Every boundary falls somewhere inside records."""
    monkeypatch.setattr(read, "IN_MEMORY_LIMIT", 64)
    monkeypatch.setattr(stream, "CHUNK", 61)
    monkeypatch.setattr(files, "SPLIT_MIN", 256)
    monkeypatch.setattr(split, "RECORD_LIMIT", 4096)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=ITEMS, pad=st.integers(0, 300), gz=st.booleans())
def test_every_shape_streamed_alerts_as_small_files_do(tmp_path_factory, tiny_limits, items, pad, gz):
    raw = [_item(kind, i, pad) for kind, i in items]
    folder = tmp_path_factory.mktemp("case")
    with pytest.MonkeyPatch.context() as unlimited:  # the reference reads each small file whole
        unlimited.setattr(read, "IN_MEMORY_LIMIT", 64 << 20)
        unlimited.setattr(stream, "CHUNK", 8 << 20)
        expected = _outcome(trailhound.scan([str(_small_files(folder / "small", raw))]))
    broken = any(kind == "broken" for kind, _ in items)
    assert expected[1] == broken
    for name, data in _shapes(raw).items():
        path = folder / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
        assert _outcome(trailhound.scan([str(path)])) == expected, name
        assert _outcome(trailhound.scan([str(path)], prefilter=False)) == expected, f"{name}, no prefilter"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=ITEMS, pad=st.integers(0, 300), parts=st.integers(2, 7))
def test_a_big_ndjson_file_split_over_workers_is_the_file_read_by_one(tmp_path_factory, tiny_limits, items, pad,
                                                                       parts):
    raw = [_item(kind, i, pad) for kind, i in items]
    data = b"\n".join(raw) + b"\n"
    path = tmp_path_factory.mktemp("case") / "big.jsonl"
    path.write_bytes(data)
    one = trailhound.scan([str(path)], workers=1)
    many = trailhound.scan([str(path)], workers=parts)
    assert _outcome(many) == _outcome(one)
    assert many.summary.bad_inputs == one.summary.bad_inputs  # the same lines named, once, in the whole file
    assert many.summary.inputs == 1


def test_ranges_own_every_line_once(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "SPLIT_MIN", 16)
    lines = [b"x" * n for n in (0, 1, 30, 2, 0, 77, 5)]
    for ending in (b"\n", b""):
        path = tmp_path / "f.jsonl"
        path.write_bytes(b"\n".join(lines) + ending)
        for parts in range(2, 12):
            pieces = ranges(FileInput(str(path)), parts, lambda head: True)
            assert all(isinstance(p, FileRange) for p in pieces)
            assert b"".join(p.read() for p in pieces) == path.read_bytes(), parts


def test_gzip_and_arrays_are_not_split_into_ranges(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "SPLIT_MIN", 16)
    body = b"\n".join(orjson.dumps(record(eventID=str(i))) for i in range(20))
    for name, data in {"a.jsonl.gz": gzip.compress(body), "b.json": b"[" + body.replace(b"\n", b",") + b"]"}.items():
        (tmp_path / name).write_bytes(data)
        assert ranges(FileInput(str(tmp_path / name)), 4, lambda head: split.shape_of(head) == "lines") == [
            FileInput(str(tmp_path / name))]


@pytest.mark.parametrize("shape", ["lines", "array"])
def test_a_record_past_the_limit_is_named_and_skipped_and_the_rest_read(monkeypatch, shape):
    monkeypatch.setattr(split, "RECORD_LIMIT", 1000)
    huge = orjson.dumps(record(eventID="huge", userAgent="y" * 5000))
    items = [orjson.dumps(record(eventID="before")), huge, orjson.dumps(record(eventID="after"))]
    data = b"\n".join(items) if shape == "lines" else b'{"Records":[' + b",".join(items) + b"]}"
    blocks = [data[i:i + 300] for i in range(0, len(data), 300)]
    doc = split_stream(blocks, None)
    assert [r["eventID"] for r in doc.records] == ["before", "after"]
    assert "a record over" in (doc.problem or "") and doc.unreadable == 1


def test_records_are_handed_on_as_they_stream(monkeypatch):
    items = [orjson.dumps(record(eventID=str(i))) for i in range(50)]
    data = b'{"Records":[' + b",".join(items) + b"]}"
    batches: list[int] = []
    doc = split_stream([data[i:i + 500] for i in range(0, len(data), 500)], None,
                       batch=lambda records: batches.append(len(records)))
    assert len(batches) > 5 and sum(batches) + len(doc.records) == 50 and doc.read == 50
