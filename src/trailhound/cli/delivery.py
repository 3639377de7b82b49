"""Saying on stderr what a run's delivery to its sinks did: what arrived, what failed, what is still pending."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from ..alerts.textsafe import inert

if TYPE_CHECKING:
    from ..sinks.delivery import DeliveryReport


def report_delivery(report: DeliveryReport, state: Path | str | None) -> bool:
    """True when every delivery this run attempted succeeded."""
    for error, count in Counter(error for _, error in report.failures).items():
        times = f" ({count} alerts)" if count > 1 else ""
        sys.stderr.write(f"trailhound: warning: delivery failed{times}: {inert(error)}\n")
    parts = [f"{count} to {label}" for label, count in report.delivered.items()]
    line = f"trailhound: delivered {', '.join(parts)}"
    if report.from_earlier_runs:
        line += f" ({report.from_earlier_runs} held over from earlier runs)"
    sys.stderr.write(inert(line) + "\n")
    for pending in report.still_pending:
        sys.stderr.write(f"trailhound: {pending.count} delivery(ies) pending for {inert(pending.sink_id)}, "
                         f"retried on the next run with --state (last error: {inert(pending.last_error or '-')})\n")
    if report.failures and state is None:
        sys.stderr.write("trailhound: warning: without --state failed deliveries are not retried later\n")
    return not report.failed
