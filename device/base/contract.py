"""The model's input contract: what a numeral looks like when it enters the network.

train/ writes INPUT_CONTRACT into dmlp.json, convert/ copies it into every .tflite sidecar, and
device/ checks it before it trusts a model. `to_model_input` is the one place that turns 28x28
images into network input, for training, calibration, evaluation and recognition alike.
"""
from __future__ import annotations

import numpy as np

IMAGE_SIDE = 28
INPUT_SIZE = IMAGE_SIDE * IMAGE_SIDE
LABELS = [str(digit) for digit in range(10)]

INPUT_CONTRACT = {
    "shape": [INPUT_SIZE],
    "image": [IMAGE_SIDE, IMAGE_SIDE],
    "dtype": "float32",
    "scaling": "pixel / 255",
    "range": [0.0, 1.0],
    "ink": "high",
    "normalisation": "MNIST: longest side 20 px, centred by centre of mass in 28x28",
    "labels": LABELS,
}


def to_model_input(images: np.ndarray) -> np.ndarray:
    """Flatten 28x28 images to (N, 784) float32 in [0, 1], ink high.

    uint8 images are MNIST pixels (0..255) and are divided by 255; float images are taken to be
    in [0, 1] already (the output of `device.numeral.to_numeral`).
    """
    images = np.asarray(images)
    if images.shape[-2:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"expected 28x28 images, got shape {images.shape}")
    flat = images.reshape(-1, INPUT_SIZE)
    if flat.dtype == np.uint8:
        return flat.astype(np.float32) / 255.0
    return np.clip(flat, 0.0, 1.0, dtype=np.float32)
