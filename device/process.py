"""Process-wide settings for a process that recognizes page after page, applied by entry points only.

They change the whole process (OpenCV's thread pool, the C heap), so no module applies them when it
is imported: a library user, or train/ using the device's normaliser, keeps its own settings.
"""

from __future__ import annotations

import cv2 as cv

from device.base.heap import keep_freed_heap


def tune_for_recognition() -> None:
    """One OpenCV thread and a heap that keeps freed pages, for the recognizer's commands and workers."""
    # Pages and numerals are small: OpenCV's thread pool costs more than it saves on them, and on a
    # 2-4 core device it competes with the interpreter's own threads.
    cv.setNumThreads(1)
    # Every mode recognizes page after page: no page faults for the same temporaries (device/base/heap.py).
    keep_freed_heap()
