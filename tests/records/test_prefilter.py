"""The prefilter never changes results: every input scanned with and without it raises the same alerts."""

from __future__ import annotations

import base64
import gzip
import string

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailhound.context.collect import RelatedEvents
from trailhound.demo import write_demo
from trailhound.engine.evaluate import ScanOptions
from trailhound.engine.rules import load_rules
from trailhound.records import formats as shapes
from trailhound.records import read as sift
from trailhound.records.prefilter import NON_ASCII_FOLDS, PortableMatcher, hiding_patterns, make_matcher
from trailhound.run.local import scan_inputs
from trailhound.run.pipeline import Run
from trailhound.sources.files import FileInput, iter_files

from ..helpers import CORPUS, record, write
from ..ocsf_rows import to_ocsf, write_parquet
from .test_wrappers import awslogs

RULES = load_rules()
SHAPES = ["delivery", "awslogs", "elastic", "splunk", "ocsf", "parquet"]  # what the needle property runs on


def alerts(paths, **options):
    result = scan_inputs(Run(RULES, ScanOptions(**options)), iter_files([str(p) for p in paths]))
    return [a.as_dict() for a in result.alerts], result.summary


def assert_same(paths):
    plain, _ = alerts(paths, prefilter=False)
    for engine in ("auto", "portable"):
        sifted, summary = alerts(paths, matcher=engine)
        assert sifted == plain, engine
    # With the context collector the rule is searched by its event source instead (also_needles).
    with_context, _ = alerts(paths, collectors=(RelatedEvents(),))
    assert with_context == plain
    return plain, summary


def hostile_inputs(tmp_path):
    """Every shape, with the needle in odd cases, escaped, in unrelated fields, and around broken bytes."""
    hit = record(eventID="hit")
    shouty = record(eventID="shouty", eventName="CREATELOGINPROFILE", eventSource="IAM.AMAZONAWS.COM")
    escaped = orjson.dumps({"Records": [record(eventID="escaped")]}).replace(b"CreateLoginProfile",
                                                                               b"\\u0043reate\\u004cogin\\u0050rofile")
    decoy = record(eventID="decoy", eventName="GetObject",
                   requestParameters={"key": "CreateLoginProfile.md", "nested": {"eventName": "CreateLoginProfile"}})
    # A fake record nested in a real one must stay a field value, never become a record.
    fake = record(eventID="outer", eventName="PutObject",
                  requestParameters={"list": [record(eventID="fake1"), record(eventID="fake2")]})
    files = {
        "delivery.json.gz": gzip.compress(orjson.dumps({"Records": [hit, decoy, fake, record(eventName="ListUsers")]})),
        "shouty.json": orjson.dumps({"Records": [shouty]}),
        "escaped.json": escaped,
        "array.json": orjson.dumps([decoy, hit]),
        "lines.jsonl": orjson.dumps(shouty) + b"\n" + orjson.dumps(decoy) + b"\n",
        "eventbridge.json": orjson.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": hit}),
        "lookup.json": orjson.dumps({"Events": [{"CloudTrailEvent": orjson.dumps(hit).decode()}]}),
        "sentinel.csv": b"TimeGenerated,EventName,EventSource,EventTypeName,AwsEventId,RequestParameters\n"
                        b'2026-11-27T14:06:00Z,CreateLoginProfile,iam.amazonaws.com,AwsApiCall,csv-1,'
                        b'"{""userName"":""bob"",""passwordResetRequired"":false}"\n',
        "truncated.json": orjson.dumps({"Records": [hit, hit]})[:-40],
        "truncated-nohit.json": orjson.dumps({"Records": [decoy]})[:-10].replace(b"CreateLoginProfile", b"x"),
        "corrupt.json.gz": gzip.compress(orjson.dumps({"Records": [hit]}))[:-12],
        "empty.json": b"",
        "bom.json": b"\xef\xbb\xbf" + orjson.dumps({"Records": [hit]}),
        # Payloads whose needles only show once decoded (base64), and wrappers around the original text
        "awslogs.json": orjson.dumps(awslogs(dict(hit, eventID="awslogs-hit"), decoy, fake)),
        "awslogs-escaped-key.json": orjson.dumps(awslogs(dict(hit, eventID="awslogs-esc"))).replace(
            b'"awslogs"', b'"\\u0061wslogs"'),
        "awslogs-lines.jsonl": orjson.dumps(awslogs(decoy)) + b"\n" + orjson.dumps(awslogs(dict(shouty,
                                                                                        eventID="awslogs-shouty"))),
        "elastic.json": orjson.dumps([{"event": {"original": orjson.dumps(dict(r, eventID=f"es-{r['eventID']}")).decode()}}
                                      for r in (hit, decoy)]),
        "splunk.jsonl": b"\n".join(orjson.dumps({"preview": False, "result": {"_raw": orjson.dumps(
            dict(r, eventID=f"splunk-{r['eventID']}")).decode()}}) for r in (shouty, decoy)),
        "lake-rendered.json": orjson.dumps({"QueryResultRows": [[{k: v} for k, v in dict(
            hit, eventID="lake-rendered", requestParameters="{userName=bob, passwordResetRequired=false}",
            userIdentity="{type=IAMUser, username=ci-deploy}").items()]]}),
        "ocsf.jsonl": b"\n".join(orjson.dumps(to_ocsf(dict(r, eventID=f"ocsf-{r['eventID']}"), json_data=False))
                                 for r in (hit, shouty, decoy, fake)),
    }
    for name, data in files.items():
        write(tmp_path / "in" / name, data)
    # Security Lake's Parquet: compressed pages, so the prefilter must judge each row once it is mapped
    write_parquet([to_ocsf(dict(r, eventID=f"lake-{r['eventID']}")) for r in (hit, shouty, decoy, fake)],
                  tmp_path / "in" / "lake.parquet", row_group_size=2)
    return tmp_path / "in"


def test_hostile_inputs_alert_the_same_with_and_without_the_prefilter(tmp_path):
    plain, summary = assert_same([hostile_inputs(tmp_path)])
    ids = {a["EventID"] for a in plain}
    assert {"hit", "shouty", "escaped", "csv-1", "lake-hit", "lake-shouty", "ocsf-hit", "ocsf-shouty", "awslogs-hit",
            "awslogs-esc", "awslogs-shouty", "es-hit", "splunk-shouty", "lake-rendered"} <= ids
    assert not {"decoy", "outer", "fake1", "fake2"} & ids
    bad = {origin.rsplit("/", 1)[-1] for origin, _ in summary.bad_inputs}
    # Broken files that could hold a match are named; one with no needle is skipped, except truncation,
    # which is seen without parsing.
    assert {"truncated.json", "corrupt.json.gz", "empty.json", "truncated-nohit.json"} <= bad


def test_huge_inputs_are_split_as_they_stream(tmp_path, monkeypatch):
    """Past the in-memory limit records are split from the stream; results stay the same."""
    monkeypatch.setattr(sift, "IN_MEMORY_LIMIT", 256)
    monkeypatch.setattr(shapes, "WHOLE_PARSE_LIMIT", 256)
    assert_same([hostile_inputs(tmp_path)])


def test_demo_story_and_the_needle_in_an_unrelated_field(tmp_path):
    write_demo(tmp_path, hours=24, events_per_file=10)
    plain, summary = assert_same([tmp_path])
    assert len(plain) >= 2 and summary.prefiltered > 0


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not present")
def test_every_public_corpus_file_alerts_the_same():
    files = [f.path for f in iter_files([str(CORPUS)]) if not f.path.endswith((".tsv", ".md"))]
    plain, _ = assert_same(files)
    assert plain  # the corpus holds real CreateLoginProfile events



@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(["CreateLoginProfile", "createloginprofile", "CREATELOGINPROFILE", "cReAtElOgInPrOfIlE",
                             "UpdateLoginProfile", "GetUser"]),
       where=st.sampled_from(["eventName", "userAgent", "requestParameters"]),
       escape=st.booleans(), flag=st.sampled_from([False, True, "false", "FALSE"]), shape=st.sampled_from(SHAPES))
def test_any_letter_case_or_escape_or_place_of_the_needle(tmp_path_factory, name, where, escape, flag, shape):
    rec = record(flag=flag, eventID="p")
    if where == "eventName":
        rec["eventName"] = name
    elif where == "userAgent":
        rec["eventName"], rec["userAgent"] = "GetUser", name
    else:
        rec["eventName"], rec["requestParameters"] = "GetUser", {"key": name}
    text = orjson.dumps(rec)
    if escape:
        text = text.replace(name.encode(), b"\\u%04x" % ord(name[0]) + name[1:].encode())
    folder = tmp_path_factory.mktemp("p")
    if shape == "parquet":  # no escapes in Parquet: the value is what it is
        path = write_parquet([to_ocsf(rec)], folder / "r.parquet")
    else:
        path = write(folder / "r.json", in_shape(shape, text))
    assert_same([path])


def in_shape(shape: str, text: bytes) -> bytes:
    """One record's JSON text (escapes and all) in one of the shapes users keep."""
    if shape == "delivery":
        return b'{"Records": [' + text + b"]}"
    if shape == "awslogs":
        message = {"messageType": "DATA_MESSAGE", "logEvents": [{"id": "1", "timestamp": 0, "message": text.decode()}]}
        packed = base64.b64encode(gzip.compress(orjson.dumps(message))).decode()
        return orjson.dumps({"awslogs": {"data": packed}})
    if shape == "elastic":
        return orjson.dumps({"event": {"original": text.decode()}})
    if shape == "splunk":
        return orjson.dumps({"preview": False, "result": {"_raw": text.decode()}})
    return orjson.dumps(to_ocsf(orjson.loads(text), json_data=False))


def test_every_non_ascii_character_that_lowers_to_an_ascii_letter_is_known():
    found = {chr(cp): next(c for c in chr(cp).lower() if c in string.ascii_lowercase)
             for cp in range(0x80, 0x110000) if any(c in string.ascii_lowercase for c in chr(cp).lower())}
    assert found == NON_ASCII_FOLDS


def test_hiding_patterns_cover_escapes_in_both_cases():
    patterns = hiding_patterns([b"kit"])
    assert b"\\u006b" in patterns and b"\\u004b" in patterns and b"\\u212a" in patterns
    assert "\u212a".encode() in patterns


def test_hiding_patterns_cover_escapes_of_every_needle_character():
    # Not only letters: `iam\u002eamazonaws.com` decodes to the needle too, and JSON may write / as \/.
    patterns = hiding_patterns([b"a.b/1"])
    assert {b"\\u002e", b"\\u002f", b"\\/", b"\\u0031", b"\\u0061", b"\\u0041"} <= set(patterns)
    matcher = make_matcher([b"iam.amazonaws.com"])
    assert matcher.hit(b'{"eventSource":"iam\\u002Eamazonaws.com"}')


@pytest.mark.parametrize("engine", ["auto", "portable"])
def test_matchers_are_case_insensitive_and_see_escapes(engine):
    matcher = make_matcher([b"createloginprofile"], engine)
    assert matcher.hit(b'{"eventName":"CreateLoginProfile"}')
    assert matcher.hit(b'{"eventName":"\\u0063reateloginprofile"}')
    assert matcher.hit(b'{"eventName":"\\u0043REATELOGINPROFILE"}')
    assert not matcher.hit(b'{"eventName":"CreateUser","x":"\\u003d"}')


def test_stream_chunk_boundaries_do_not_hide_a_needle(tmp_path, monkeypatch):
    from trailhound.records import stream as reader

    monkeypatch.setattr(reader, "CHUNK", 7)
    path = write(tmp_path / "a.json.gz", {"Records": [record(eventID="x")]}, gz=True)
    plain, _ = assert_same([path])
    assert [a["EventID"] for a in plain] == ["x"]
    assert isinstance(make_matcher([b"abc"], "portable"), PortableMatcher)
    assert FileInput(str(path)).size() > 0


def test_a_delivery_file_with_a_hit_parses_only_the_records_that_hold_a_needle(tmp_path):
    from trailhound.engine.evaluate import scan_input

    path = write(tmp_path / "d.json.gz", {"Records": [record(eventID="x")] + [record(eventName="GetUser")] * 5}, gz=True)
    result = scan_input(FileInput(str(path)), RULES, ScanOptions())
    assert result.unparsed == 5 and result.records == 6 and len(result.alerts) == 1 and not result.prefiltered


def test_the_hiding_lead_check_gives_one_answer_with_or_without_stringzilla(monkeypatch):
    from trailhound.records import prefilter

    samples = [b"plain ascii", b'{"a":"\\u0063"}', "KK".encode(), "café".encode(), b"", b"\\"]
    matcher = make_matcher([b"kit"], "hyperscan")
    with_sz = [prefilter._holds_any(s, matcher._first_bytes) for s in samples]
    monkeypatch.setattr(prefilter, "_find_first_of", None)
    # Without stringzilla the check is coarser (any non-ASCII byte) but never says no where it said yes.
    without = [prefilter._holds_any(s, matcher._first_bytes) for s in samples]
    assert with_sz == [False, True, True, False, False, True]
    assert all(b for a, b in zip(with_sz, without) if a) and without[3]


def test_a_rule_is_searched_by_a_needle_the_collectors_search_anyway():
    from trailhound.engine.evaluate import matcher_for

    assert matcher_for(RULES, ScanOptions()).needles == [b"createloginprofile"]
    # One search fewer per byte: the rule's records all hold its event source, which the context searches.
    assert matcher_for(RULES, ScanOptions(collectors=(RelatedEvents(),))).needles == [
        b"iam.amazonaws.com", b"signin.amazonaws.com"]


@pytest.mark.parametrize("engine", ["auto", "portable"])
def test_keeps_holds_a_record_against_every_needle_list_of_some_consumer(engine):
    # Rule: its name and its source; collector: a source and one of two names.
    consumers = [((b"createloginprofile",), (b"iam.amazonaws.com",)),
                 ((b"iam.amazonaws.com", b"signin.amazonaws.com"), (b"createuser", b"consolelogin"))]
    matcher = make_matcher([b"iam.amazonaws.com", b"signin.amazonaws.com"], engine, consumers)
    assert matcher.keeps(b'{"eventSource":"IAM.amazonaws.com","eventName":"CreateLoginProfile"}')
    assert matcher.keeps(b'{"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin"}')
    assert not matcher.keeps(b'{"eventSource":"iam.amazonaws.com","eventName":"GetRole"}')
    assert not matcher.keeps(b'{"eventSource":"s3.amazonaws.com","eventName":"CreateUser"}')
    # Whatever could spell a needle another way is kept, never judged here.
    assert matcher.keeps(b'{"eventSource":"iam.amazonaws.com","eventName":"\\u0043reateUser"}')
    assert matcher.keeps('{"eventSource":"iam.amazonaws.com","eventName":"GetRole","u":"caf\u00e9"}'.encode())
    assert make_matcher([b"x"], engine).keeps(b"anything")  # no consumers declared: nothing to hold against


def test_needles_that_end_alike_are_one_search_with_the_same_answers():
    from trailhound.records.prefilter import _families

    needles = [b"iam.amazonaws.com", b"signin.amazonaws.com", b"createloginprofile", b"createuser", b"deleteuser"]
    assert sorted(map(sorted, _families(needles))) == [[b"createloginprofile"], [b"createuser"], [b"deleteuser"],
                                                        [b"iam.amazonaws.com", b"signin.amazonaws.com"]]
    data = (b'{"eventSource":"IAM.amazonaws.com"} signin.AmazonAWS.com DeleteUser sts.amazonaws.com '
            b'i\\u0061m.amazonaws.com createUSER')
    fast, portable = make_matcher(needles, "hyperscan"), make_matcher(needles, "portable")
    assert fast.ends(data) == portable.ends(data) and len(fast.ends(data)) >= 5
    assert fast.hit(b"..signin.amazonaws.com..") and not fast.hit(b"..sts.amazonaws.com..")


@settings(max_examples=150, deadline=None)
@given(words=st.lists(st.sampled_from(["iam.amazonaws.com", "signin.amazonaws.com", "createuser", "consolelogin",
                                       "createloginprofile", "getrole", "s3.amazonaws.com", "x"]), max_size=5),
       cases=st.lists(st.booleans(), min_size=40, max_size=40), escape=st.booleans())
def test_keeps_never_drops_a_record_a_consumer_wants(words, cases, escape):
    consumers = [((b"createloginprofile",), (b"iam.amazonaws.com",)),
                 ((b"iam.amazonaws.com", b"signin.amazonaws.com"), (b"createuser", b"consolelogin"))]
    text = " ".join(words)
    text = "".join(c.upper() if cases[i % len(cases)] else c for i, c in enumerate(text))
    record = ('{"e":"' + text + '"}').encode()
    if escape and text:
        record = record.replace(text[0].encode(), b"\\u%04x" % ord(text[0]), 1)
    wanted = any(all(any(n.decode() in text.lower() for n in group) for group in groups) for groups in consumers)
    for engine in ("hyperscan", "portable"):
        kept = make_matcher([b"iam.amazonaws.com", b"signin.amazonaws.com"], engine, consumers).keeps(record)
        assert kept or not wanted, (engine, record)
        if not escape:  # a plain ASCII record is judged exactly
            assert kept == wanted, (engine, record)
