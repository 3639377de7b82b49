"""`jsonl:PATH`: one JSON object per alert, appended to a file (created with its folders when missing)."""

from __future__ import annotations

import os
from pathlib import Path

from ..alerts.alert import Alert
from ..alerts.render import dumps
from .base import DeliveryError, Sink


class JsonlSink(Sink):
    kind = "jsonl"
    batch_size = 500

    def send(self, alerts: list[Alert]) -> dict[str, str | None]:
        lines = "".join(dumps(self.body(alert)) + "\n" for alert in alerts)
        path = Path(self.target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as out:
                out.write(lines)
                out.flush()
                os.fsync(out.fileno())  # "delivered" is recorded next: the lines must be on disk first
        except OSError as exc:
            error = str(DeliveryError(f"{self.label}: cannot append ({exc.strerror or exc})"))
            return {alert.id: error for alert in alerts}
        return {alert.id: None for alert in alerts}
