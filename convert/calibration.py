"""The representative set that calibrates the int8 model's activation ranges."""

from __future__ import annotations

import numpy as np

from device.base.contract import FLAT_SHAPE, to_model_input
from device.base.mnist import Mnist

MIN_CALIBRATION = 100


def representative_inputs(
    mnist: Mnist, count: int, val_split: int, seed: int = 0, shape: tuple[int, ...] = FLAT_SHAPE
) -> np.ndarray:
    """`count` training digits, the same number from each class, as the device feeds them.

    They come from the part of the training split that train/ fits on (not its validation
    hold-out, and never the test set), through `to_model_input`, the device's own input function.

    Raises:
        ValueError: fewer than MIN_CALIBRATION samples asked for.
    """
    if count < MIN_CALIBRATION:
        raise ValueError(f"--calibration {count} is too few to calibrate int8 ranges; use at least {MIN_CALIBRATION}")
    images, labels = mnist.x_train[:-val_split], mnist.y_train[:-val_split]
    rng = np.random.default_rng(seed)
    per_class = np.array_split(np.arange(count), 10)
    chosen = [
        rng.choice(np.flatnonzero(labels == digit), size=len(part), replace=False)
        for digit, part in enumerate(per_class)
    ]
    return to_model_input(images[np.concatenate(chosen)], shape)
