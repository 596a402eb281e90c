"""Hide what native libraries print straight to the process's file descriptors.

The C++ cores of TensorFlow and of the TFLite runtimes write status lines ("Created TensorFlow
Lite XNNPACK delegate for CPU.", "failed call to cuInit", the int8 calibrator's settings) to file
descriptors 1 and 2, beneath Python's sys.stdout and sys.stderr: only pointing the descriptors
elsewhere hides them. They would bury the one line a user needs.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Iterator


@contextlib.contextmanager
def native_output_hidden(fds: tuple[int, ...] = (1, 2)) -> Iterator[None]:
    """Send `fds` to a temporary file for the block; if the block raises, replay it on stderr.

    Only for native calls: Python's own prints inside the block are hidden too.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in fds}
    with tempfile.TemporaryFile(mode="w+b") as captured:
        for fd in fds:
            os.dup2(captured.fileno(), fd)
        try:
            yield
        except BaseException:
            _restore(saved)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            _restore(saved)


def _restore(saved: dict[int, int]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, copy in list(saved.items()):
        os.dup2(copy, fd)
        os.close(copy)
        del saved[fd]
