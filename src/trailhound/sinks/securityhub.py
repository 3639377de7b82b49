"""`securityhub[:REGION]`: alerts as ASFF findings through BatchImportFindings, 100 a call; each finding the
service refuses (FailedFindings) stays pending with the service's reason."""

from __future__ import annotations

from typing import Any

from ..alerts.alert import Alert
from ..engine.rules import find_rule
from .aws import client, describe
from .base import RetryPolicy, Sink

MAX_BATCH = 100  # BatchImportFindings' limit


class SecurityHubSink(Sink):
    kind = "securityhub"
    batch_size = MAX_BATCH

    def __init__(self, target: str, policy: RetryPolicy, fmt: str = "alert") -> None:
        super().__init__(target, policy, fmt)
        self._client: Any = None  # a boto3 client: boto3 ships no types
        self._account: str | None = None

    def _hub(self) -> Any:
        if self._client is None:
            self._client = client("securityhub", self.policy, self.target or None)
        return self._client

    def _product(self) -> tuple[str, str, str]:
        """(region, account, partition) of the importing identity: findings go to its default product."""
        if self._account is None:
            sts = client("sts", self.policy, self._hub().meta.region_name)
            arn = sts.get_caller_identity()["Arn"]
            self._account, self._partition = arn.split(":")[4], arn.split(":")[1]
        return self._hub().meta.region_name, self._account, self._partition

    def finding(self, alert: Alert) -> dict[str, Any]:
        from ..alerts.asff import to_asff

        region, account, partition = self._product()
        return to_asff(alert, region=region, account=account, partition=partition, rule=find_rule(alert.rule_id))

    def send(self, alerts: list[Alert]) -> dict[str, str | None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            findings = [self.finding(alert) for alert in alerts]
            response = self._hub().batch_import_findings(Findings=findings)
        except (BotoCoreError, ClientError) as exc:
            error = str(describe(self.label, exc))
            return {alert.id: error for alert in alerts}
        results: dict[str, str | None] = {alert.id: None for alert in alerts}
        by_finding = {finding["Id"]: alert.id for finding, alert in zip(findings, alerts)}
        for failed in response.get("FailedFindings", []):
            alert_id = by_finding.get(failed.get("Id", ""))
            reason = f"{self.label}: finding refused: {failed.get('ErrorCode', '')}: {failed.get('ErrorMessage', '')}"
            if alert_id is not None:
                results[alert_id] = reason
            else:  # a refusal we cannot pin on one finding: keep the whole batch pending rather than lose one
                results = {key: value or reason for key, value in results.items()}
        return results
