"""The model's input contract: what a numeral looks like when it enters the network.

train/ writes INPUT_CONTRACT into dmlp.json, convert/ copies it into every .tflite sidecar, and
device/ checks it before it trusts a model. `to_model_input` is the one place that turns 28x28
images into network input, for training, calibration, evaluation and recognition alike.
"""

from __future__ import annotations

import numpy as np

IMAGE_SIDE = 28
INPUT_SIZE = IMAGE_SIDE * IMAGE_SIDE
# The input shapes (without the batch axis) a model may take: the MLPs read a flat vector, the CNN
# an image with one channel. Either way the same pixels in the same order.
FLAT_SHAPE = (INPUT_SIZE,)
IMAGE_SHAPE = (IMAGE_SIDE, IMAGE_SIDE, 1)
INPUT_SHAPES = (FLAT_SHAPE, IMAGE_SHAPE)
LABELS = [str(digit) for digit in range(10)]

INPUT_CONTRACT = {
    "shape": list(FLAT_SHAPE),
    "image": [IMAGE_SIDE, IMAGE_SIDE],
    "dtype": "float32",
    "scaling": "pixel / 255",
    "range": [0.0, 1.0],
    "ink": "high",
    "normalisation": "MNIST: longest side 20 px, centred by centre of mass in 28x28",
    "labels": LABELS,
}


def input_contract(shape: tuple[int, ...] = FLAT_SHAPE) -> dict:
    """The contract of a model whose input (without the batch axis) has `shape`, one of INPUT_SHAPES."""
    if tuple(shape) not in INPUT_SHAPES:
        raise ValueError(f"input shape {list(shape)} is not one of {[list(s) for s in INPUT_SHAPES]}")
    return {**INPUT_CONTRACT, "shape": list(shape)}


def to_model_input(images: np.ndarray, shape: tuple[int, ...] = FLAT_SHAPE) -> np.ndarray:
    """28x28 images as (N, *shape) float32 in [0, 1], ink high: (N, 784) by default, (N, 28, 28, 1) for a CNN.

    uint8 images are MNIST pixels (0..255) and are divided by 255; float images are taken to be
    in [0, 1] already (the output of `device.numeral.to_numeral`).
    """
    images = np.asarray(images)
    if images.shape[-2:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"expected 28x28 images, got shape {images.shape}")
    batch = images.reshape(-1, *shape)
    if batch.dtype == np.uint8:
        return batch.astype(np.float32) / 255.0
    return np.clip(batch, 0.0, 1.0, dtype=np.float32)
