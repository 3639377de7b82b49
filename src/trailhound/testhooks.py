"""Fault-injection points for the crash tests (documented in docs/sources.md). Inert unless the variable
is set: the tests use them to stop a run at an exact point, which a timed SIGKILL can only hope to hit."""

from __future__ import annotations

import os
import time

# "before-store" / "after-store" (around the transaction that stores alerts and processed marks) and
# "before-delivery" (alerts stored and printed, sinks not reached yet): the process ends there, exit 70.
CRASH_ENV = "TRAILHOUND_TEST_CRASH_AT"
# Seconds to spend on each input before scanning it, so a test can signal mid-object or watch a message's
# visibility being extended.
SLOW_ENV = "TRAILHOUND_TEST_SLOW_INPUT_S"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os._exit(70)


def slow_down() -> None:
    if os.environ.get(SLOW_ENV):
        time.sleep(float(os.environ[SLOW_ENV]))
