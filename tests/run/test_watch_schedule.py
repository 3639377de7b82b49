"""`watch` runs a scheduled KQL rule (queryFrequency 1h, queryPeriod 2h) on its schedule, against a pinned
clock and moto's S3: each window once, when the clock passes its end, over rows kept across batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from trailhound.alerts.alert import Alert
from trailhound.run.pipeline import Run
from trailhound.run.settings import DetectionSettings, InputSettings, Settings, WatchSettings
from trailhound.run.watch import Watcher

from ..s3helpers import bucket, delivery_key, hit, put_trail_file

A, DAY = "111122223333", "2026-11-27"
RULE_ID = "3f1c0c9e-0000-4000-8000-000000000031"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _rule(tmp_path: Path) -> Path:
    path = tmp_path / "hourly.yaml"
    path.write_text(
        f"id: {RULE_ID}\nname: Login profiles\nseverity: Medium\n"
        "queryFrequency: 1h\nqueryPeriod: 2h\ntriggerOperator: gt\ntriggerThreshold: 0\n"
        "eventGroupingSettings:\n  aggregationKind: AlertPerResult\n"
        "query: |\n  AWSCloudTrail\n  | where EventName == \"CreateLoginProfile\"\n"
        "  | project TimeGenerated, AwsEventId\n")
    return path


def test_a_scheduled_rule_fires_once_in_the_window_the_clock_passes(aws, tmp_path: Path) -> None:
    bucket()
    # The event at 14:06, delivered at 14:10: windows end on the hour, (end - 2h, end].
    put_trail_file("trail", delivery_key(A, "us-east-1", DAY, stamp="1410"), hit("late-afternoon", DAY))
    settings = Settings(inputs=InputSettings(paths=("s3://trail",)),
                        detection=DetectionSettings(rule_files=(_rule(tmp_path),)),
                        state=tmp_path / "state.db", watch=WatchSettings(once=True, lookback=timedelta(hours=6)))
    clock = Clock(datetime(2026, 11, 27, 14, 30, tzinfo=UTC))
    emitted: list[Alert] = []
    with Run.from_settings(settings) as run:
        run.clock = clock

        def step(at: tuple[int, int]) -> tuple[list[str], int]:
            clock.now = datetime(2026, 11, 27, *at, tzinfo=UTC)
            before = len(emitted)
            Watcher(run, emit=lambda alerts: run.emit(alerts, emitted.extend)).run()
            new = [a.row["AlertGenerated"] for a in emitted[before:] if a.row["RuleId"] == RULE_ID]
            return new, len(run.live[RULE_ID].rows)

        # 14:30: the object is read, its row kept; no window has ended since it arrived.
        assert step((14, 30)) == ([], 1)
        # 15:05, an idle poll (nothing new listed): the 15:00 window (13:00, 15:00] runs and fires.
        assert step((15, 5)) == (["2026-11-27T15:00:00Z"], 1)
        # 15:40: no boundary passed since: not evaluated again.
        assert step((15, 40)) == ([], 1)
        # 16:05: the 16:00 window (14:00, 16:00] sees the event again; the state store already has it. Its row
        # is then dropped: no later window's period reaches 14:06.
        assert step((16, 5)) == ([], 0)
    assert [a.row["AwsEventId"] for a in emitted if a.row["RuleId"] == RULE_ID] == ["late-afternoon"]
