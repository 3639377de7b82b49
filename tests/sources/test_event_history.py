"""`trailhound scan --event-history` against a small local fake of CloudTrail's LookupEvents API.

moto does not implement LookupEvents; the fake below speaks its JSON protocol on loopback: pages of two
events with NextToken, the EventName lookup attribute, a region per request (from the signature), a
ThrottlingException for the first calls of a region, and AccessDenied for a region named so.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from trailhound.sources.event_history import Pacer

from ..helpers import jsonl, record, run_cli

PAGE = 2


class FakeCloudTrail:
    def __init__(self, events: dict[str, list[dict]], throttle_first: int = 0, denied: tuple[str, ...] = ()) -> None:
        self.events, self.throttle_first, self.denied = events, throttle_first, denied
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
                region = re.search(r"Credential=[^/]+/\d+/([^/]+)/", self.headers["Authorization"]).group(1)
                status, reply = fake.answer(self.headers["X-Amz-Target"], region, body)
                data = orjson.dumps(reply)
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, target: str, region: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append({"region": region, **body})
            seen = sum(1 for r in self.requests if r["region"] == region)
        if not target.endswith(".LookupEvents"):
            return 400, {"__type": "UnknownOperationException", "message": target}
        if region in self.denied:
            return 400, {"__type": "AccessDeniedException", "message": "not authorized to lookup events"}
        if seen <= self.throttle_first:
            return 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        names = [a["AttributeValue"] for a in body.get("LookupAttributes", []) if a["AttributeKey"] == "EventName"]
        matching = [e for e in self.events.get(region, []) if not names or e["eventName"] in names]
        start = int(body.get("NextToken", "0"))
        page = matching[start:start + min(PAGE, body.get("MaxResults", 50))]
        reply: dict = {"Events": [{"EventId": e["eventID"], "EventName": e["eventName"],
                                   "CloudTrailEvent": orjson.dumps(e).decode()} for e in page]}
        if start + PAGE < len(matching):
            reply["NextToken"] = str(start + PAGE)
        return 200, reply


@pytest.fixture
def fake(aws, monkeypatch):
    made: list[FakeCloudTrail] = []

    def start(*args, **kwargs) -> FakeCloudTrail:
        server = FakeCloudTrail(*args, **kwargs)
        made.append(server)
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", server.url)
        return server

    yield start
    for server in made:
        server.server.shutdown()


def _events(region: str, n: int) -> list[dict]:
    return [record(eventID=f"{region}-{i}", awsRegion=region) for i in range(n)] + [
        record(eventID=f"{region}-reset", flag=True, awsRegion=region)]


def test_every_page_of_every_region_is_read_through_throttling(fake):
    server = fake({"us-east-1": _events("us-east-1", 4), "eu-west-1": _events("eu-west-1", 1)}, throttle_first=2)
    result = run_cli("scan", "--event-history", "--regions", "us-east-1,eu-west-1")
    assert result.returncode == 0, result.stderr
    assert sorted(a["EventID"] for a in jsonl(result.stdout)) == [
        "eu-west-1-0", *(f"us-east-1-{i}" for i in range(4))]
    east = [r for r in server.requests if r["region"] == "us-east-1"]
    # 2 throttled, then 3 pages of 2 (5 events): botocore backed off and retried, the pages followed NextToken.
    assert len(east) == 5 and [r.get("NextToken") for r in east[2:]] == [None, "2", "4"]
    assert all(r["LookupAttributes"] == [{"AttributeKey": "EventName", "AttributeValue": "CreateLoginProfile"}]
               for r in server.requests)


def test_a_region_that_refuses_is_named_and_the_others_are_read(fake):
    fake({"us-east-1": _events("us-east-1", 1)}, denied=("ap-south-1",))
    result = run_cli("scan", "--event-history", "--regions", "us-east-1,ap-south-1", "--since", "2026-11-01T00:00:00Z")
    assert result.returncode == 1
    assert [a["EventID"] for a in jsonl(result.stdout)] == ["us-east-1-0"]
    assert "cloudtrail-event-history:ap-south-1" in result.stderr and "AccessDeniedException" in result.stderr


def test_the_window_is_sent_to_the_api_and_without_regions_us_east_1_is_asked(fake):
    server = fake({"us-east-1": _events("us-east-1", 1)})
    result = run_cli("scan", "--event-history", "--since", "2026-11-27T00:00:00Z", "--until", "2026-11-28T00:00:00Z",
                     env={"AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"})
    assert result.returncode == 0, result.stderr
    assert {r["region"] for r in server.requests} == {"us-east-1", "eu-west-1"}  # IAM's events live in us-east-1
    assert all(r["StartTime"] == 1795737600 and r["EndTime"] == 1795824000 for r in server.requests)


def test_the_pacer_spaces_calls():
    import time

    pacer = Pacer(rate=20)
    started = time.monotonic()
    for _ in range(4):
        pacer.wait()
    assert time.monotonic() - started >= 3 / 20 * 0.95
