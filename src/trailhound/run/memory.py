"""Freed buffers kept for the next input instead of handed back to the kernel.

Every input is decompressed into fresh buffers of a few MB. glibc maps each of those from the kernel and
unmaps it when freed, so the next input's buffer is new memory again, and every page of it faults in on
first touch: measured here, that doubled the cost of reading the benchmark corpus (1.9-2.0 s per GB for
scanning with the rule alone, 1.4-1.6 s with the buffers reused; decompression alone is 1.1 s). Raising
malloc's mmap threshold past the biggest buffer (the 64 MB an input is held whole up to) serves those from
the heap, and raising the trim threshold keeps the freed heap for the next one. Peak memory stays what the
buffers need at once; only the kernel's bookkeeping of them is saved. glibc only: elsewhere nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_HELD = 128 << 20  # at most this much freed memory kept (mallopt's trim threshold)
_done = False


def keep_freed_buffers() -> None:
    """Once per process (workers forked after it inherit it)."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return
    _done = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to tune
        return
    mallopt(_M_MMAP_THRESHOLD, 96 << 20)
    mallopt(_M_TRIM_THRESHOLD, _HELD)
