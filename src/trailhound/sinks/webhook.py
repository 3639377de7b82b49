"""`webhook:URL`: each alert POSTed as one JSON object (trailhound's columns, or OCSF with format = "ocsf")."""

from __future__ import annotations

from ..alerts.alert import Alert
from .base import UrlSink
from .http import post_json


class WebhookSink(UrlSink):
    kind = "webhook"

    def send_one(self, alert: Alert) -> None:
        # The alert id lets a receiver drop the copy a crash between send and record may cause.
        post_json(self.target, self.body(alert), self.policy, self.label,
                  headers={"X-Trailhound-Alert-Id": alert.id, "Idempotency-Key": alert.id})
