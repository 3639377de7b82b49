"""`sns:TOPIC_ARN`: each alert published as a JSON message, with severity and rule as message attributes."""

from __future__ import annotations

from typing import Any

from ..alerts.alert import Alert
from ..alerts.render import dumps
from ..alerts.textsafe import inert
from .aws import client, describe
from .base import DeliveryError, RetryPolicy, Sink


class SnsSink(Sink):
    kind = "sns"

    def __init__(self, target: str, policy: RetryPolicy, fmt: str = "alert") -> None:
        super().__init__(target, policy, fmt)
        self._client: Any = None  # a boto3 client: boto3 ships no types

    def _sns(self) -> Any:
        if self._client is None:
            # The topic's own region, whatever the default: arn:aws:sns:REGION:ACCOUNT:NAME
            parts = self.target.split(":")
            self._client = client("sns", self.policy, parts[3] if len(parts) > 5 else None)
        return self._client

    def send_one(self, alert: Alert) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        row = alert.row
        # Subjects are one line of at most 100 printable characters: e-mail subscribers see this.
        subject = inert(f"trailhound {row.get('Severity', '')}: {row.get('RuleName', alert.rule_id)}: {alert.title}",
                        limit=96)
        try:
            self._sns().publish(
                TopicArn=self.target, Subject=subject, Message=dumps(self.body(alert)),
                MessageAttributes={
                    "severity": {"DataType": "String", "StringValue": str(row.get("Severity") or "unknown")},
                    "rule_id": {"DataType": "String", "StringValue": alert.rule_id},
                    "alert_id": {"DataType": "String", "StringValue": alert.id},
                })
        except (BotoCoreError, ClientError) as exc:
            raise describe(self.label, exc) from None
        except ValueError as exc:
            raise DeliveryError(f"{self.label}: {exc}") from None
