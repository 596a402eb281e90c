"""How real writers change a digit's strokes, on its one-pixel skeleton: gaps, dotted lines, a 7's
crossbar, a 0 left open at the top, a 5's flag short or apart, a 1's foot and flag, a closed 4.

The training augmentation (train/augment.py) and the benchmark's renderer (bench/render.py) both
draw with these, so they are numpy and OpenCV only: the device environment renders too, and
importing this never loads TensorFlow. Each function takes a uint8 or bool 0/1 image (a
skeleton, or ink) and returns a new one of the same dtype; the input is left alone.
"""

from __future__ import annotations

import cv2 as cv
import numpy as np


def break_stroke(ink: np.ndarray, rng: np.random.Generator, radius: int, min_points: int = 20) -> np.ndarray:
    """A gap of `radius` around one random point of the ink (a pen lifted, a poor scan); small marks kept whole."""
    points = np.argwhere(ink)
    if len(points) < min_points:
        return ink.copy()
    row, col = points[rng.integers(len(points))]
    broken = ink.astype(np.uint8)
    cv.circle(broken, (int(col), int(row)), int(radius), 0, -1)
    return broken.astype(ink.dtype, copy=False)


def dotted(bones: np.ndarray, rng: np.random.Generator, period: int) -> np.ndarray:
    """The skeleton as dashes twice `period` long with gaps `period` long: a faint pen or a binarised scan.

    Measured along rows plus columns, so a diagonal's dashes and gaps are shorter by up to half.
    """
    period = max(1, period)
    rows, cols = np.indices(bones.shape)
    phase = int(rng.integers(3 * period))
    keep = ((rows + cols + phase) // period) % 3 != 0
    return (bones.astype(bool) & keep).astype(bones.dtype)


def cut_side(ink: np.ndarray, rng: np.random.Generator, most: float = 0.12) -> np.ndarray:
    """Ink beyond a line near one side of the digit taken away: the part of a digit that crossed its box's line."""
    rows, cols = np.nonzero(ink)
    if len(rows) == 0:
        return ink.copy()
    cut = ink.copy()
    side = int(rng.integers(4))  # left, right, top, bottom
    low, high = (cols.min(), cols.max()) if side < 2 else (rows.min(), rows.max())
    depth = max(1, round(rng.uniform(0.03, most) * (high - low + 1)))
    lines = cut.T if side < 2 else cut  # a view: the chosen axis first
    if side % 2 == 0:
        lines[: low + depth] = 0
    else:
        lines[high + 1 - depth :] = 0
    return cut


def crossbar(bones: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 7 as many Europeans write it: a short bar across its stem, a little below the middle."""
    rows, cols = np.nonzero(bones)
    if len(rows) == 0:
        return bones.copy()
    top, height, width = rows.min(), rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    y = int(top + rng.uniform(0.45, 0.62) * height)
    on_row = cols[np.abs(rows - y) <= 1]
    x = int(on_row.mean()) if len(on_row) else int(cols.mean())
    half = max(2, round(rng.uniform(0.2, 0.35) * max(width, 0.5 * height)))
    barred = bones.astype(np.uint8)
    cv.line(barred, (x - half, y), (x + half, y), 1, 1)
    return barred.astype(bones.dtype, copy=False)


def open_top(bones: np.ndarray, rng: np.random.Generator, pen_radius: int = 0) -> np.ndarray:
    """A 0 whose loop is not closed at the top (the pen started and stopped short of each other).

    The gap is widened by the pen's radius, so that drawing the skeleton with that pen keeps it open.
    """
    rows, cols = np.nonzero(bones)
    if len(rows) == 0:
        return bones.copy()
    width = cols.max() - cols.min() + 1
    first = np.argmin(rows)
    opened = bones.astype(np.uint8)
    cv.circle(
        opened, (int(cols[first]), int(rows[first])), max(1, round(rng.uniform(0.06, 0.15) * width)) + pen_radius, 0, -1
    )
    return opened.astype(bones.dtype, copy=False)


def five_flag(
    bones: np.ndarray, rng: np.random.Generator, kind: str, pen_radius: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A 5's flag (its top bar) made "short", "detached" from the stem (by a gap that stays open under
    a pen of `pen_radius`), or "faint".

    Returns:
        (the skeleton, the part of it to draw with a finer pen: the flag when faint, else empty).
    """
    rows, cols = np.nonzero(bones)
    faint = np.zeros_like(bones)
    if len(rows) == 0:
        return bones.copy(), faint
    top, height = rows.min(), rows.max() - rows.min() + 1
    band = rows < top + max(2, round(0.2 * height))
    flag_rows, flag_cols = rows[band], cols[band]
    changed = bones.copy()
    if kind == "short":
        middle = (flag_cols.min() + flag_cols.max()) / 2
        keep_left = flag_cols <= middle + rng.uniform(-0.1, 0.1) * (flag_cols.max() - flag_cols.min())
        changed[flag_rows[~keep_left], flag_cols[~keep_left]] = 0
    elif kind == "detached":
        joint = np.argmin(flag_cols)  # where the stem meets the flag
        gap = max(2, round(rng.uniform(0.08, 0.15) * height)) + pen_radius
        changed = changed.astype(np.uint8)
        cv.circle(changed, (int(flag_cols[joint]) + gap // 2, int(flag_rows[joint])), gap, 0, -1)
        changed = changed.astype(bones.dtype, copy=False)
    elif kind == "faint":
        changed[flag_rows, flag_cols] = 0
        faint[flag_rows, flag_cols] = 1
    else:
        raise ValueError(f"kind must be short, detached or faint, got {kind!r}")
    return changed, faint


def upright_one(height: int, rng: np.random.Generator, foot: bool, flag: bool) -> np.ndarray:
    """The skeleton of a straight, upright 1, `height` pixels tall, with or without a foot and a flag."""
    return foot_and_flag(np.ones((height, 1), np.uint8), rng, foot, flag)


def four(height: int, rng: np.random.Generator, closed: bool) -> np.ndarray:
    """The skeleton of a 4 `height` pixels tall: open (two strokes, the top left apart) or closed (a triangle)."""
    width = round(rng.uniform(0.6, 0.8) * height)
    stem_x, bar_y = round(rng.uniform(0.6, 0.75) * width), round(rng.uniform(0.55, 0.7) * height)
    bones = np.zeros((height, width + 1), np.uint8)
    if closed:
        cv.line(bones, (stem_x, 0), (0, bar_y), 1, 1)
    else:
        cv.line(bones, (round(0.1 * width), 0), (0, bar_y), 1, 1)
    cv.line(bones, (0, bar_y), (width, bar_y), 1, 1)
    cv.line(bones, (stem_x, 0), (stem_x, height - 1), 1, 1)
    return bones


def foot_and_flag(bones: np.ndarray, rng: np.random.Generator, foot: bool, flag: bool) -> np.ndarray:
    """A 1's skeleton with a foot (a bar under it) and/or a flag (a short stroke down-left from its top)."""
    rows, cols = np.nonzero(bones)
    if len(rows) == 0 or not (foot or flag):
        return bones.copy()
    height = rows.max() - rows.min() + 1
    # Room on the left for the flag and on both sides for the foot, so neither is clipped.
    reach = round(0.35 * height)
    drawn = np.pad(bones.astype(np.uint8), ((0, 0), (reach, reach)))
    cols = cols + reach
    if flag:
        x, y = int(cols[np.argmin(rows)]), int(rows.min())
        cv.line(
            drawn,
            (x, y),
            (x - round(rng.uniform(0.2, 0.35) * height), y + round(rng.uniform(0.15, 0.3) * height)),
            1,
            1,
        )
    if foot:
        x, y, half = int(cols[np.argmax(rows)]), int(rows.max()), round(rng.uniform(0.15, 0.25) * height)
        cv.line(drawn, (x - half, y), (x + half, y), 1, 1)
    used = np.flatnonzero(drawn.any(axis=0))
    return drawn[:, used.min() : used.max() + 1].astype(bones.dtype, copy=False)
