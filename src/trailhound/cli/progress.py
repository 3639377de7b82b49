"""A live progress bar on stderr (files, bytes, events/s, alerts), drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..engine.evaluate import InputResult


@contextmanager
def progress_bar(total_files: int, total_bytes: int) -> Iterator[Callable[[InputResult], None] | None]:
    """Yields a callback for each input's result (run.local.scan_paths); a no-op off a terminal, where the
    summary line suffices."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console  # rich's live display costs start-up time: load it only when drawn
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.perf_counter()
    counts = {"records": 0, "alerts": 0}
    bar = Progress(TextColumn("{task.completed}/{task.total} files"), BarColumn(),
                   TextColumn("{task.fields[mb]:.1f} MB  {task.fields[rate]:,.0f} events/s  "
                              "{task.fields[alerts]} alert(s)"),
                   TimeElapsedColumn(), console=Console(file=sys.stderr), transient=True)

    def advance(result: InputResult) -> None:
        counts["records"] += result.records
        counts["alerts"] += len(result.alerts)
        done_bytes[0] += result.bytes
        rate = counts["records"] / max(time.perf_counter() - started, 1e-6)
        bar.update(task, advance=1, mb=done_bytes[0] / 1e6, rate=rate, alerts=counts["alerts"])

    done_bytes = [0]
    with bar:
        task = bar.add_task("scan", total=total_files, mb=0.0, rate=0.0, alerts=0)
        yield advance
