"""`slack:URL`: a Slack incoming-webhook message in blocks: the rule's title for the alert, from where, how
bad, the playbook and the `respond` actions the rule names. Log values are attacker-controlled: made inert
and escaped for Slack's mrkdwn."""

from __future__ import annotations

from typing import Any

from ..alerts.alert import Alert
from ..alerts.textsafe import inert
from ..records.record import Record
from .base import UrlSink
from .http import post_json

_SEVERITY_MARK = {"Critical": ":red_circle:", "High": ":large_orange_circle:", "Medium": ":large_yellow_circle:",
                  "Low": ":large_blue_circle:", "Informational": ":white_circle:"}


def escape(value: object, limit: int = 300) -> str:
    """Text safe inside mrkdwn: controls escaped and Slack's three control characters entity-encoded, so
    nothing can become a link, a mention or a broadcast (<!channel>)."""
    return inert(value, limit=limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(value: object, limit: int = 300) -> str:
    """A log value, shown verbatim in inline code, where mrkdwn's *bold*, _italic_ and links do not apply."""
    return "`" + escape(value, limit).replace("`", "'") + "`"


def message(alert: Alert) -> dict[str, Any]:
    from ..engine.rules import find_rule

    row, record = alert.row, Record(alert.raw)
    severity = str(row.get("Severity", ""))
    rule = find_rule(alert.rule_id)
    playbook = rule.response_actions if rule else []
    title = f"{row.get('RuleName', alert.rule_id)} ({alert.rule_id})"
    said = rule.title(row, quote=code) if rule else escape(alert.title)
    summary = (f"{said}, from {code(record.source_ip)} in {code(record.region)}, "
               f"account {code(row.get('RecipientAccountId', ''))}.")
    fields = [("Severity", f"{_SEVERITY_MARK.get(severity, '')} {escape(severity)}"),
              ("Outcome", escape(row.get("Outcome", ""))), ("Time (UTC)", code(row.get("TimeGenerated", ""))),
              ("User agent", code(record.user_agent, limit=120)),
              ("ATT&amp;CK", escape(", ".join(row.get("Techniques", []))))]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": inert(title, limit=140)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields]},
    ]
    if playbook:
        steps = "\n".join(f"{i}. {escape(step, limit=600)}" for i, step in enumerate(playbook, 1))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Playbook*\n{steps}"}})
    commands = [f"`trailhound alerts show {alert.id}`",
                *(f"`trailhound respond {alert.id} --{action}`" for action in (rule.respond_actions if rule else ()))]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
        f"alert {code(alert.id)} · " + " · ".join(commands))}]})
    fallback = f"[{severity}] {title}: {alert.title} from {record.source_ip}"
    return {"text": escape(fallback, limit=600), "blocks": blocks}


class SlackSink(UrlSink):
    kind = "slack"

    def send_one(self, alert: Alert) -> None:
        post_json(self.target, message(alert), self.policy, self.label)
