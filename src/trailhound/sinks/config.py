"""The TOML configuration file: sinks and delivery settings, validated, every mistake naming file and field.

    [delivery]
    retries = 4        # further attempts after the first, per delivery
    backoff = 0.5      # seconds, doubling each retry (a server's Retry-After is honoured, up to max_backoff)
    max_backoff = 30
    timeout = 10       # seconds per attempt

    [[sink]]
    kind = "slack"
    url = "env:SLACK_WEBHOOK_URL"   # env:NAME reads the value from the environment: keep secrets out of files

    [[sink]]
    kind = "jsonl"
    path = "/var/log/trailhound/alerts.jsonl"
    format = "ocsf"                 # alert (default) | ocsf

    [[sink]]
    kind = "sns"
    topic_arn = "arn:aws:sns:eu-west-1:111122223333:security-alerts"

    [[sink]]
    kind = "securityhub"
    region = "eu-west-1"            # optional: the default region otherwise
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError
from ..tomlfile import read_toml

# Each kind's target, as the config file names it; on the command line it follows "KIND:".
TARGET_FIELDS = {"jsonl": "path", "webhook": "url", "slack": "url", "sns": "topic_arn", "securityhub": "region"}
OPTIONAL_TARGET = {"securityhub"}


class DeliveryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retries: int = Field(default=4, ge=0, le=20)
    backoff: float = Field(default=0.5, ge=0, le=600)
    max_backoff: float = Field(default=30.0, ge=0, le=3600)
    timeout: float = Field(default=10.0, gt=0, le=600)


class SinkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["jsonl", "webhook", "slack", "sns", "securityhub"]
    path: str | None = None
    url: str | None = None
    topic_arn: str | None = None
    region: str | None = None
    format: Literal["alert", "ocsf"] = "alert"


@dataclass(frozen=True)
class SinkSpec:
    kind: str
    target: str
    format: str = "alert"
    where: str = ""  # for messages: "--sink" or "config.toml: [[sink]] 2"


@dataclass
class Config:
    sinks: list[SinkSpec]
    delivery: DeliveryConfig
    source: str = ""


def load_config(path: str | Path) -> Config:
    return parse_config(read_toml(path, "config"), str(path))


def parse_config(data: dict[str, Any], source: str = "config") -> Config:
    unknown = set(data) - {"sink", "delivery"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))} "
                          "(known: [delivery], [[sink]])")
    delivery = _validate(DeliveryConfig, data.get("delivery", {}), f"{source}: [delivery]")
    raw_sinks = data.get("sink", [])
    if not isinstance(raw_sinks, list):
        raise ConfigError(f"{source}: 'sink' must be an array of tables ([[sink]])")
    sinks = [_sink(raw, f"{source}: [[sink]] {i}") for i, raw in enumerate(raw_sinks, 1)]
    return Config(sinks=sinks, delivery=delivery, source=source)


def parse_sink_option(text: str) -> SinkSpec:
    """`--sink KIND[:TARGET]`: jsonl:PATH, webhook:URL, slack:URL, sns:TOPIC_ARN, securityhub[:REGION]."""
    kind, _, target = text.partition(":")
    kind = kind.strip().lower()
    if kind not in TARGET_FIELDS:
        raise ConfigError(f"--sink: unknown kind {kind!r} (choose from {', '.join(TARGET_FIELDS)}; "
                          "written KIND:TARGET, e.g. jsonl:alerts.jsonl)")
    return _spec(kind, target, "alert", "--sink")


def _sink(raw: Any, where: str) -> SinkSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    sink = _validate(SinkConfig, raw, where)
    wanted = TARGET_FIELDS[sink.kind]
    stray = [name for name in set(TARGET_FIELDS.values()) - {wanted} if getattr(sink, name) is not None]
    if stray:
        raise ConfigError(f"{where}: {', '.join(sorted(stray))}: not used by a {sink.kind} sink "
                          f"(it takes {wanted})")
    return _spec(sink.kind, getattr(sink, wanted) or "", sink.format, f"{where}: {wanted}")


def _spec(kind: str, target: str, fmt: str, where: str) -> SinkSpec:
    target = target.strip()
    if target.startswith("env:"):
        name = target[4:]
        if not os.environ.get(name):
            raise ConfigError(f"{where}: environment variable {name} (named by env:{name}) is not set")
        target = os.environ[name]
    if not target and kind not in OPTIONAL_TARGET:
        raise ConfigError(f"{where}: a {kind} sink needs its {TARGET_FIELDS[kind]} ({kind}:TARGET)")
    if kind in ("webhook", "slack") and not target.lower().startswith(("https://", "http://")):
        raise ConfigError(f"{where}: a {kind} sink's URL must start with https:// or http://")
    if kind == "sns" and not (target.startswith("arn:") and target.count(":") == 5):
        raise ConfigError(f"{where}: {target!r} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")
    return SinkSpec(kind=kind, target=target, format=fmt, where=where)


def _validate(model: type[BaseModel], raw: Any, where: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "value"
        raise ConfigError(f"{where}: {field}: {first['msg']}") from None
