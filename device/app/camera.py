"""Live recognition from a camera, a video file or a folder of images: free handwriting or the GUI's boxes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import click
import cv2 as cv
import numpy as np

from device.app.window import Window
from device.images import IMAGE_SUFFIXES, ImageError, read_image
from device.recognize import PageError, Result, error_record, recognize
from device.runtime import Classifier

WINDOW = "ziplite camera"


class SourceError(Exception):
    """The camera or video cannot be opened. The message names it."""


def frames(source: int | Path) -> Iterator[tuple[str, np.ndarray | ImageError]]:
    """(name, BGR frame) from a camera index, a video file, or the images of a folder in name order.

    A folder image that cannot be read yields (name, the ImageError saying why), so the caller can
    report it and go on.
    """
    if isinstance(source, Path) and source.is_dir():
        for path in sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            try:
                yield str(path), read_image(path)
            except ImageError as error:
                yield str(path), error
        return
    capture = cv.VideoCapture(str(source) if isinstance(source, Path) else source)
    if not capture.isOpened():
        raise SourceError(
            f"{source}: cannot open as a camera or video (check the camera index, or pass --source VIDEO_OR_FOLDER)"
        )
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield f"{source}#{index}", frame
            index += 1
    finally:
        capture.release()


def draw(frame: np.ndarray, result: Result, fps: float) -> np.ndarray:
    """The frame with each digit's region, its reading, the zip code and the frame rate drawn on it."""
    shown = frame.copy()
    for region, digit in zip(result.regions, result.digits):
        if region is None:  # a digit missing from the page: it shows as '?' in the zip line
            continue
        colour = (0, 160, 0) if digit.digit is not None and not digit.low_confidence else (0, 140, 255)
        cv.rectangle(shown, (region.x, region.y), (region.x + region.w, region.y + region.h), colour, 2)
        label = "?" if digit.digit is None else f"{digit.digit}{'?' if digit.low_confidence else ''}"
        cv.putText(shown, label, (region.x, max(region.y - 6, 14)), cv.FONT_HERSHEY_SIMPLEX, 0.8, colour, 2)
    cv.putText(
        shown,
        f"zip {result.zip}   {fps:.1f} fps",
        (10, shown.shape[0] - 12),
        cv.FONT_HERSHEY_SIMPLEX,
        0.7,
        (255, 0, 0),
        2,
    )
    return shown


def run_camera(
    classifier: Classifier, source: int | Path, layout: str, digits: int, no_window: bool, as_json: bool
) -> int:
    """Recognize every frame; show it (q, Esc or closing the window quits) or print it. Returns an exit status.

    Args:
        layout: as `recognize`'s: "auto" reads the GUI's boxes where a frame has them, else free handwriting.
    """
    window = None if no_window else Window(WINDOW)
    try:
        return _serve(classifier, source, layout, digits, window, as_json)
    except KeyboardInterrupt:
        return 0
    finally:
        if window is not None:
            window.close()
            cv.destroyAllWindows()


def _serve(
    classifier: Classifier, source: int | Path, layout: str, digits: int, window: Window | None, as_json: bool
) -> int:
    unreadable = 0
    last = time.perf_counter()
    for name, frame in frames(source):
        try:
            if isinstance(frame, ImageError):
                raise frame
            result = recognize(frame, classifier, layout, digits)
        except (ImageError, PageError) as error:
            unreadable += 1
            click.echo(json.dumps(error_record(name, str(error))) if as_json else f"{name}: error: {error}")
            continue
        now = time.perf_counter()
        fps, last = 1.0 / max(now - last, 1e-6), now
        if window is None:
            click.echo(json.dumps(result.record(name, classifier)) if as_json else f"{name}: {result.summary}")
            continue
        cv.imshow(WINDOW, draw(frame, result, fps))
        key = cv.waitKey(1) & 0xFF
        if key in (ord("q"), 27) or not window.is_open():
            break
    return 1 if unreadable else 0
