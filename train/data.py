"""Find MNIST: --data PATH, then $MNIST_NPZ, then Keras' own download (for users with internet)."""

from __future__ import annotations

import os
import socket

import numpy as np

from device.base.mnist import DataError, Mnist, load_npz

HOW_TO_SUPPLY = "pass --data PATH to an MNIST npz, set MNIST_NPZ=PATH, or go online so Keras can download it"


def find_mnist(data_path: str | None) -> Mnist:
    """Load MNIST from the first source that is given, in the order the README documents.

    Raises:
        DataError: one line naming the file and the problem, or the three ways to supply data.
    """
    if data_path:
        return load_npz(data_path)
    if os.environ.get("MNIST_NPZ"):
        return load_npz(os.environ["MNIST_NPZ"])
    return _download_with_keras()


def _download_with_keras() -> Mnist:
    import keras

    # An offline machine can sit on a connect() for minutes; fail in seconds instead.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # keras raises bare Exception subclasses for every download failure
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"no MNIST data ({reason}): {HOW_TO_SUPPLY}") from None
    finally:
        socket.setdefaulttimeout(previous)
    return Mnist(x_train, y_train.astype(np.uint8), x_test, y_test.astype(np.uint8), "keras.datasets.mnist", None)
