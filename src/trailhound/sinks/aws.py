"""boto3 clients for the AWS sinks: botocore's own retries (standard mode: throttling, 5xx, timeouts, with
backoff), our timeouts, and errors turned into one line."""

from __future__ import annotations

from typing import Any

from .base import DeliveryError, RetryPolicy


def client(service: str, policy: RetryPolicy, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": policy.retries + 1},
                    connect_timeout=policy.timeout, read_timeout=policy.timeout)
    return boto3.client(service, region_name=region or None, config=config)


def describe(label: str, exc: Exception) -> DeliveryError:
    """A botocore error as one line: the service's code and message, or the connection problem."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return DeliveryError(f"{label}: {error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": "))
    return DeliveryError(f"{label}: {type(exc).__name__}: {exc}")
