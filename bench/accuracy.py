"""Digit and whole-zip accuracy of a model on rendered canvases, per layout (`make bench`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.render import CANVAS_LAYOUTS, Style, render
from device.recognize import recognize
from device.runtime import Classifier


@dataclass(frozen=True)
class LayoutScore:
    layout: str
    canvases: int
    digit_accuracy: float
    zip_accuracy: float
    blank_digits: int


def score_layout(classifier: Classifier, layout: str, images: np.ndarray, labels: np.ndarray, canvases: int,
                 seed: int, style: Style = Style()) -> LayoutScore:
    """Render `canvases` canvases of MNIST test digits (seeded) and read them back."""
    rng = np.random.default_rng([seed, CANVAS_LAYOUTS.index(layout)])
    right_digits = right_zips = blanks = 0
    for _ in range(canvases):
        canvas, truth = render(layout, images, labels, rng, style)
        read = recognize(canvas, classifier, "boxed" if layout == "boxed" else "free", len(truth)).zip
        right_digits += sum(a == b for a, b in zip(read, truth))
        right_zips += read == truth
        blanks += read.count("?")
    return LayoutScore(layout, canvases, right_digits / (canvases * 5), right_zips / canvases, blanks)
