"""Properties of the pure parts of the sources: what pruning keeps, what notifications decode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given
from hypothesis import strategies as st

from trailhound.sources.notifications import parse_message
from trailhound.sources.s3_layout import Selection, days

from ..notifications import eventbridge, s3_event, sns

_times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@given(since=_times, span=st.timedeltas(timedelta(0), timedelta(days=40)), offset=st.floats(0, 1),
       delay=st.timedeltas(timedelta(0), timedelta(hours=23, minutes=59)))
def test_pruning_keeps_the_delivery_day_of_every_event_in_the_window(since, span, offset, delay):
    until = since + span
    event_time = since + span * offset
    kept = days(Selection(since=since, until=until))
    assert (event_time + delay).date() in kept


_keys = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60)


@given(key=_keys)
def test_every_key_survives_every_notification_shape(key):
    for message in (s3_event("b", key), sns(s3_event("b", key)), eventbridge("b", key)):
        (obj,) = parse_message(orjson.dumps(message)).objects
        assert obj.key == key and obj.bucket == "b"
