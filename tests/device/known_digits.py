"""Regenerate device/samples/known_digits.npz, the probe's known answers: `python -m tests.device.known_digits`.

The numerals of the sample canvases, as recognize() makes them, with the digits truth.json says
they are. Rerun after a change to the numeral pipeline (device/numeral.py, device/layout.py).
"""

from __future__ import annotations

import json

import numpy as np

from device.base.files import atomic_path
from device.images import read_image
from device.probe import KNOWN_DIGITS
from device.recognize import _numerals

SAMPLES = KNOWN_DIGITS.parent


def known_digits() -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 numerals and their (N,) digits, from the sample canvases and truth.json."""
    images, digits = [], []
    for name, zip_code in json.loads((SAMPLES / "truth.json").read_text()).items():
        _, _, numerals = _numerals(read_image(SAMPLES / name), "auto", len(zip_code))
        for numeral, digit in zip(numerals, zip_code, strict=True):
            images.append(np.round(numeral * 255).astype(np.uint8))
            digits.append(int(digit))
    return np.array(images), np.array(digits, np.uint8)


if __name__ == "__main__":
    images, digits = known_digits()
    with atomic_path(KNOWN_DIGITS) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, images=images, digits=digits)
    print(f"wrote {KNOWN_DIGITS}: {len(digits)} numerals")
