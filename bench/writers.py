"""Writer styles: what real writers do that MNIST's digits rarely show, as benchmark rows of their own.

Each writer renders canvases like `render.render` (five MNIST test digits, never a training
digit) with one habit. A writer of one digit (upright 1s, barred 7s, open or closed 4s, open 0s,
5s with a poor flag) draws that digit in about half the places of each canvas, at least one; the
others are ordinary benchmark digits. The rest (bold markers, dotted and broken strokes, digits
across the box line) draw every digit their way. Digits drawn their way come from MNIST test
digits of that label (7, 0, 5) or are drawn from strokes (1, 4), so no training digit is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from bench.render import (
    CANVAS_LAYOUTS,
    RENDERERS,
    Drawer,
    Style,
    Variant,
    draw_digit,
    ink_of,
    random_height,
    random_pen_radius,
    slanted,
)
from device.layout import BOX_COUNT
from train.strokes import crossbar, five_flag, four, open_top, upright_one


@dataclass(frozen=True)
class Writer:
    name: str
    habit: str  # what this writer does, for the table
    style: Style = Style()  # the ranges every digit of the canvas is drawn from
    label: int | None = None  # the digit drawn this writer's way, if only one
    draw: Callable[..., np.ndarray] | None = None  # (MNIST test digit of `label`, style, rng, tallest) -> mask
    layouts: tuple[str, ...] = field(default=CANVAS_LAYOUTS)


def _upright_one(_: np.ndarray, style: Style, rng: np.random.Generator, tallest: int) -> np.ndarray:
    """A straight 1 with a pen 2-15 px wide (at most a quarter of its height), a foot and a flag or not."""
    height = random_height(style, rng, tallest)
    pen = int(rng.integers(2, min(15, height // 4) + 1))
    bones = upright_one(max(8, height - pen), rng, foot=rng.random() < 0.5, flag=rng.random() < 0.5)
    return ink_of(bones, pen)


def _four(_: np.ndarray, style: Style, rng: np.random.Generator, tallest: int) -> np.ndarray:
    """An open or a closed 4 drawn from strokes, slanted as the benchmark's digits are."""
    height = random_height(style, rng, tallest)
    radius = random_pen_radius(style, rng, height)
    bones = four(max(8, height - 2 * radius - 1), rng, closed=rng.random() < 0.5)
    return ink_of(slanted(bones, rng.uniform(-style.slant, style.slant)), 2 * radius + 1)


def _mnist_with(variant: Variant) -> Callable[..., np.ndarray]:
    """A drawer that redraws an MNIST test digit as `render` does, its skeleton changed by `variant`."""

    def drawn(digit: np.ndarray, style: Style, rng: np.random.Generator, tallest: int) -> np.ndarray:
        height = random_height(style, rng, tallest)
        radius = random_pen_radius(style, rng, height)
        return draw_digit(digit, height, radius, rng.uniform(-style.slant, style.slant), False, rng, variant)

    return drawn


def _five_flag(bones: np.ndarray, rng: np.random.Generator, pen_radius: int) -> tuple[np.ndarray, np.ndarray | None]:
    return five_flag(bones, rng, str(rng.choice(["short", "detached", "faint"])), pen_radius)


WRITERS = (
    Writer("ones", "upright 1s, pen 2-15 px, with and without a foot or a flag", label=1, draw=_upright_one),
    Writer("sevens", "7s with a crossbar", label=7, draw=_mnist_with(lambda b, rng, r: (crossbar(b, rng), None))),
    Writer("fours", "open and closed 4s, drawn from strokes", label=4, draw=_four),
    Writer("zeros", "0s open at the top", label=0, draw=_mnist_with(lambda b, rng, r: (open_top(b, rng, r), None))),
    Writer("fives", "5s whose flag is short, detached or faint (1 px)", label=5, draw=_mnist_with(_five_flag)),
    Writer(
        "bold",
        "very bold markers: pen 11-23 px, up to a quarter of the digit's height",
        Style(height=(55, 95), pen_radius=(5, 11), pen_cap=0.12),
    ),
    Writer(
        "dotted",
        "dashed strokes, as from a poor scan or binarisation (every digit; a third also with a gap)",
        Style(dotted=1.0, broken=0.33),
    ),
    Writer(
        "crossing",
        "digits touching or crossing their box's line (half of them)",
        Style(cross_box=0.5),
        layouts=("boxed",),
    ),
)


def render_writer(
    writer: Writer, layout: str, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, str]:
    """One canvas of BOX_COUNT MNIST test digits in `layout`, drawn by `writer`, and its true zip code."""
    chosen = rng.choice(len(images), size=BOX_COUNT, replace=False)
    digits: list[np.ndarray | Drawer] = list(images[chosen])
    truth = [int(label) for label in labels[chosen]]
    if writer.label is not None:
        theirs = rng.random(BOX_COUNT) < 0.5
        theirs[rng.integers(BOX_COUNT)] = True
        pool = np.flatnonzero(labels == writer.label)
        for place in np.flatnonzero(theirs):
            digits[place] = partial(writer.draw, images[rng.choice(pool)])
            truth[place] = writer.label
    canvas = RENDERERS[layout](digits, rng, writer.style)
    return canvas, "".join(map(str, truth))
