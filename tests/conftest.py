"""Fixtures shared by both suites: real MNIST."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import ROOT


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The real MNIST: $MNIST_NPZ, else the team's shared copy beside the project."""
    candidates = [os.environ.get("MNIST_NPZ"), ROOT.parent / "shared" / "data" / "mnist.npz"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.fail("no MNIST: set MNIST_NPZ to Keras' mnist.npz (the suite runs on real data only)")
