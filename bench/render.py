"""Render zip-code canvases from MNIST test digits, the way people really write them.

A digit is redrawn as a pen stroke: its shape is binarised at the target size, slanted, reduced
to a one-pixel skeleton, optionally broken, then drawn again with a round pen of the chosen
width. That gives thin-pen and thick-marker versions of the same handwriting, at any size and
position. Only numpy and OpenCV, so the device environment can render too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2 as cv
import numpy as np

from device.layout import BOX_COUNT, blank_canvas, book_boxes
from train.strokes import break_stroke, dotted

# The kinds of canvas rendered; not device.recognize.LAYOUTS (what recognize is told): a photo is read as free.
CANVAS_LAYOUTS = ("boxed", "free", "photo")


@dataclass(frozen=True)
class Style:
    """The ranges a canvas's handwriting is drawn from."""

    height: tuple[int, int] = (40, 95)  # digit height in pixels
    pen_radius: tuple[int, int] = (1, 6)  # 3 px pen .. 13 px marker
    slant: float = 0.3  # x += slant * (centre - y), both ways
    broken: float = 0.25  # chance that a digit has a gap in a stroke
    pen_cap: float = 0.1  # the pen's radius is at most this share of the digit's height
    dotted: float = 0.0  # chance that a digit's strokes are dashes (a faint pen, a poor scan)
    cross_box: float = 0.0  # boxed: chance that a digit crosses its box's line


# A writer's own way with a digit: (skeleton, rng, pen radius) -> (skeleton, a part of it drawn 1 px thin or None).
Variant = Callable[[np.ndarray, np.random.Generator, int], tuple[np.ndarray, np.ndarray | None]]
# A digit drawn some other way than `draw_digit`'s: (style, rng, tallest allowed) -> uint8 mask.
Drawer = Callable[[Style, np.random.Generator, int], np.ndarray]


def skeleton(mask: np.ndarray) -> np.ndarray:
    """One-pixel, connected skeleton of a binary mask (Zhang & Suen's thinning, 1984).

    Written out because OpenCV's thinning is only in opencv-contrib, which the device does not
    install; each pass is vectorised over the whole image.
    """
    image = np.pad((mask > 0).astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for first_pass in (True, False):
            p = _neighbours(image)  # p[0..7] = N, NE, E, SE, S, SW, W, NW
            count = sum(p)
            transitions = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.uint8) for i in range(8))
            if first_pass:
                keep_a, keep_b = p[0] * p[2] * p[4], p[2] * p[4] * p[6]
            else:
                keep_a, keep_b = p[0] * p[2] * p[6], p[0] * p[4] * p[6]
            remove = (image == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & (keep_a == 0) & (keep_b == 0)
            if remove.any():
                image[remove] = 0
                changed = True
    return image[1:-1, 1:-1]


def _neighbours(image: np.ndarray) -> list[np.ndarray]:
    shifts = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]
    padded = np.pad(image, 1)
    height, width = image.shape
    return [padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width] for dy, dx in shifts]


def draw_digit(
    mnist_digit: np.ndarray,
    height: int,
    pen_radius: int,
    slant: float,
    broken: bool,
    rng: np.random.Generator,
    variant: Variant | None = None,
) -> np.ndarray:
    """One MNIST digit redrawn as a pen stroke: uint8 mask (1 = ink), `height` pixels tall.

    `variant` changes the skeleton before the pen draws it (a writer's crossbar, an open loop, dashes).
    """
    rows, cols = np.nonzero(mnist_digit > 0)
    crop = mnist_digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].astype(np.float32) / 255
    inner = max(height - 2 * pen_radius - 1, 8)
    width = max(1, round(crop.shape[1] * inner / crop.shape[0]))
    shape = cv.resize(crop, (width, inner), interpolation=cv.INTER_CUBIC) > 0.45
    shape = slanted(shape.astype(np.uint8), slant)
    bones = skeleton(shape)
    bones = _stretch_to_height(bones, inner)  # the skeleton lies half a stroke inside the shape
    if broken:
        bones = break_stroke(bones, rng, radius=max(3, 2 * pen_radius + 2) // 2)
    faint = None
    if variant is not None:
        bones, faint = variant(bones, rng, pen_radius)
    return ink_of(bones, 2 * pen_radius + 1, faint)


def ink_of(bones: np.ndarray, pen_width: int, faint: np.ndarray | None = None) -> np.ndarray:
    """A skeleton drawn with a round pen `pen_width` px wide (its `faint` part 1 px wide), padded to fit."""
    margin = pen_width // 2 + 1
    pen = cv.getStructuringElement(cv.MORPH_ELLIPSE, (pen_width, pen_width))
    ink = cv.dilate(np.pad(bones.astype(np.uint8), margin), pen)
    if faint is not None:
        ink |= np.pad(faint.astype(np.uint8), margin)
    return ink


def dashes(bones: np.ndarray, rng: np.random.Generator, pen_radius: int) -> tuple[np.ndarray, None]:
    """The `Variant` of a faint pen or a poor scan: dashes with gaps the pen does not close."""
    return dotted(bones, rng, period=2 * pen_radius + int(rng.integers(3, 9))), None


def _stretch_to_height(bones: np.ndarray, height: int) -> np.ndarray:
    rows, cols = np.nonzero(bones)
    if len(rows) == 0:
        return bones
    crop = bones[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = height / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), height)
    return cv.resize(crop, size, interpolation=cv.INTER_NEAREST)


def slanted(mask: np.ndarray, slant: float) -> np.ndarray:
    height, width = mask.shape
    extra = int(abs(slant) * height) + 1
    matrix = np.float32([[1, -slant, extra / 2 + slant * height / 2], [0, 1, 0]])
    return cv.warpAffine(mask, matrix, (width + extra, height), flags=cv.INTER_NEAREST)


def _random_digit_mask(
    digit: np.ndarray | Drawer, style: Style, rng: np.random.Generator, max_height: int
) -> np.ndarray:
    if callable(digit):
        return digit(style, rng, max_height)
    height = random_height(style, rng, max_height)
    radius = random_pen_radius(style, rng, height)
    slant, broken = rng.uniform(-style.slant, style.slant), rng.random() < style.broken
    variant = dashes if style.dotted and rng.random() < style.dotted else None
    return draw_digit(digit, height, radius, slant, broken, rng, variant)


def random_height(style: Style, rng: np.random.Generator, max_height: int) -> int:
    return int(rng.integers(style.height[0], min(style.height[1], max_height) + 1))


def random_pen_radius(style: Style, rng: np.random.Generator, height: int) -> int:
    """A pen from the style's range, at most `style.pen_cap` of the digit's height (but never under the range).

    The default cap: a marker as thick as a fifth of the digit's height is beyond what most write with.
    """
    cap = int(height * style.pen_cap + 1e-9)  # height // 10 at the default, whatever 0.1's rounding
    return int(rng.integers(style.pen_radius[0], max(style.pen_radius[0], min(style.pen_radius[1], cap)) + 1))


def boxed_canvas(digits: Sequence[np.ndarray | Drawer], rng: np.random.Generator, style: Style = Style()) -> np.ndarray:
    """The GUI's canvas: five digits drawn in black, each at a random size and place inside its box.

    `digits` are MNIST test digits, or `Drawer`s of a writer's own digits. A digit that crosses
    its box's line (`style.cross_box`) is painted over the line, as the GUI's brush does.
    """
    canvas = blank_canvas()
    for digit, box in zip(digits, book_boxes()):
        inner = box.w - 4
        mask = _fit(_random_digit_mask(digit, style, rng, inner), inner)
        top = box.y + 2 + int(rng.integers(0, inner - mask.shape[0] + 1))
        left = box.x + 2 + int(rng.integers(0, inner - mask.shape[1] + 1))
        if style.cross_box and rng.random() < style.cross_box:
            top, left = _across_the_line(box, mask.shape, rng)
        _paint(canvas, mask, top, left, (0, 0, 0))
    return canvas


def _across_the_line(box, shape: tuple[int, int], rng: np.random.Generator) -> tuple[int, int]:
    """Where a digit of `shape` lies over one of its box's sides, by 10-30% of its size."""
    height, width = shape
    top = box.y + 2 + int(rng.integers(0, max(1, box.h - 4 - height) + 1))
    left = box.x + 2 + int(rng.integers(0, max(1, box.w - 4 - width) + 1))
    side = int(rng.integers(4))
    over = rng.uniform(0.1, 0.3)
    if side == 0:
        left = box.x - round(over * width)
    elif side == 1:
        left = box.x + box.w - width + round(over * width)
    elif side == 2:
        top = box.y - round(over * height)
    else:
        top = box.y + box.h - height + round(over * height)
    return top, left


def _paint(page: np.ndarray, mask: np.ndarray, top: int, left: int, ink) -> None:
    """Ink where `mask` is set, its top-left corner at (top, left); what falls off the page is lost."""
    rows, cols = np.nonzero(mask)
    rows, cols = rows + top, cols + left
    inside = (rows >= 0) & (rows < page.shape[0]) & (cols >= 0) & (cols < page.shape[1])
    page[rows[inside], cols[inside]] = ink


def free_canvas(digits: Sequence[np.ndarray | Drawer], rng: np.random.Generator, style: Style = Style()) -> np.ndarray:
    """Handwriting on white paper, no boxes: digits left to right with uneven gaps and baselines."""
    masks = [_random_digit_mask(digit, style, rng, style.height[1]) for digit in digits]
    tallest = max(mask.shape[0] for mask in masks)
    margin = 30
    gaps = rng.integers(8, 35, size=len(masks) - 1)
    width = 2 * margin + sum(mask.shape[1] for mask in masks) + int(gaps.sum())
    page = np.full((tallest + 2 * margin + 20, width), 255, np.uint8)
    left = margin
    ink = int(rng.integers(0, 60))
    for index, mask in enumerate(masks):
        top = margin + int(rng.integers(0, tallest - mask.shape[0] + 21))
        page[top : top + mask.shape[0], left : left + mask.shape[1]][mask > 0] = ink
        left += mask.shape[1] + (int(gaps[index]) if index < len(gaps) else 0)
    return cv.cvtColor(page, cv.COLOR_GRAY2BGR)


def photo_canvas(digits: Sequence[np.ndarray | Drawer], rng: np.random.Generator, style: Style = Style()) -> np.ndarray:
    """Free handwriting as a phone or Pi camera sees it: grey uneven paper, tilt, blur and noise."""
    page = cv.cvtColor(free_canvas(digits, rng, style), cv.COLOR_BGR2GRAY).astype(np.float32)
    height, width = page.shape
    centre = (width / 2, height / 2)
    tilt = cv.getRotationMatrix2D(centre, rng.uniform(-5, 5), 1.0)
    page = cv.warpAffine(page, tilt, (width, height), flags=cv.INTER_LINEAR, borderValue=255)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    gradient = np.cos(angle) * xs / width + np.sin(angle) * ys / height
    light = rng.uniform(150, 200) + rng.uniform(30, 55) * (gradient - gradient.min()) / max(np.ptp(gradient), 1e-6)
    photo = page / 255.0 * light  # ink keeps its darkness relative to the paper's light
    photo = cv.GaussianBlur(photo, (0, 0), rng.uniform(0.6, 1.6))
    photo += rng.normal(0, rng.uniform(3, 9), photo.shape)
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    bgr = cv.cvtColor(photo, cv.COLOR_GRAY2BGR)
    warm = np.array([0.92, 0.97, 1.0]) * rng.uniform(0.95, 1.0)  # paper under indoor light is not neutral grey
    return np.clip(bgr * warm, 0, 255).astype(np.uint8)


RENDERERS = {"boxed": boxed_canvas, "free": free_canvas, "photo": photo_canvas}


def _fit(mask: np.ndarray, side: int) -> np.ndarray:
    """Shrink a mask that is larger than `side` in either direction (wide digits, thick pens)."""
    scale = side / max(mask.shape)
    if scale >= 1:
        return mask
    size = (max(1, int(mask.shape[1] * scale)), max(1, int(mask.shape[0] * scale)))
    return cv.resize(mask, size, interpolation=cv.INTER_NEAREST)


def render(
    layout: str, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, style: Style = Style()
) -> tuple[np.ndarray, str]:
    """One canvas of BOX_COUNT random MNIST digits in `layout`, and its true zip code."""
    chosen = rng.choice(len(images), size=BOX_COUNT, replace=False)
    canvas = RENDERERS[layout](images[chosen], rng, style)
    return canvas, "".join(str(int(label)) for label in labels[chosen])
