"""trailhound: a detection engine for AWS CloudTrail.

    from trailhound import scan
    result = scan(["./AWSLogs"])
    for alert in result.alerts:
        print(alert.row["Title"], alert.row["Severity"])
"""

from __future__ import annotations

from typing import Any, Iterable

__version__ = "0.1.0"


def scan(paths: Iterable[str], rules: list[str] | None = None, **engine_options: Any):
    """Scan local files and folders with the named rules (all by default); returns a ScanResult."""
    from .engine.evaluate import Engine
    from .engine.rules import load_rules
    from .sources.files import check_paths, iter_files

    paths = list(paths)
    check_paths(paths)
    return Engine(load_rules(rules), **engine_options).run(iter_files(paths))
