"""The AWS sinks' clients and errors: sources/aws.py's, under the sink's retry policy and as DeliveryErrors."""

from __future__ import annotations

from typing import Any

from ..sources.aws import client as aws_client
from ..sources.aws import describe_aws_error
from .base import DeliveryError, RetryPolicy


def client(service: str, policy: RetryPolicy, region: str | None = None) -> Any:
    return aws_client(service, region, attempts=policy.retries + 1, timeout=policy.timeout)


def describe(label: str, exc: Exception) -> DeliveryError:
    """A botocore error as one line, naming the sink."""
    return DeliveryError(f"{label}: {describe_aws_error(exc)}")
