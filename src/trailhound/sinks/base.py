"""What a sink is: somewhere alerts go. One small interface, so delivery and the outbox treat them alike.

A sink knows nothing of CloudTrail: it receives Alerts and says, per alert, whether it was delivered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..alerts.alert import Alert


class DeliveryError(Exception):
    """One delivery failed after its retries; str() is a one-line message with no secret in it."""


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4  # further attempts after the first
    backoff: float = 0.5  # seconds; doubles each retry
    max_backoff: float = 30.0  # also caps a server's Retry-After
    timeout: float = 10.0  # seconds per attempt


class Sink:
    kind: str = ""
    batch_size: int = 1  # alerts per send() call

    def __init__(self, target: str, policy: RetryPolicy, fmt: str = "alert") -> None:
        self.target = target
        self.policy = policy
        self.format = fmt

    @property
    def id(self) -> str:
        """Stable across runs (the outbox keys on it) and safe to store and print."""
        return f"{self.kind}:{self.target}" if self.target else self.kind

    @property
    def label(self) -> str:
        return self.id

    def send(self, alerts: list[Alert]) -> dict[str, str | None]:
        """Deliver a batch; alert id -> None when delivered, else a one-line error. Never raises for one alert."""
        results: dict[str, str | None] = {}
        for alert in alerts:
            try:
                self.send_one(alert)
                results[alert.id] = None
            except DeliveryError as exc:
                results[alert.id] = str(exc)
        return results

    def send_one(self, alert: Alert) -> None:
        raise NotImplementedError

    def body(self, alert: Alert) -> dict[str, Any]:
        """The alert as this sink's format asks: trailhound's columns, or an OCSF Detection Finding."""
        if self.format == "ocsf":
            from ..alerts.ocsf import to_ocsf
            from ..engine.rules import find_rule

            return to_ocsf(alert, rule=find_rule(alert.rule_id))
        return alert.as_dict()


class UrlSink(Sink):
    """A sink whose target is a URL with a secret in its path or query (Slack, most webhooks)."""

    @property
    def id(self) -> str:
        # The secret must not be stored or printed, but two webhooks on one host must not share an outbox.
        digest = hashlib.sha256(self.target.encode()).hexdigest()[:12]
        return f"{self.kind}:{redact_url(self.target)}#{digest}"

    @property
    def label(self) -> str:
        return f"{self.kind}:{redact_url(self.target)}"


def redact_url(url: str) -> str:
    """scheme://host[:port]/… : what a log may show of a URL whose path or query may be a secret."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:
        host = f"[{host}]"
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme or '?'}://{host}{port}{rest}"


def scrub(text: str, url: str) -> str:
    """Remove every trace of a URL's secret parts from a message (library errors may quote them)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return text.replace(url, "<URL>")
    for secret in sorted({url, parts.path, parts.query, parts.fragment, parts.username or "",
                          parts.password or ""} - {"", "/"}, key=len, reverse=True):
        text = text.replace(secret, "…")
    return text
