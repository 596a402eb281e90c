"""recognize(page) -> Result: the pure core every mode shares (GUI, recognize, camera, bench)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from device.base.contract import to_model_input
from device.base.files import display_path
from device.layout import Rect, box_inks, boxed_row, page_ink, place_missing, segment_free
from device.numeral import normalise
from device.runtime import Classifier

LAYOUTS = ("auto", "boxed", "free")
LOW_CONFIDENCE = 0.6  # below this a digit is shown with a mark, and camera mode does not trust it


class PageError(Exception):
    """A page that cannot be read; every front end reports it for that page and goes on."""


class NoBoxes(PageError):
    """--layout boxed was asked for a page without the GUI's red boxes."""


class NotProbabilities(PageError):
    """The model's scores for this page are NaN or infinite: no digit can be read from them."""


@dataclass(frozen=True)
class Digit:
    digit: int | None  # None: blank or unreadable position
    confidence: float | None

    @property
    def low_confidence(self) -> bool:
        return self.confidence is not None and self.confidence < LOW_CONFIDENCE

    def as_json(self) -> dict:
        return {"digit": self.digit, "confidence": None if self.confidence is None else round(self.confidence, 4)}


@dataclass(frozen=True)
class Result:
    digits: list[Digit]
    layout: str
    regions: list[Rect | None]  # where each digit was read, in page pixels; None: missing
    numerals: list[np.ndarray | None] = field(repr=False)  # the model inputs, None where blank
    preprocess_ms: float = 0.0
    invoke_ms: float = 0.0

    @property
    def zip(self) -> str:
        return "".join("?" if d.digit is None else str(d.digit) for d in self.digits)

    @property
    def ms(self) -> float:
        return self.preprocess_ms + self.invoke_ms

    @property
    def low_confidence(self) -> bool:
        """Some digit was read with a confidence under LOW_CONFIDENCE: a person should check it."""
        return any(d.low_confidence for d in self.digits)

    @property
    def confidence_text(self) -> str:
        """Each digit's confidence, '-' where blank and a '?' after a low one."""
        return " ".join(
            "-" if d.confidence is None else f"{d.confidence:.2f}{'?' if d.low_confidence else ''}" for d in self.digits
        )

    @property
    def summary(self) -> str:
        """The text line every front end prints for a result (recognize, gui, camera)."""
        check = "  LOW CONFIDENCE: check the digits marked ?" if self.low_confidence else ""
        return f"{self.zip}  ({self.layout}, confidence {self.confidence_text}, {self.ms:.2f} ms){check}"

    def record(self, source: str, classifier: Classifier) -> dict:
        """One JSON object for this result: the schema of recognize, camera and batch (docs/device.md)."""
        return {
            "file": source,
            "zip": self.zip,
            "digits": [d.as_json() for d in self.digits],
            "low_confidence": self.low_confidence,
            "layout": self.layout,
            "runtime": classifier.runtime,
            "model": display_path(classifier.path),
            "ms": round(self.ms, 3),
        }


def error_record(source: str, message: str) -> dict:
    """The JSON object for an input that could not be read: same `file` key, and why."""
    return {"file": source, "error": message}


def recognize(page: np.ndarray, classifier: Classifier, layout: str = "auto", digits: int = 5) -> Result:
    """Read the digits on a BGR page.

    Args:
        layout: "boxed" reads inside the red boxes, "free" segments handwriting, "auto" picks
            boxed when red boxes are found.
        digits: how many digits free handwriting holds (boxed pages have one per box).
    """
    started = time.perf_counter()
    chosen, regions, numerals = _numerals(page, layout, digits)
    prepared = time.perf_counter()
    present = [n for n in numerals if n is not None]
    probabilities = classifier.predict(to_model_input(np.array(present))) if present else np.zeros((0, 10))
    finished = time.perf_counter()
    if not np.isfinite(probabilities).all():  # JSON has no NaN, and argmax of NaN is a made-up digit
        raise NotProbabilities(
            "the model's scores for this page are not finite (NaN or infinity); "
            "the model is unsound on this input: use another model"
        )
    return Result(
        _read(numerals, probabilities, classifier.labels),
        chosen,
        regions,
        numerals,
        (prepared - started) * 1e3,
        (finished - prepared) * 1e3,
    )


def _numerals(page: np.ndarray, layout: str, digits: int) -> tuple[str, list[Rect | None], list[np.ndarray | None]]:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    boxed = boxed_row(page) if layout in ("auto", "boxed") else None
    if boxed:
        # One ink map for the row of boxes, then one numeral per box: the same two steps as
        # `to_numeral`, but the paper is estimated once instead of five times, and only where
        # digits are read (the row of boxes: under two thirds of the GUI's canvas).
        boxes, row, red = boxed
        ink = page_ink(row.crop(page), red).mask
        own_inks = box_inks(ink, [box.moved(-row.x, -row.y) for box in boxes])  # a digit across its line is its box's
        return "boxed", boxes, [normalise(own) for own in own_inks]
    if layout == "boxed":
        raise NoBoxes("no red boxes found; use --layout free for handwriting without boxes")
    ink, groups = segment_free(page, digits)
    slots = place_missing(groups, digits)  # fewer ink groups than digits: '?' where one is missing
    numerals = [None if slot is None else normalise(slot.crop(ink)) for slot in slots]
    return "free", slots, numerals


def _read(numerals: list[np.ndarray | None], probabilities: np.ndarray, labels: list[str]) -> list[Digit]:
    rows = iter(probabilities)
    read = []
    for numeral in numerals:
        if numeral is None:
            read.append(Digit(None, None))
        else:
            row = next(rows)
            best = int(np.argmax(row))
            read.append(Digit(int(labels[best]), float(row[best])))
    return read
