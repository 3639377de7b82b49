"""The local runner: files and folders, spread over worker processes, results back in input order."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable, Iterator, Sized
from contextlib import nullcontext
from dataclasses import replace

from ..context.enrich import ContextEnricher
from ..engine.evaluate import Input, InputResult, ScanOptions, joined, scan_input
from ..engine.rules.base import Rule
from ..records.split import shape_of
from ..sources.files import iter_files, ranges
from .memory import keep_freed_buffers
from .pipeline import Progress, ProgressBar, Run, ScanResult


def scan_paths(run: Run, paths: Iterable[str], workers: int | None = None,
               progress: ProgressBar | None = None) -> ScanResult:
    """Scan the files under `paths` with `workers` processes (None: the CPU count, one per file at most);
    `progress` is given the totals first, and its callback each input's result as it comes back."""
    keep_freed_buffers()
    files = list(iter_files(paths))
    wanted = workers or os.cpu_count() or 1
    # A big NDJSON file is split into byte ranges, one per worker, so every worker reads it: one big file
    # would otherwise keep the others idle. Each range's result is joined back into the file's.
    inputs = [piece for item in files for piece in ranges(item, wanted, _is_lines)]
    bar = progress(len(files), sum(i.size() for i in files)) if progress else nullcontext(None)
    with bar as advance:  # gone before the alerts are written
        return scan_inputs(run, inputs, workers_for(workers, len(inputs)), advance)


def _is_lines(head: bytes) -> bool:
    return shape_of(head) == "lines"


def scan_inputs(run: Run, inputs: Iterable[Input], workers: int = 1, progress: Progress | None = None) -> ScanResult:
    if run.state is None and run.options.collectors and run.enrichers \
            and all(isinstance(e, ContextEnricher) for e in run.enrichers):
        return run.finish(_context_after(run, list(inputs), workers, progress))
    results = _joining(scan_all(inputs, run.rules, run.options, workers))
    if progress is not None:
        results = _reporting(results, progress)
    return run.finish(results)


def _context_after(run: Run, inputs: list[Input], workers: int, progress: Progress | None) -> list[InputResult]:
    """A run whose related events do not outlive it (no state store): the rules first, over every input,
    without the context's collectors, which would parse far more than the rules do; then, only when there are
    alerts, a second pass that keeps the related events those alerts are about (ContextPlugin.focus), and no
    others. The alerts' context is the same either way: the second pass keeps every event it reads."""
    results: list[InputResult] = []
    for result in _joining(scan_all(inputs, run.rules, replace(run.options, collectors=()), workers)):
        if progress is not None:
            progress(result)  # as each comes: the bar follows the first pass, the one that reads for the rules
        results.append(result)
    alerts = [alert for result in results for alert in result.alerts]
    if not alerts:
        return results
    focused = [enricher.focused(alerts) for enricher in run.enrichers if isinstance(enricher, ContextEnricher)]
    collectors = run.options.collectors if any(f is None for f in focused) else \
        tuple(c for f in focused if f is not None for c in f)
    if collectors:
        again = _joining(scan_all(inputs, [], replace(run.options, collectors=collectors), workers))
        for result, second in zip(results, again):
            result.related = second.related
    return results


def _joining(results: Iterable[InputResult]) -> Iterator[InputResult]:
    """Results as they come (in input order), the ranges of one file joined into that file's result."""
    parts: list[InputResult] = []
    for result in results:
        if result.part is None:
            yield result
            continue
        parts.append(result)
        if result.part == result.parts - 1:  # a file's ranges come in order, one after the other
            yield joined(parts)
            parts = []


def workers_for(requested: int | None, inputs: int) -> int:
    wanted = requested or os.cpu_count() or 1
    return max(1, min(wanted, inputs))  # a process per file at most: starting idle ones costs time


def _reporting(results: Iterable[InputResult], progress: Progress) -> Iterator[InputResult]:
    for result in results:
        progress(result)
        yield result


def _scan_one(job: tuple[Input, list[Rule], ScanOptions]) -> InputResult:
    return scan_input(*job)


def _worker_started(parent: int) -> None:
    """A worker must not outlive its parent, nor hold the parent's stdout open. A SIGKILLed scan gets no
    chance to stop its pool: its workers would wait for ever, and whoever reads the scan's output until EOF
    (a pipe, a test, a log shipper) would wait with them."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # results travel back through the pool's own pipes; nothing is printed here
    os.close(devnull)


def scan_all(inputs: Iterable[Input], rules: list[Rule], options: ScanOptions, workers: int = 1
             ) -> Iterator[InputResult]:
    """Every input's result, in input order; spread over `workers` processes when there is more than one."""
    if workers <= 1:
        for item in inputs:
            yield scan_input(item, rules, options)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, initializer=_worker_started, initargs=(os.getpid(),)) as pool:
        # Results come back in input order whatever finishes first, so output never depends on scheduling.
        # Inputs go out 8 at a time (less traffic), unless there are too few to keep every worker busy so: a
        # big file's byte ranges, one per worker, would all land on the first.
        chunk = 8 if not isinstance(inputs, Sized) or len(inputs) >= 32 * workers else 1
        yield from pool.map(_scan_one, ((item, rules, options) for item in inputs), chunksize=chunk)
