"""Child processes that end with their parent: a killed convert must not leave evaluations running.

A SIGKILL reaches only the process it names, so a child started with subprocess keeps running after
its parent is gone. Linux can send the child a signal when its parent dies (prctl PR_SET_PDEATHSIG);
elsewhere children are left as they were.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent():
    """A preexec_fn for subprocess: the child is SIGKILLed when the process that starts it dies."""
    parent = os.getpid()
    # Looked up here, in the parent: loading a library between fork and exec can deadlock a
    # threaded parent (TensorFlow's pools, the watchdog, Qt), so the child only makes the call.
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None

    def set_death_signal() -> None:  # runs in the child, between fork and exec
        if prctl is None:
            return
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The parent may have died between fork and prctl; then no signal would ever come.
        if os.getppid() != parent:
            os._exit(1)

    return set_death_signal
