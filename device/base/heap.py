"""Keep freed C heap memory in the process, instead of giving it back to the kernel after every page.

A recognition allocates and frees a dozen page-sized numpy and OpenCV temporaries (100-300 KB
each). glibc hands the top of its heap back to the kernel whenever more than 128 KiB of it is free
(M_TRIM_THRESHOLD), so, depending on where those blocks happen to land, each recognition can fault
the same pages in again. Measured here: 120 page faults and 0.25 ms of kernel time for one
red-box mask (0.04 ms without them), a third of a whole recognition. A 64 MiB threshold keeps the
pages; the process's peak memory is unchanged, since it had to hold them once anyway.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
KEEP_FREED_BYTES = 64 * 1024 * 1024


def keep_freed_heap() -> bool:
    """Raise glibc's trim threshold; False, with nothing changed, on another C library or system."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES) == 1
