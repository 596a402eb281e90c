"""Hide what native libraries print straight to the process's standard error.

The C++ cores of TensorFlow and of the TFLite runtimes write status lines ("Created TensorFlow
Lite XNNPACK delegate for CPU.", "failed call to cuInit", the int8 calibrator's settings) to file
descriptor 2, beneath Python's sys.stderr: only pointing the descriptor elsewhere hides them.
They would bury the one line a user needs. Hiding is cosmetic: when the descriptor cannot be
redirected (no temporary directory, no stderr at all), the block runs with the chatter showing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

STDERR = 2


@contextlib.contextmanager
def native_stderr_hidden() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file for the block; if the block raises, replay it."""
    saved: list[int] = []
    with _temporary_file() as captured:
        try:
            _point_stderr_at(captured, saved)
            yield
        except BaseException:
            _restore(saved)
            if captured is not None:
                captured.seek(0)
                sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            _restore(saved)


@contextlib.contextmanager
def _temporary_file():
    try:
        captured = tempfile.TemporaryFile(mode="w+b")
    except OSError:
        yield None
        return
    with captured:
        yield captured


def _point_stderr_at(captured, saved: list[int]) -> None:
    """dup2 the file over fd 2, remembering the original in `saved` (left empty when that fails)."""
    if captured is None:
        return
    _flush_stderr()
    try:
        saved.append(os.dup(STDERR))  # EBADF when the process was started without a stderr
        os.dup2(captured.fileno(), STDERR)
    except OSError:
        _restore(saved)


def _restore(saved: list[int]) -> None:
    if not saved:
        return
    _flush_stderr()
    copy = saved.pop()
    os.dup2(copy, STDERR)
    os.close(copy)


def _flush_stderr() -> None:
    if sys.stderr is not None:
        sys.stderr.flush()
