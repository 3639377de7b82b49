"""The options `scan` and `watch` share, each defined once: a command names the alias as a parameter's type.

Their values are text as typed; `run/settings.py` parses them and names the option in any error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Format = Annotated[str | None, typer.Option(
    "--format", "-f", help="table | jsonl | json | ocsf (default: table on a terminal, jsonl otherwise).")]
State = Annotated[str | None, typer.Option(
    "--state", envvar="TRAILHOUND_STATE",
    help="SQLite file, or postgresql://user@host/db (shared by several workers), remembering alerts and "
         "processed objects across runs (watch requires it).")]
Allowlist = Annotated[Path | None, typer.Option("--allowlist", help="TOML file of documented exclusions.")]
Since = Annotated[str | None, typer.Option("--since", help="Only events at or after: 2h, 7d or ISO 8601.")]
Until = Annotated[str | None, typer.Option("--until", help="Only events at or before: 2h, 7d or ISO 8601.")]
DedupFields = Annotated[str, typer.Option(
    "--dedup-fields", help="Comma-separated alert columns forming DedupEntity (TimeGenerated reproduces the "
                           "original rule).")]
DedupWindow = Annotated[str, typer.Option(
    "--dedup-window", help="With --state: suppress an alert whose DedupEntity alerted this recently.")]
Rule = Annotated[list[str] | None, typer.Option(
    "--rule", help="Run only this rule (repeatable); `all`: every rule, those off by default too.")]
RuleFiles = Annotated[list[Path] | None, typer.Option(
    "--rules", help="KQL rule file or folder (repeatable): FalconForce markdown, Sentinel analytic or hunting "
                    "YAML, .kql. A rule whose id is a built-in's replaces it for the run.")]
Now = Annotated[str | None, typer.Option(
    "--now", help="now()/ago() for KQL rules, ISO 8601 (default: --until, else the data's end).")]
OnboardingWindow = Annotated[str, typer.Option(
    "--onboarding-window", help="A password set this soon after the same principal created the user is "
                                "onboarding (severity Low).")]
LoginWindow = Annotated[str, typer.Option(
    "--login-window", help="A console sign-in by the target this soon after raises severity.")]
SeveritySteps = Annotated[list[str] | None, typer.Option(
    "--severity", help="STEP=LEVEL: the level a context step sets (onboarding, existing, self, login, "
                       "login_same_address; failure_steps=N). Repeatable.")]
NoContext = Annotated[bool, typer.Option(
    "--no-context", help="Skip context and severity reasons: the rule's verdicts alone, the fastest scan for "
                         "long hunts.")]
Sink = Annotated[list[str] | None, typer.Option(
    "--sink", help="Also deliver alerts to KIND[:TARGET] (repeatable): jsonl:PATH, webhook:URL, slack:URL, "
                   "sns:TOPIC_ARN, securityhub[:REGION]; env:NAME reads a target from the environment.")]
Config = Annotated[Path | None, typer.Option("--config", help="TOML file of sinks and delivery settings.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")]
Accounts = Annotated[list[str] | None, typer.Option(
    "--accounts", help="s3://: only these account ids (comma-separated, repeatable).")]
Regions = Annotated[list[str] | None, typer.Option(
    "--regions", help="s3:// and --event-history: only these regions (comma-separated).")]
Threads = Annotated[int, typer.Option("--threads", help="s3://: parallel downloads.")]
