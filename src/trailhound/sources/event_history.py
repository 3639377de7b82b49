"""CloudTrail event history (`LookupEvents`): the last 90 days of management events, no trail needed.

One input per region. Reading it pages through `LookupEvents` once per event name the rules look for
(the API filters on one attribute per call), paced under the API's limit of 2 calls a second per account
and region; throttling that still happens is retried with backoff by botocore. The bytes it yields are
`lookup-events` output (`{"Events": [...]}`), a shape `records.formats.parse` already reads.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import orjson

from ..errors import ReadError
from .aws import client, describe_aws_error

CALLS_PER_SECOND = 2.0  # LookupEvents' documented limit per account and region
# IAM is a global service: its events are recorded in us-east-1's event history.
GLOBAL_EVENTS_REGION = "us-east-1"


def default_regions(configured: str | None) -> tuple[str, ...]:
    regions = [GLOBAL_EVENTS_REGION]
    if configured and configured != GLOBAL_EVENTS_REGION:
        regions.append(configured)
    return tuple(regions)


class Pacer:
    """At most `rate` calls a second, for whoever shares it."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            time.sleep(delay)


@dataclass(frozen=True)
class EventHistoryInput:
    region: str
    event_names: tuple[str, ...] = ()  # none: every event (slow; each rule should name its events)
    start: datetime | None = None
    end: datetime | None = None
    rate: float = CALLS_PER_SECOND
    max_attempts: int = 10

    @property
    def origin(self) -> str:
        return f"cloudtrail-event-history:{self.region}"

    def open(self) -> BinaryIO:
        """The events as `lookup-events` output. The API answers in pages of 50, already in memory: there is
        no stream to pass on, and a region's events for the rules' few names are small."""
        return io.BytesIO(self.read())

    def read(self) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            events = self.events()
        except (ClientError, BotoCoreError) as exc:
            raise ReadError(f"LookupEvents in {self.region}: {describe_aws_error(exc)}") from None
        return orjson.dumps({"Events": events})

    def events(self) -> list[dict[str, Any]]:
        cloudtrail = self._client()
        pacer = Pacer(self.rate)
        window: dict[str, Any] = {}
        if self.start:
            window["StartTime"] = self.start
        if self.end:
            window["EndTime"] = self.end
        filters = [[{"AttributeKey": "EventName", "AttributeValue": n}] for n in self.event_names] or [[]]
        events: list[dict[str, Any]] = []
        for attributes in filters:
            request = {**window, "MaxResults": 50}
            if attributes:
                request["LookupAttributes"] = attributes
            while True:
                pacer.wait()
                page = cloudtrail.lookup_events(**request)
                events.extend({k: v for k, v in e.items() if k == "CloudTrailEvent"} for e in page.get("Events", []))
                if not page.get("NextToken"):
                    break
                request["NextToken"] = page["NextToken"]
        return events

    def _client(self) -> Any:
        # Standard retry mode backs off exponentially (with jitter) on ThrottlingException.
        return client("cloudtrail", self.region, attempts=self.max_attempts)
