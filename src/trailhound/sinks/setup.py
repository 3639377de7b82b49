"""Sinks from the command line and the config file, built and checked before any scan starts."""

from __future__ import annotations

from pathlib import Path

from .base import RetryPolicy, Sink
from .config import DeliveryConfig, load_config, parse_sink_option


def make_sinks(config_path: str | Path | None, sink_options: list[str] | None) -> list[Sink]:
    from . import build

    config = load_config(config_path) if config_path else None
    delivery = config.delivery if config else DeliveryConfig()
    policy = RetryPolicy(retries=delivery.retries, backoff=delivery.backoff, max_backoff=delivery.max_backoff,
                         timeout=delivery.timeout)
    specs = (config.sinks if config else []) + [parse_sink_option(text) for text in sink_options or []]
    sinks: list[Sink] = []
    seen: set[str] = set()
    for spec in specs:
        sink = build(spec.kind, spec.target, policy, spec.format)
        if sink.id not in seen:  # the same sink twice would deliver everything twice
            seen.add(sink.id)
            sinks.append(sink)
    return sinks
