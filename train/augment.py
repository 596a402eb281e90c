"""Data augmentation for the robust dmlp and the CNN (section 7.7's remedy for overfitting), ending in the
device's own normalisation so the network trains on exactly what the recogniser will feed it.

Each digit is drawn again at three times MNIST's resolution, where a stroke is 6-9 px wide and
can be made thinner or thicker by a pixel or two. There it gets one random warp: an affine map
(shift, scale, rotation, shear) plus an elastic distortion in the manner of Simard et al. (2003),
a random displacement field smoothed by a Gaussian, applied by a single OpenCV remap. Then the
stroke changes: most digits are traced again with a round pen of random width (thinning from
opencv-contrib, which only the training environment installs), some of them dotted, the rest
thickened or thinned; some get a gap in a stroke, some lose a side to the box line they crossed,
some the blur and noise of a camera, binarised again. Some are stood upright first (an upright 1
is what most people write, and few MNIST 1s are). Given the labels, some are drawn in the other
ways real writers have (train/strokes.py): a 7 with a crossbar, a 0 open at the top, a 5 with a
short, detached or faint flag, a 1 with a foot or a flag.
Keras' Random* layers have no stroke-width or elastic transform, hence OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2 as cv
import numpy as np

from device.numeral import normalise, remove_specks
from train.strokes import break_stroke, crossbar, cut_side, dotted, five_flag, foot_and_flag, open_top

SIDE = 28
UPSCALE = 3
BIG = SIDE * UPSCALE


@dataclass(frozen=True)
class AugmentSettings:
    max_shift: float = 3.0  # pixels at 28x28, each axis (normalisation recentres; this moves strokes' context)
    scale: tuple[float, float] = (0.85, 1.15)
    max_rotation: float = 12.0  # degrees
    max_shear: float = 0.3  # x += shear * y
    elastic_alpha: float = 2.0  # largest elastic displacement, pixels at 28x28
    elastic_sigma: float = 3.0  # smoothing of the displacement field, pixels at 28x28
    stroke_radius: tuple[int, int] = (-3, 4)  # erode (<0) or dilate (>0) radius at 3x
    pen_redraw: float = 0.65  # chance that the digit is redrawn with a round pen instead
    pen_radius: tuple[int, int] = (1, 7)  # that pen's radius at 3x: a fine pen to a bold marker
    broken: float = 0.3  # chance of a gap in a stroke
    dotted: float = 0.08  # chance that a redrawn digit's strokes are dashes (a poor scan or binarisation)
    box_cut: float = 0.08  # chance that a side is cut off, as by the line of a box the digit crossed
    upright: float = 0.15  # chance that the digit is deslanted (by its moments) instead of sheared and turned
    writer: float = 0.3  # with labels: chance of a writer's variant of a 1, 5, 7 or 0 (train/strokes.py)
    ragged: float = 0.25  # chance of a camera's blur and noise, binarised again
    keep_original: float = 0.2  # fraction of digits left as MNIST gave them


ATTEMPTS = 5  # redrawings of one digit before its vanishing is taken for a bug


def augment_batch(
    images: np.ndarray,
    rng: np.random.Generator,
    settings: AugmentSettings = AugmentSettings(),
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """Augmented float32 (N, 28, 28) in [0, 1] from uint8 MNIST digits; `images` is left alone.

    A digit is drawn again until it survives its redrawing (a gap or a cut can leave too little
    ink): every digit not kept as MNIST gave it is augmented, none silently left out.
    `labels`, when given, allow the writer's variants of 1, 5, 7 and 0.
    """
    out = images.astype(np.float32) / 255.0
    for index in np.flatnonzero(rng.random(len(images)) >= settings.keep_original):
        label = None if labels is None else int(labels[index])
        out[index] = _surviving(images[index], rng, settings, label)
    return out


def _surviving(image: np.ndarray, rng: np.random.Generator, settings: AugmentSettings, label: int | None) -> np.ndarray:
    for _ in range(ATTEMPTS):
        numeral = augment_digit(image, rng, settings, label)
        if numeral is not None:
            return numeral
    raise RuntimeError(f"a digit vanished in all {ATTEMPTS} of its augmentations: the augmentation erases too much")


def augment_digit(
    image: np.ndarray, rng: np.random.Generator, settings: AugmentSettings = AugmentSettings(), label: int | None = None
) -> np.ndarray | None:
    """One random redrawing of one uint8 28x28 digit, normalised as the device does; None if it vanished."""
    map_x, map_y = _warp_grid(image, rng, settings)
    warped = cv.remap(image, map_x, map_y, interpolation=cv.INTER_LINEAR, borderMode=cv.BORDER_CONSTANT, borderValue=0)
    big = cv.resize(warped, (BIG, BIG), interpolation=cv.INTER_LINEAR)
    if rng.random() < settings.pen_redraw:
        ink = _redraw_with_pen(big > 127, rng, settings, label)
    else:
        ink = _change_stroke(big > 127, rng, settings)
    if rng.random() < settings.broken:
        ink = break_stroke(ink, rng, radius=int(rng.integers(3, 7)), min_points=50)
    if rng.random() < settings.box_cut:
        ink = _unless_it_vanished(cut_side(ink, rng), ink)
    if rng.random() < settings.ragged:
        ink = _through_a_camera(ink, rng)
    return normalise(ink.astype(np.uint8))


_GRID_Y, _GRID_X = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) - (SIDE - 1) / 2


def _warp_grid(image: np.ndarray, rng: np.random.Generator, settings: AugmentSettings) -> tuple[np.ndarray, np.ndarray]:
    """Source coordinates of every output pixel: inverse affine about the centre, plus elastic.

    The warp is applied at 28x28, before upscaling: the same displacement, at a ninth of the cost.
    An upright digit gets the shear that undoes its slant and no rotation.
    """
    if rng.random() < settings.upright:
        angle, slant = 0.0, -_slant(image)
    else:
        angle = np.deg2rad(rng.uniform(-settings.max_rotation, settings.max_rotation))
        slant = rng.uniform(-settings.max_shear, settings.max_shear)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1.0, slant], [0.0, 1.0]])
    inverse = np.linalg.inv(rotation @ shear * rng.uniform(*settings.scale))
    shift = rng.uniform(-settings.max_shift, settings.max_shift, size=2)
    u, v = _GRID_X - shift[0], _GRID_Y - shift[1]
    dx, dy = _elastic_field(rng, settings)
    centre = (SIDE - 1) / 2
    map_x = inverse[0, 0] * u + inverse[0, 1] * v + centre + dx
    map_y = inverse[1, 0] * u + inverse[1, 1] * v + centre + dy
    return map_x.astype(np.float32), map_y.astype(np.float32)


def _slant(image: np.ndarray) -> float:
    """The digit's slant, as x per y (mu11 / mu02 of its grey levels): the shear that undoes it is its negative."""
    weights = image.astype(np.float64)
    total = weights.sum() or 1.0
    x = _GRID_X - (weights * _GRID_X).sum() / total
    y = _GRID_Y - (weights * _GRID_Y).sum() / total
    return float((weights * x * y).sum() / max((weights * y * y).sum(), 1e-9))


def _elastic_field(rng: np.random.Generator, settings: AugmentSettings) -> tuple[np.ndarray, np.ndarray]:
    field = rng.uniform(-1, 1, size=(2, SIDE, SIDE)).astype(np.float32)
    smooth = [cv.GaussianBlur(plane, (0, 0), settings.elastic_sigma) for plane in field]
    peak = max(float(np.abs(plane).max()) for plane in smooth) or 1.0
    strength = settings.elastic_alpha * rng.uniform(0, 1) / peak
    return smooth[0] * strength, smooth[1] * strength


def _change_stroke(ink: np.ndarray, rng: np.random.Generator, settings: AugmentSettings) -> np.ndarray:
    radius = int(rng.integers(settings.stroke_radius[0], settings.stroke_radius[1] + 1))
    if radius == 0:
        return ink
    pen = cv.getStructuringElement(cv.MORPH_ELLIPSE, (2 * abs(radius) + 1, 2 * abs(radius) + 1))
    mask = ink.astype(np.uint8)
    if radius > 0:
        return cv.dilate(mask, pen) > 0
    return _unless_it_vanished(cv.erode(mask, pen) > 0, ink)


def _redraw_with_pen(
    ink: np.ndarray, rng: np.random.Generator, settings: AugmentSettings, label: int | None = None
) -> np.ndarray:
    """The digit's one-pixel skeleton traced again with a round pen of random width.

    A mouse, a pen or a marker draws strokes of one constant width, unlike MNIST's scanned
    pencil; erosion and dilation only approximate that. A faint part (a 5's flag) is traced
    with the finest pen.
    """
    bones = cv.ximgproc.thinning(ink.astype(np.uint8) * 255) > 0
    radius = int(rng.integers(settings.pen_radius[0], settings.pen_radius[1] + 1))
    faint = np.zeros_like(bones)
    if label is not None and rng.random() < settings.writer:
        bones, faint = _writers_variant(bones, label, rng, radius)
    if rng.random() < settings.dotted:
        bones = dotted(bones, rng, period=2 * radius + int(rng.integers(3, 9)))
    pen = cv.getStructuringElement(cv.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    drawn = cv.dilate(bones.astype(np.uint8), pen)
    return (drawn | cv.dilate(faint.astype(np.uint8), _FINEST_PEN)) > 0


_FINEST_PEN = cv.getStructuringElement(cv.MORPH_ELLIPSE, (3, 3))


def _writers_variant(
    bones: np.ndarray, label: int, rng: np.random.Generator, pen_radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """A 1 with a foot or a flag, a 7 with a crossbar, a 0 open at the top, a 5 with a short,
    detached or faint flag; other digits as they are. Returns (skeleton, its faint part)."""
    none = np.zeros_like(bones)
    if label == 1:
        foot = bool(rng.integers(2))
        return _same_size(foot_and_flag(bones, rng, foot=foot, flag=not foot or bool(rng.integers(2))), bones), none
    if label == 7:
        return crossbar(bones, rng), none
    if label == 0:
        return open_top(bones, rng, pen_radius), none
    if label == 5:
        return five_flag(bones, rng, str(rng.choice(["short", "detached", "faint"])), pen_radius)
    return bones, none


def _same_size(bones: np.ndarray, like: np.ndarray) -> np.ndarray:
    """`bones` (widened by a foot or flag) fitted back into the 3x canvas: normalisation rescales it anyway."""
    height, width = bones.shape
    if width <= like.shape[1]:
        fitted = np.zeros_like(like)
        left = (like.shape[1] - width) // 2
        fitted[:, left : left + width] = bones
        return fitted
    return cv.resize(bones.astype(np.uint8), like.shape[::-1], interpolation=cv.INTER_NEAREST) > 0


def _through_a_camera(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The ink as the device binarises a photo of it: blurred, noisy, thresholded again.

    Edges come out ragged, thin strokes thinner or broken, close strokes merged; the device's own
    speck removal then clears what the noise left on the paper, as it would on a photo.
    """
    soft = cv.GaussianBlur(ink.astype(np.float32), (0, 0), rng.uniform(1.0, 3.0))
    soft += rng.normal(0.0, rng.uniform(0.02, 0.08), soft.shape).astype(np.float32)
    rough = remove_specks((soft > rng.uniform(0.35, 0.6)).astype(np.uint8)).mask > 0
    return _unless_it_vanished(rough, ink)


def _unless_it_vanished(changed: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """`changed`, unless it kept 30% of the ink or less: a digit is never thinned or blurred away."""
    return changed if changed.sum() > 0.3 * ink.sum() else ink
