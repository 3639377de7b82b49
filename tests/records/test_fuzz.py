"""Fuzzing the reader and the rule: random bytes and random record structures can only end in alerts,
no alerts, or a handled bad-input report. Never an exception, never a message of more than one line.

Example counts come from the hypothesis profile in conftest.py (HYPOTHESIS_PROFILE=thorough for more).
"""

from __future__ import annotations

import gzip
import io
import json
import zlib

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from trailhound.alerts.render import write_jsonl, write_table
from trailhound.engine.evaluate import ScanOptions, scan_input
from trailhound.engine.rules import load_rules
from trailhound.records.formats import parse
from trailhound.records.record import Record

from ..helpers import record
from ..hostile import assert_terminal_safe

RULES = load_rules()
NEEDLE = "CreateLoginProfile"

json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
# Values the rule looks at, plus whatever else: enough weight on the right words to reach every branch.
interesting = json_value | st.sampled_from([NEEDLE, "createloginprofile", "iam.amazonaws.com", "AwsApiCall",
                                            False, "false", "FALSE", True, "", "root", "Root"])
CLOUDTRAIL_KEYS = ["eventName", "eventSource", "eventType", "eventID", "eventTime", "eventVersion", "errorCode",
                   "awsRegion", "sourceIPAddress", "userAgent", "recipientAccountId", "eventCategory"]
NESTED_KEYS = {"requestParameters": ["userName", "passwordResetRequired"],
               "responseElements": ["loginProfile"],
               "userIdentity": ["type", "userName", "arn", "accountId", "sessionContext"]}


@st.composite
def cloudtrail_like(draw) -> dict:
    """A record with CloudTrail's field names and any JSON values in them (right types or not)."""
    out = draw(st.fixed_dictionaries({}, optional={k: interesting for k in CLOUDTRAIL_KEYS}))
    for key, inner in NESTED_KEYS.items():
        shape = draw(st.sampled_from(["dict", "json-string", "other", "absent"]))
        if shape == "absent":
            continue
        nested = draw(st.fixed_dictionaries({}, optional={k: interesting for k in inner}))
        out[key] = {"dict": nested, "json-string": json.dumps(nested), "other": draw(json_value)}[shape]
    return out


def dumps(value) -> bytes:
    """The standard library's JSON: unlike orjson it writes integers beyond 64 bits, as logs may hold."""
    return json.dumps(value).encode()


class Blob:
    origin = "fuzz://blob"

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


def check_outcome(data: bytes) -> None:
    """The only outcomes: alerts (renderable, inert), no alerts, or a one-line problem."""
    result = scan_input(Blob(data), RULES, ScanOptions())
    assert result.traceback is None, result.traceback
    if result.problem is not None:
        assert result.problem and "\n" not in result.problem
    for alert in result.alerts:
        assert alert.row["RuleId"] == "0xFF-0237"
        orjson.loads(orjson.dumps(alert.as_dict(), default=str))
    out = io.StringIO()
    write_jsonl(result.alerts, out)
    assert len(out.getvalue().splitlines()) == len(result.alerts)
    if result.alerts:
        table = io.StringIO()
        write_table(result.alerts, table)
        assert_terminal_safe(table.getvalue())


@given(st.binary(max_size=2048))
@example(b"\x1f\x8b")
@example(b'{"Records": [')
@example(b"[" * 5000)
def test_random_bytes(data):
    check_outcome(data)


@given(st.binary(max_size=512))
def test_random_bytes_behind_gzip_and_json_openers(data):
    for prefix in (b'{"Records": [', b"[", b"TimeGenerated,EventName\n", b"2026-01-01T00:00:00Z {"):
        check_outcome(prefix + data)
    check_outcome(gzip.compress(data))
    check_outcome(zlib.compress(data))


@given(json_value)
def test_random_json_structures_in_every_container(value):
    for doc in (value, {"Records": [value]}, [value, value],
                {"detail-type": "AWS API Call via CloudTrail", "detail": value},
                {"Events": [{"CloudTrailEvent": json.dumps(value)}]}):
        check_outcome(dumps(doc))


@given(st.lists(cloudtrail_like(), min_size=1, max_size=5), st.integers(min_value=0, max_value=10_000))
def test_cloudtrail_like_records_are_judged_or_reported_even_cut_short(records, cut):
    data = dumps({"Records": records})
    check_outcome(data)
    check_outcome(data[: cut % (len(data) + 1)])
    check_outcome(b"\n".join(dumps(r) for r in records))


@given(cloudtrail_like())
def test_the_rule_never_raises_on_any_record(raw):
    rule = RULES[0]
    rec = Record(raw)
    if rule.matches(rec):
        row = rule.row(rec)
        assert all(isinstance(row[k], str) for k in row)
        rule.entities(rec, row)


@given(st.integers(min_value=1, max_value=2000))
def test_a_valid_file_cut_anywhere_keeps_every_record_before_the_cut(cut):
    records = [record(eventID=f"e-{i}") for i in range(8)]
    data = orjson.dumps({"Records": records})
    doc = parse(data[:cut])
    kept = [r["eventID"] for r in doc.records]
    assert kept == [f"e-{i}" for i in range(len(kept))]
    complete = sum(data.find(orjson.dumps(r)) + len(orjson.dumps(r)) <= cut for r in records)
    assert len(kept) >= complete, (kept, complete)
    if cut < len(data):
        assert doc.problem is not None
