"""MNIST test accuracy in the device's own runtime, so a Pi can check the model it was given."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from device.base.contract import to_model_input
from device.base.files import atomic_path, display_path
from device.base.mnist import load_npz
from device.runtime import Classifier


def predict_mnist(classifier: Classifier, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Probabilities (N, 10) for uint8 MNIST images (N, 28, 28), batch by batch."""
    inputs = to_model_input(images)
    return np.concatenate([classifier.predict(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)])


def evaluate_mnist(
    classifier: Classifier, data: Path, limit: int | None = None, batch_size: int = 500, save_probs: Path | None = None
) -> dict:
    """Accuracy on the first `limit` (default all) MNIST test images; optionally save the probabilities."""
    mnist = load_npz(data, splits=("test",))
    images, labels = mnist.x_test[:limit], mnist.y_test[:limit]
    started = time.perf_counter()
    probabilities = predict_mnist(classifier, images, batch_size)
    seconds = time.perf_counter() - started
    if save_probs:
        with atomic_path(save_probs) as tmp, open(tmp, "wb") as handle:
            np.save(handle, probabilities)
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == labels))
    return {
        "model": display_path(classifier.path),
        "accuracy": round(accuracy, 6),
        "n": int(len(labels)),
        "runtime": classifier.runtime,
        "runtime_version": classifier.runtime_version,
        "seconds": round(seconds, 3),
        "invoke_5_ms": round(median_invoke_ms(classifier, to_model_input(images[:5])), 4),
    }


def median_invoke_ms(classifier: Classifier, batch: np.ndarray, repeats: int = 200) -> float:
    """Median milliseconds of one classifier call on `batch` (a zip code's worth of digits)."""
    classifier.predict(batch)  # the first call allocates tensors for this batch size
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        classifier.predict(batch)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1e3)
