"""A time limit on every invoke, so a model whose run time depends on its input cannot freeze the device.

An invoke is native code: nothing in Python can interrupt it, and a result that comes too late is
no result for a device in front of a person. So when one runs past its limit, a watchdog thread
prints one line and ends the process (exit status 2, as for any bad model). The interpreters
release the GIL while they invoke, which is what lets the watchdog run meanwhile.

The limit is a thousand times the slowest invoke we know of (a 5-digit float32 invoke is well under
a millisecond here and a few on a Pi 4), so load on a busy device never comes near it. Setting and
clearing a deadline is two dictionary writes on the recognition path; the thread wakes four times a
second and does nothing else.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Iterator

BASE_LIMIT_S = 3.0
PER_DIGIT_LIMIT_S = 0.01  # evaluate's batches of 500 digits get 8 s
CHECK_PERIOD_S = 0.25
EXIT_STATUS = 2


def invoke_limit_s(batch: int) -> float:
    return BASE_LIMIT_S + PER_DIGIT_LIMIT_S * batch


class Watchdog:
    """Ends the process, with one line naming `what`, when an invoke outlives its limit."""

    def __init__(self, what: str):
        self._what = what
        self._deadlines: dict[int, tuple[float, float]] = {}  # thread id: (deadline, limit)
        # The thread holds only a weak reference: it ends with the classifier that made it.
        threading.Thread(target=_watch, args=(weakref.ref(self),), name="ziplite-invoke-watchdog", daemon=True).start()

    @contextlib.contextmanager
    def limit(self, batch: int) -> Iterator[None]:
        """Run the block (one invoke of `batch` digits) under its time limit."""
        limit = invoke_limit_s(batch)
        thread = threading.get_ident()
        self._deadlines[thread] = (time.monotonic() + limit, limit)
        try:
            yield
        finally:
            del self._deadlines[thread]

    def check(self) -> None:
        now = time.monotonic()
        for deadline, limit in list(self._deadlines.values()):
            if now > deadline:
                self._abort(limit)

    def _abort(self, limit: float) -> None:
        line = (
            f"error: {self._what}: one invoke ran over its {limit:.0f} s limit (a model whose run time "
            "depends on its input?); stopped rather than freeze the device: use another model\n"
        )
        try:
            os.write(2, line.encode())
        finally:
            os._exit(EXIT_STATUS)


def _watch(reference: weakref.ref) -> None:
    while True:
        time.sleep(CHECK_PERIOD_S)
        watchdog = reference()
        if watchdog is None:
            return
        watchdog.check()
        del watchdog
