"""A rule loaded from KQL text: the same `Rule` interface as a native rule, evaluated run-wide.

Per input (anywhere, pure), `keep` turns each record holding the rule's needles into an `AWSCloudTrail` row.
Once per run (in the driver), `conclude` evaluates the query over the kept rows: once with `now()` at the
run's end, or, for a scheduled rule (Sentinel's queryFrequency/queryPeriod; a FalconForce use case's
`timeframe`, run every half of it as FalconForce schedules them), once per window across the data's time
range, each window seeing the alerts earlier windows raised in `SecurityAlert`. Each result row becomes an
alert carrying the query's output columns in order.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import orjson

from ...alerts.alert import DEFAULT_DEDUP_FIELDS, GENERIC_COLUMNS, LEADING_COLUMNS, Alert, dedup_entity
from ...alerts.severity import Severity
from ...errors import ConfigError
from ...records.record import Record
from ..rules.base import Rule
from . import plan as p
from .check import check_supported
from .evaluate import INGESTION, Context, Table, run_script
from .load import RuleSpec
from .needles import derive_needles
from .table import COLUMNS, cloudtrail_row, cloudtrail_table
from .values import format_datetime, format_timespan, parse_timespan_literal, to_string

SECURITY_ALERT_COLUMNS = ("TimeGenerated", "DisplayName", "AlertName", "AlertSeverity", "Description",
                          "ProviderName", "VendorName", "ProductName", "SystemAlertId", "Status", "StartTime",
                          "EndTime", "Tactics", "Techniques", "Entities", "ExtendedProperties", "Type")
_PLACEHOLDERS = re.compile(r"\{\{(StartTimeISO|EndTimeISO)\}\}")
_TIMEFRAME = re.compile(r"^\s*let\s+timeframe\s*=\s*2\s*\*\s*(\d+(?:\.\d+)?[a-z]+)\s*;", re.M)


@dataclass
class RunView:
    """What a KQL rule sees of the run when it concludes: the run's end (None: the data's end) and the
    alert history (SecurityAlert rows)."""

    now: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    dedup_fields: tuple[str, ...] = DEFAULT_DEDUP_FIELDS
    scheduled: bool = True


def security_alert_row(row: dict[str, Any], generated: datetime | None) -> dict[str, Any]:
    """An alert as Sentinel's SecurityAlert holds it; Custom Details carry DedupEntity as an array, as
    FalconForce's rules (and Sentinel) write them."""
    details = {"DedupEntity": [to_string(row.get("DedupEntity"))]}
    rule_id, name = to_string(row.get("RuleId")), to_string(row.get("RuleName"))
    when = generated or datetime.now(UTC)
    return {
        "TimeGenerated": when, "DisplayName": f"{rule_id} {name}", "AlertName": f"{rule_id} {name}",
        "AlertSeverity": to_string(row.get("Severity")), "Description": to_string(row.get("Title")),
        "ProviderName": "ASI Scheduled Alerts", "VendorName": "trailhound", "ProductName": "Azure Sentinel",
        "SystemAlertId": to_string(row.get("AlertId")), "Status": "New", "StartTime": when, "EndTime": when,
        "Tactics": ",".join(row.get("Tactics") or []), "Techniques": orjson.dumps(row.get("Techniques") or []).decode(),
        "Entities": orjson.dumps(row.get("Entities") or []).decode(),
        "ExtendedProperties": orjson.dumps({"Custom Details": orjson.dumps(details).decode()}).decode(),
        "Type": "SecurityAlert",
    }


def _format(value: Any) -> Any:
    """A result value as alerts carry it: Kusto's text for datetimes and timespans, dynamic as JSON values."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, timedelta):
        return format_timespan(value)
    if isinstance(value, dict):
        return {k: _format(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_format(v) for v in value]
    return value


class KqlRule(Rule):
    """Base of the classes `kql_rule` makes, one per rule file."""

    run_wide = True
    spec: ClassVar[RuleSpec]
    frequency: ClassVar[timedelta | None] = None
    period: ClassVar[timedelta | None] = None

    def __reduce__(self) -> tuple[Any, tuple[RuleSpec]]:
        # Its class is made per file at run time: worker processes rebuild it from the loaded spec.
        return (kql_rule, (self.spec,))

    def matches(self, record: Record) -> bool:
        return False  # a KQL rule judges the run's table, never one record alone

    def row(self, record: Record) -> dict[str, Any]:
        return {}

    def keep(self, record: Record) -> dict[str, Any] | None:
        """The record's AWSCloudTrail row when it holds the rule's needles (the prefilter may be off)."""
        lists = [self.needles, *self.also_needles] if self.needles else []
        if lists:
            text = orjson.dumps(record.raw).lower()
            if not all(any(n in text for n in needles) for needles in lists):
                return None
        row = cloudtrail_row(record)
        row["$origin"] = record.origin
        row["$raw"] = record.raw
        return row

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update({"source": self.spec.path, "kind": self.spec.kind, "query": self.spec.text})
        return out

    # Run-wide -----------------------------------------------------------------------------------------

    def windows(self, rows: list[dict[str, Any]], end: datetime | None) -> list[tuple[datetime | None, datetime]]:
        """(start, now) of each evaluation: Sentinel's schedule across the data, or one at the run's end."""
        times = [r[INGESTION] for r in rows if r.get(INGESTION)]
        last = end or (max(times) if times else datetime.now(UTC))
        if not self.frequency or not times:
            return [(None, last)]
        step = self.frequency.total_seconds()
        period = self.period or self.frequency
        first = datetime.fromtimestamp(math.ceil(min(times).timestamp() / step) * step, UTC)
        out: list[tuple[datetime | None, datetime]] = []
        now = first
        while now < last:
            out.append((now - period, now))
            now += self.frequency
        out.append((last - period, last))
        return out

    def boundaries(self, rows: list[dict[str, Any]], after: datetime | None, until: datetime) -> list[datetime]:
        """The ends of the scheduled windows due by `until`: every queryFrequency boundary (aligned on the
        epoch, as the historical path aligns them) after `after`, or, for a rule not yet evaluated, from the
        first boundary at or after its earliest row."""
        if not self.frequency:
            return []
        step = self.frequency.total_seconds()
        if after is not None:
            first = math.floor(after.timestamp() / step) * step + step
        else:
            times = [r[INGESTION] for r in rows if r.get(INGESTION)]
            if not times:
                return []
            first = math.ceil(min(times).timestamp() / step) * step
        out, end = [], datetime.fromtimestamp(first, UTC)
        while end <= until:
            out.append(end)
            end += self.frequency
        return out

    def conclude(self, rows: list[dict[str, Any]], view: RunView) -> list[Alert]:
        history = [dict(r) for r in view.history]
        alerts: list[Alert] = []
        windows = self.windows(rows, view.now) if view.scheduled else [(None, view.now or _latest(rows))]
        for start, now in windows:
            alerts.extend(self.conclude_window(rows, start, now, history, view.dedup_fields))
        return alerts

    def conclude_window(self, rows: list[dict[str, Any]], start: datetime | None, now: datetime,
                        history: list[dict[str, Any]], dedup_fields: Sequence[str] = DEFAULT_DEDUP_FIELDS
                        ) -> list[Alert]:
        """One evaluation over (start, now]: the rows ingested by `now` with TimeGenerated inside the window;
        its alerts are appended to `history` (SecurityAlert) for the windows after it. The historical path
        and watch's schedule both run this."""
        visible = [r for r in rows if (r.get(INGESTION) or now) <= now and (
            start is None or r.get("TimeGenerated") is None or r["TimeGenerated"] > start)]
        result = self.evaluate(visible, history, now, start)
        if not self._triggered(len(result.rows)):
            return []
        alerts: list[Alert] = []
        for out in self.grouped(result):
            alert = self.make_alert(out, result.columns, now, dedup_fields)
            alerts.append(alert)
            history.append(security_alert_row(alert.as_dict(), now))
        return alerts

    def grouped(self, result: Table) -> list[dict[str, Any]]:
        """The rows that become alerts: each result (AlertPerResult), or, for Sentinel's SingleAlert, one
        alert per evaluation carrying the first result's columns, the count and every result's values."""
        if self.spec.event_grouping.lower() != "singlealert" or len(result.rows) < 2:
            return result.rows
        first = dict(result.rows[0])
        first["EventCount"] = len(result.rows)
        first["Events"] = [{c: _format(r.get(c)) for c in result.columns} for r in result.rows]
        return [first]

    def evaluate(self, rows: list[dict[str, Any]], history: list[dict[str, Any]], now: datetime,
                 start: datetime | None = None) -> Table:
        script = self.spec.script
        if _PLACEHOLDERS.search(self.spec.text):
            begin = start or now - (self.period or timedelta(days=1))
            script = p.parse_query(_PLACEHOLDERS.sub(
                lambda m: format_datetime(begin if m.group(1) == "StartTimeISO" else now), self.spec.text))
        tables = {"AWSCloudTrail": cloudtrail_table(rows),
                  "SecurityAlert": Table(list(SECURITY_ALERT_COLUMNS), history)}
        return run_script(script, Context(tables.get, now))

    def _triggered(self, count: int) -> bool:
        threshold, op = self.spec.trigger_threshold, self.spec.trigger_operator.lower()
        return {"gt": count > threshold, "lt": count < threshold, "eq": count == threshold,
                "ne": count != threshold}.get(op, count > threshold)

    def make_alert(self, out: dict[str, Any], columns: list[str], now: datetime,
                   dedup_fields: Sequence[str] = DEFAULT_DEDUP_FIELDS) -> Alert:
        values = {c: _format(out.get(c)) for c in columns}
        digest = hashlib.sha1(orjson.dumps(values, option=orjson.OPT_SORT_KEYS, default=str),
                              usedforsecurity=False).hexdigest()
        event_id = to_string(values.get("AwsEventId")) or "sha1:" + digest
        when = values.get("TimeGenerated") if isinstance(values.get("TimeGenerated"), str) else format_datetime(now)
        row: dict[str, Any] = {"TimeGenerated": when, **values}
        row.update({
            "RuleId": self.id, "RuleName": self.name, "Title": self.name, "EventID": event_id,
            "RecipientAccountId": to_string(values.get("RecipientAccountId")),
            "Outcome": "failure" if to_string(values.get("ErrorCode")) else "success",
            "Severity": str(self.severity), "Tactics": list(self.tactics), "Techniques": list(self.techniques),
            "Resource": {}, "Entities": self.entities_of(values),
        })
        if "DedupEntity" in values:  # the query's own (FalconForce's de-duplication logic)
            row["DedupEntity"] = to_string(values["DedupEntity"])
        else:
            row["DedupEntity"] = dedup_entity(row, tuple(dedup_fields))
        row["AlertGenerated"] = format_datetime(now)
        if "Events" in out:  # SingleAlert: one alert for the whole result, keyed on every result in it
            row["EventCount"], row["Events"] = out["EventCount"], out["Events"]
            digest = hashlib.sha1(orjson.dumps(out["Events"], option=orjson.OPT_SORT_KEYS, default=str),
                                  usedforsecurity=False).hexdigest()
            return Alert(row=row, raw=values, origin=to_string(out.get("$origin")), key=f"{self.id}|group:{digest}")
        raw, origin = out.get("$raw"), out.get("$origin")
        return Alert(row=row, raw=raw if isinstance(raw, dict) else values, origin=to_string(origin),
                     key=f"{self.id}|{event_id if values.get('AwsEventId') else 'sha1:' + digest}")

    def entities_of(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Sentinel's entityMappings as trailhound's entities (account and ip as every alert has them)."""
        out: list[dict[str, Any]] = []
        if not self.spec.entity_mappings:
            return _default_entities(values)
        for mapping in self.spec.entity_mappings:
            if not isinstance(mapping, dict):
                continue
            kind = str(mapping.get("entityType", "")).lower()
            fields = {str(f.get("identifier")): to_string(values.get(str(f.get("columnName"))))
                      for f in mapping.get("fieldMappings") or [] if isinstance(f, dict)}
            fields = {k: v for k, v in fields.items() if v}
            if not fields:
                continue
            if kind == "account":
                entity: dict[str, Any] = {"Type": "account", "Role": "actor", "Name": fields.get("Name", ""),
                                          "AccountId": fields.get("CloudAppAccountId", "")}
                entity.update({k: v for k, v in fields.items() if k not in ("Name", "CloudAppAccountId")})
            elif kind == "ip":
                entity = {"Type": "ip", "Address": fields.get("Address", "")}
            else:
                entity = {"Type": kind, **fields}
            out.append(entity)
        return out


def _default_entities(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Without entityMappings (FalconForce markdown, .kql): the caller and address from Microsoft's columns
    when the query kept them."""
    out: list[dict[str, Any]] = []
    arn, name = to_string(values.get("UserIdentityArn")), to_string(values.get("UserIdentityUserName"))
    if arn or name:
        actor = {"Type": "account", "Role": "actor", "Name": name or arn.rsplit("/", 1)[-1],
                 "AccountId": to_string(values.get("UserIdentityAccountId"))}
        if arn:
            actor["Arn"] = arn
        out.append(actor)
    for part in to_string(values.get("SourceIpAddress")).split(","):
        try:
            out.append({"Type": "ip", "Address": str(ipaddress.ip_address(part.strip()))})
        except ValueError:
            continue
    return out


def _latest(rows: list[dict[str, Any]]) -> datetime:
    times = [r[INGESTION] for r in rows if r.get(INGESTION)]
    return max(times) if times else datetime.now(UTC)


def _severity(text: str, where: str) -> Severity:
    try:
        return Severity.parse(text, where)
    except ConfigError:
        return Severity.MEDIUM


def kql_rule(spec: RuleSpec) -> KqlRule:
    """The rule for a loaded file; Unsupported (naming file, line, column, construct) when it cannot run."""
    try:
        check_supported(spec.script)
        empty = Context({"AWSCloudTrail": cloudtrail_table([]),
                         "SecurityAlert": Table(list(SECURITY_ALERT_COLUMNS), [])}.get, datetime.now(UTC))
        schema = run_script(spec.script, empty).columns  # Kusto's schema is static: known before any row
    except p.KqlError as exc:
        raise p.relocated(exc, spec.path, spec.query_line) from None
    needles, also = derive_needles(spec.script)
    frequency, period = spec.query_frequency, spec.query_period
    if frequency is None and spec.kind == "falconforce":
        match = _TIMEFRAME.search(spec.text)  # FalconForce: "let timeframe = 2*1h" — runs every 1h over 2h
        if match:
            frequency = parse_timespan_literal(match.group(1))
            period = frequency * 2 if frequency else None
    columns = tuple(c for c in schema if c not in LEADING_COLUMNS + GENERIC_COLUMNS)
    attrs = {
        "id": spec.id, "name": spec.name, "version": spec.version, "description": spec.description,
        "false_positives": spec.false_positives, "blind_spots": spec.blind_spots,
        "response_actions": spec.response_actions, "references": spec.references, "tactics": spec.tactics,
        "techniques": spec.techniques, "severity": _severity(spec.severity, f"{spec.path}: severity"),
        "columns": columns, "spec": spec, "frequency": frequency, "period": period,
    }
    cls = type(f"KqlRule_{re.sub(r'[^A-Za-z0-9_]', '_', spec.id)}", (KqlRule,), attrs)
    # After the class exists: Rule.__init_subclass__ derives (empty) needles from event names.
    setattr(cls, "needles", needles)  # noqa: B010 - a ClassVar set on the new class, not an instance
    setattr(cls, "also_needles", also)  # noqa: B010
    rule: KqlRule = cls()
    return rule


__all__ = ["COLUMNS", "KqlRule", "RunView", "kql_rule", "security_alert_row"]
