"""Digit and whole-zip accuracy of a model on rendered canvases, per layout and writer style (`make bench`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from bench.render import CANVAS_LAYOUTS, Style, render
from bench.writers import WRITERS, Writer, render_writer
from device.recognize import recognize
from device.runtime import Classifier


@dataclass(frozen=True)
class LayoutScore:
    layout: str
    canvases: int
    digit_accuracy: float
    zip_accuracy: float
    blank_digits: int
    style: str = "mnist"  # the benchmark's own canvases, or a writer style's name (bench/writers.py)


def score_layout(
    classifier: Classifier,
    layout: str,
    images: np.ndarray,
    labels: np.ndarray,
    canvases: int,
    seed: int,
    style: Style = Style(),
) -> LayoutScore:
    """Render `canvases` canvases of MNIST test digits (seeded) and read them back."""
    rng = np.random.default_rng([seed, CANVAS_LAYOUTS.index(layout)])
    return _score(classifier, layout, canvases, lambda: render(layout, images, labels, rng, style))


def score_writer(
    classifier: Classifier,
    writer: Writer,
    layout: str,
    images: np.ndarray,
    labels: np.ndarray,
    canvases: int,
    seed: int,
) -> LayoutScore:
    """Render `canvases` canvases of MNIST test digits in `writer`'s style (seeded) and read them back."""
    rng = np.random.default_rng([seed, CANVAS_LAYOUTS.index(layout), 1 + WRITERS.index(writer)])
    score = _score(classifier, layout, canvases, lambda: render_writer(writer, layout, images, labels, rng))
    return replace(score, style=writer.name)


def _score(
    classifier: Classifier, layout: str, canvases: int, rendered: Callable[[], tuple[np.ndarray, str]]
) -> LayoutScore:
    right_digits = right_zips = blanks = 0
    for _ in range(canvases):
        canvas, truth = rendered()
        read = recognize(canvas, classifier, "boxed" if layout == "boxed" else "free", len(truth)).zip
        right_digits += sum(a == b for a, b in zip(read, truth))
        right_zips += read == truth
        blanks += read.count("?")
    return LayoutScore(layout, canvases, right_digits / (canvases * 5), right_zips / canvases, blanks)
