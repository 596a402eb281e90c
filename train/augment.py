"""Data augmentation for the robust dmlp (section 7.7's remedy for overfitting), ending in the
device's own normalisation so the network trains on exactly what the recogniser will feed it.

Each digit is drawn again at three times MNIST's resolution, where a stroke is 6-9 px wide and
can be made thinner or thicker by a pixel or two. There it gets one random warp: an affine map
(shift, scale, rotation, shear) plus an elastic distortion in the manner of Simard et al. (2003),
a random displacement field smoothed by a Gaussian, applied by a single OpenCV remap. Then the
stroke changes: most digits are traced again with a round pen of random width (thinning from
opencv-contrib, which only the training environment installs), the rest thickened or thinned;
some get a gap in a stroke, some the blur and noise of a camera, binarised again.
Keras' Random* layers have no stroke-width or elastic transform, hence OpenCV.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2 as cv
import numpy as np

from device.numeral import normalise, remove_specks

SIDE = 28
UPSCALE = 3
BIG = SIDE * UPSCALE


@dataclass(frozen=True)
class AugmentSettings:
    max_shift: float = 3.0            # pixels at 28x28, each axis (normalisation recentres; this moves strokes' context)
    scale: tuple[float, float] = (0.85, 1.15)
    max_rotation: float = 12.0        # degrees
    max_shear: float = 0.3            # x += shear * y
    elastic_alpha: float = 2.0        # largest elastic displacement, pixels at 28x28
    elastic_sigma: float = 3.0        # smoothing of the displacement field, pixels at 28x28
    stroke_radius: tuple[int, int] = (-3, 4)  # erode (<0) or dilate (>0) radius at 3x
    pen_redraw: float = 0.65          # chance that the digit is redrawn with a round pen instead
    pen_radius: tuple[int, int] = (1, 6)      # that pen's radius at 3x: a fine pen to a marker
    broken: float = 0.3               # chance of a gap in a stroke
    ragged: float = 0.25              # chance of a camera's blur and noise, binarised again
    keep_original: float = 0.2        # fraction of digits left as MNIST gave them


def augment_batch(images: np.ndarray, rng: np.random.Generator,
                  settings: AugmentSettings = AugmentSettings()) -> np.ndarray:
    """Augmented float32 (N, 28, 28) in [0, 1] from uint8 MNIST digits; `images` is left alone."""
    out = images.astype(np.float32) / 255.0
    for index in np.flatnonzero(rng.random(len(images)) >= settings.keep_original):
        numeral = augment_digit(images[index], rng, settings)
        if numeral is not None:
            out[index] = numeral
    return out


def augment_digit(image: np.ndarray, rng: np.random.Generator,
                  settings: AugmentSettings = AugmentSettings()) -> np.ndarray | None:
    """One random redrawing of one uint8 28x28 digit, normalised as the device does; None if it vanished."""
    map_x, map_y = _warp_grid(rng, settings)
    warped = cv.remap(image, map_x, map_y, interpolation=cv.INTER_LINEAR, borderMode=cv.BORDER_CONSTANT, borderValue=0)
    big = cv.resize(warped, (BIG, BIG), interpolation=cv.INTER_LINEAR)
    if rng.random() < settings.pen_redraw:
        ink = _redraw_with_pen(big > 127, rng, settings)
    else:
        ink = _change_stroke(big > 127, rng, settings)
    if rng.random() < settings.broken:
        ink = _break_stroke(ink, rng)
    if rng.random() < settings.ragged:
        ink = _through_a_camera(ink, rng)
    return normalise(ink.astype(np.uint8))


_GRID_Y, _GRID_X = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) - (SIDE - 1) / 2


def _warp_grid(rng: np.random.Generator, settings: AugmentSettings) -> tuple[np.ndarray, np.ndarray]:
    """Source coordinates of every output pixel: inverse affine about the centre, plus elastic.

    The warp is applied at 28x28, before upscaling: the same displacement, at a ninth of the cost.
    """
    angle = np.deg2rad(rng.uniform(-settings.max_rotation, settings.max_rotation))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1.0, rng.uniform(-settings.max_shear, settings.max_shear)], [0.0, 1.0]])
    inverse = np.linalg.inv(rotation @ shear * rng.uniform(*settings.scale))
    shift = rng.uniform(-settings.max_shift, settings.max_shift, size=2)
    u, v = _GRID_X - shift[0], _GRID_Y - shift[1]
    dx, dy = _elastic_field(rng, settings)
    centre = (SIDE - 1) / 2
    map_x = inverse[0, 0] * u + inverse[0, 1] * v + centre + dx
    map_y = inverse[1, 0] * u + inverse[1, 1] * v + centre + dy
    return map_x.astype(np.float32), map_y.astype(np.float32)


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


def _redraw_with_pen(ink: np.ndarray, rng: np.random.Generator, settings: AugmentSettings) -> np.ndarray:
    """The digit's one-pixel skeleton traced again with a round pen of random width.

    A mouse, a pen or a marker draws strokes of one constant width, unlike MNIST's scanned
    pencil; erosion and dilation only approximate that.
    """
    bones = cv.ximgproc.thinning(ink.astype(np.uint8) * 255)
    radius = int(rng.integers(settings.pen_radius[0], settings.pen_radius[1] + 1))
    pen = cv.getStructuringElement(cv.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv.dilate(bones, pen) > 0


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


def _break_stroke(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    points = np.argwhere(ink)
    if len(points) < 50:
        return ink
    row, col = points[rng.integers(len(points))]
    broken = ink.astype(np.uint8)
    cv.circle(broken, (int(col), int(row)), int(rng.integers(3, 7)), 0, -1)
    return broken > 0
