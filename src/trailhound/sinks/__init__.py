"""Sinks: where alerts go. `build(spec, policy)` makes one from a SinkSpec (command line or config file);
each kind's module (and boto3 or urllib3) is imported only when that kind is used."""

from __future__ import annotations

from importlib import import_module

from .base import DeliveryError, RetryPolicy, Sink

KINDS = {
    "jsonl": ("jsonl", "JsonlSink"),
    "webhook": ("webhook", "WebhookSink"),
    "slack": ("slack", "SlackSink"),
    "sns": ("sns", "SnsSink"),
    "securityhub": ("securityhub", "SecurityHubSink"),
}

__all__ = ["KINDS", "DeliveryError", "RetryPolicy", "Sink", "build"]


def build(kind: str, target: str, policy: RetryPolicy, fmt: str = "alert") -> Sink:
    module, name = KINDS[kind]
    cls: type[Sink] = getattr(import_module(f".{module}", __name__), name)  # one of KINDS' Sink classes
    return cls(target, policy, fmt)
