"""trailhound: a detection engine for AWS CloudTrail.

    from trailhound import scan
    result = scan(["./AWSLogs"])
    for alert in result.alerts:
        print(alert.row["Title"], alert.row["Severity"])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .alerts.alert import Alert
from .alerts.severity import Severity
from .engine.rules.base import Rule
from .records.record import Record
from .version import __version__

if TYPE_CHECKING:
    from .run.pipeline import ScanResult

__all__ = ["Alert", "Record", "Rule", "Severity", "__version__", "scan"]


def scan(paths: Iterable[str], rules: list[str] | None = None, **settings: Any) -> ScanResult:
    """Scan local files and folders with the named rules (all by default), as `trailhound scan` does: the
    same context, severities and reasons. Keywords are the run's settings by name (`since=`, `until=`,
    `dedup_fields=`, `dedup_window_s=`, `prefilter=`, `allowlist=`, `state=`, `workers=` (default 1),
    `context=False`, ...; see `trailhound.run.settings`); a bad one is a ConfigError naming it."""
    from .run.local import scan_paths
    from .run.pipeline import Run
    from .run.settings import from_keywords
    from .sources.files import check_paths

    chosen = from_keywords(paths, rules=tuple(rules or ()), **{"workers": 1, **settings})
    check_paths(chosen.inputs.paths)
    with Run.from_settings(chosen) as run:
        return scan_paths(run, chosen.inputs.paths, chosen.execution.workers)
