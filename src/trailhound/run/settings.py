"""A run's settings, defined once: what `scan`, `watch`, Spark and the library's `trailhound.scan()` share.

Settings are frozen dataclasses of typed values, grouped by stage. They are made in one of two ways:
- from the command line's text (`*.from_options`): each option is parsed here, once, and a bad value is a
  ConfigError that names the option (`--since: ...`), as users have always seen it;
- from Python keywords (`from_keywords`, the library's way): checked by pydantic, whose errors name the
  keyword.

Why not pydantic models for both: importing pydantic and building its models costs ~100 ms here (measured
with `-X importtime`: 55 ms for `from pydantic import BaseModel` after typer, ~47 ms more for the first
models), twice what a scan of a few files takes to start. So pydantic validates the same dataclasses
lazily, only for callers that hand over untyped values; the command line's values are typed once parsed.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..alerts.alert import DEFAULT_DEDUP_FIELDS
from ..errors import ConfigError
from ..records.times import parse_duration, parse_when
from .logs import FORMATS as LOG_FORMATS

ENGINES = ("local", "spark")


def split_values(values: Iterable[str] | None) -> tuple[str, ...]:
    """`--accounts a,b --accounts c` as ("a", "b", "c"): comma-separated and repeatable alike."""
    return tuple(v.strip() for value in values or () for v in value.split(",") if v.strip())


@dataclass(frozen=True)
class InputSettings:
    """Where the records come from: files, folders, URIs, s3:// URLs, the event history."""

    paths: tuple[str, ...] = ()
    accounts: frozenset[str] = frozenset()  # s3://: only these account ids
    regions: tuple[str, ...] = ()  # s3:// and the event history: only these regions
    event_history: bool = False

    @classmethod
    def from_options(cls, paths: list[str] | None, accounts: list[str] | None = None,
                     regions: list[str] | None = None, event_history: bool = False) -> InputSettings:
        return cls(tuple(paths or ()), frozenset(split_values(accounts)), split_values(regions), event_history)


@dataclass(frozen=True)
class ContextSettings:
    """Context on or off, and the context's own options as given (the context parses them: see
    `pipeline.build_context`, the one place that builds it)."""

    enabled: bool = True
    onboarding_window: str | None = None
    login_window: str | None = None
    severity: tuple[str, ...] = ()  # STEP=LEVEL


@dataclass(frozen=True)
class DetectionSettings:
    rules: tuple[str, ...] = ()  # rule ids; none: every rule
    rule_files: tuple[Path, ...] = ()  # KQL rule files and folders (--rules)
    now: datetime | None = None  # now()/ago() for KQL rules (--now); else --until, else the data's end
    since: datetime | None = None
    until: datetime | None = None
    dedup_fields: tuple[str, ...] = DEFAULT_DEDUP_FIELDS  # checked against the alert's columns by the Run
    dedup_window_s: float = 2 * 3600
    prefilter: bool = True
    allowlist: Path | None = None
    context: ContextSettings = ContextSettings()

    @classmethod
    def from_options(cls, rules: list[str] | None = None, since: str | None = None, until: str | None = None,
                     dedup_fields: str = ",".join(DEFAULT_DEDUP_FIELDS), dedup_window: str = "2h",
                     prefilter: bool = True, allowlist: Path | None = None,
                     context: ContextSettings = ContextSettings(), rule_files: list[Path] | None = None,
                     now: str | None = None) -> DetectionSettings:
        return cls(
            rules=tuple(rules or ()),
            rule_files=tuple(rule_files or ()),
            now=parse_when(now, "--now") if now else None,
            since=parse_when(since, "--since") if since else None,
            until=parse_when(until, "--until") if until else None,
            dedup_fields=tuple(f.strip() for f in dedup_fields.split(",") if f.strip()),
            dedup_window_s=parse_duration(dedup_window, "--dedup-window").total_seconds(),
            prefilter=prefilter, allowlist=allowlist, context=context)


@dataclass(frozen=True)
class OutputSettings:
    format: str = "jsonl"
    log_format: str = "text"  # watch's structured logs on stderr

    @classmethod
    def from_options(cls, fmt: str | None, log_format: str = "text") -> OutputSettings:
        from ..alerts.render import FORMATS

        if fmt is None:
            fmt = "table" if sys.stdout.isatty() else "jsonl"
        elif fmt not in FORMATS:
            raise ConfigError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
        if log_format not in LOG_FORMATS:
            raise ConfigError(f"--log-format: {log_format!r} is not one of {', '.join(LOG_FORMATS)}")
        return cls(fmt, log_format)


@dataclass(frozen=True)
class DeliverySettings:
    sinks: tuple[str, ...] = ()  # KIND[:TARGET], as --sink takes them
    config: Path | None = None  # TOML file of sinks and delivery settings

    @property
    def wanted(self) -> bool:
        return bool(self.sinks or self.config)


@dataclass(frozen=True)
class ExecutionSettings:
    workers: int | None = None  # local files: processes; None: the CPU count
    threads: int = 8  # S3: parallel downloads
    engine: str = "local"  # local | spark
    spark_master: str | None = None
    partitions: int | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers: {self.workers} is not a positive number")
        if self.engine not in ENGINES:
            raise ConfigError(f"--engine: {self.engine!r} is not one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class WatchSettings:
    """What only `watch` has: where notifications come from and how often S3 is listed again."""

    queue_url: str | None = None
    interval_s: float = 300.0
    lookback: timedelta = timedelta(hours=2)
    once: bool = False
    visibility_s: int | None = None  # None: the queue's own VisibilityTimeout
    wait_s: int = 20  # SQS long polling
    batch_size: int = 50  # objects per transaction when polling S3

    @classmethod
    def from_options(cls, queue_url: str | None, interval: str = "5m", lookback: str = "2h", once: bool = False,
                     visibility_timeout: int | None = None) -> WatchSettings:
        return cls(queue_url=queue_url, interval_s=parse_duration(interval, "--interval").total_seconds(),
                   lookback=parse_duration(lookback, "--lookback"), once=once, visibility_s=visibility_timeout)


@dataclass(frozen=True)
class Settings:
    inputs: InputSettings = InputSettings()
    detection: DetectionSettings = DetectionSettings()
    # The SQLite state file, or a postgresql:// URL (the store several workers share); None: nothing is
    # remembered across runs.
    state: Path | str | None = None
    output: OutputSettings = OutputSettings()
    delivery: DeliverySettings = DeliverySettings()
    execution: ExecutionSettings = ExecutionSettings()
    watch: WatchSettings = field(default_factory=WatchSettings)

    def __post_init__(self) -> None:
        # A file given as text is a Path, as before; a postgresql:// URL stays text (a Path would fold its //).
        if isinstance(self.state, str) and not self.state.startswith(("postgresql://", "postgres://")):
            object.__setattr__(self, "state", Path(self.state) if self.state else None)

    @property
    def remote(self) -> bool:
        """s3:// URLs or the event history: read through the incremental runner."""
        from ..sources import select

        return select.is_remote(self.inputs.paths, self.inputs.event_history)

    def check_scan(self) -> None:
        """What `scan` cannot run with, before anything is opened or read."""
        from ..sources import select

        inputs = self.inputs
        if not inputs.paths and not inputs.event_history:
            raise ConfigError("nothing to scan: give files, folders, s3:// URLs or --event-history")
        if (inputs.accounts or inputs.regions) and not self.remote:
            raise ConfigError("--accounts/--regions apply to s3:// URLs and --event-history only")
        if self.execution.engine == "spark" and self.remote:
            raise ConfigError("--engine spark reads files and Hadoop URIs (s3a://, hdfs://); s3:// URLs and "
                              "--event-history run on the local engine")
        if self.execution.engine == "local":
            select.check(inputs.paths, inputs.event_history)

    def check_watch(self) -> None:
        if bool(self.watch.queue_url) == bool(self.inputs.paths):
            raise ConfigError("give either --sqs-queue-url URL or s3://bucket/prefix URLs to watch")
        if not self.state:
            raise ConfigError("--state FILE is required: it is what makes alerts exactly-once")
        if any(not u.startswith("s3://") for u in self.inputs.paths):
            raise ConfigError("watch reads s3:// URLs only; use `trailhound scan` for local files")


_SECTIONS = {"inputs": InputSettings, "detection": DetectionSettings, "context": ContextSettings,
             "output": OutputSettings, "delivery": DeliverySettings, "execution": ExecutionSettings,
             "watch": WatchSettings}


def from_keywords(paths: Iterable[str] = (), **keywords: Any) -> Settings:
    """Settings from flat keywords named as the fields (`since=`, `dedup_fields=`, `workers=`, `state=`, the
    context's `enabled` as `context=`), checked by pydantic: a wrong type is a ConfigError naming the keyword."""
    nested: dict[str, Any] = {"inputs": {"paths": tuple(paths)}, "detection": {"context": {}}}
    for name, value in keywords.items():
        if name == "state":
            nested["state"] = value
            continue
        section = "context" if name == "context" else _section_of(name)  # `context=`: on or off
        target = nested["detection"]["context"] if section == "context" else nested.setdefault(section, {})
        target["enabled" if name == "context" else name] = value
    from pydantic import TypeAdapter, ValidationError  # only library callers pay for pydantic

    try:
        return TypeAdapter(Settings).validate_python(nested)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{first['loc'][-1]}: {first['msg']} (got {first.get('input')!r})") from None


def _section_of(name: str) -> str:
    for section, cls in _SECTIONS.items():
        if name != "enabled" and name in {f.name for f in dataclasses.fields(cls)}:
            return section
    known = {f.name for c in _SECTIONS.values() for f in dataclasses.fields(c)} - {"enabled"} | {"state"}
    raise ConfigError(f"{name}: not a setting (choose from {', '.join(sorted(known))})")
