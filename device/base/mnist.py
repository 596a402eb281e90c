"""Read and validate an MNIST npz in Keras' layout, without ever unpickling."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from device.base.files import sha256_of

EXPECTED = {
    "x_train": ((60000, 28, 28), np.uint8),
    "y_train": ((60000,), None),
    "x_test": ((10000, 28, 28), np.uint8),
    "y_test": ((10000,), None),
}


class DataError(Exception):
    """The MNIST file is missing, unreadable or not in Keras' layout. The message names the file."""


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: str | None


def load_npz(path: str | Path, splits: tuple[str, ...] = ("train", "test")) -> Mnist:
    """Load `path` and check every array's shape, dtype and label range.

    Raises:
        DataError: with one line that names the file and what is wrong with it.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such MNIST file")
    wanted = [key for key in EXPECTED if key.split("_")[1] in splits]
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in wanted if key not in npz.files]
            if missing:
                raise DataError(f"{path}: not an MNIST npz in Keras' layout (missing {', '.join(missing)})")
            for key in wanted:
                _check_header(path, npz.zip, key)  # before a wrong-shape array is allocated
                arrays[key] = npz[key]
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{path}: cannot read as an npz ({error})") from None
    for key, array in arrays.items():
        _check_array(path, key, array)
    empty = np.zeros((0,), np.uint8)
    return Mnist(
        x_train=arrays.get("x_train", empty),
        y_train=arrays.get("y_train", empty),
        x_test=arrays.get("x_test", empty),
        y_test=arrays.get("y_test", empty),
        source=str(path),
        sha256=sha256_of(path),
    )


def _check_header(path: Path, archive: zipfile.ZipFile, key: str) -> None:
    """Check an array's declared shape from its .npy header, without reading the data."""
    with archive.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, _ = reader(member)
    expected = EXPECTED[key][0]
    if shape != expected:
        raise DataError(f"{path}: {key} has shape {shape}, expected {expected}")


def _check_array(path: Path, key: str, array: np.ndarray) -> None:
    shape, dtype = EXPECTED[key]
    if array.shape != shape:
        raise DataError(f"{path}: {key} has shape {array.shape}, expected {shape}")
    if dtype is not None and array.dtype != dtype:
        raise DataError(f"{path}: {key} has dtype {array.dtype}, expected {np.dtype(dtype).name}")
    if key.startswith("y_"):
        if not np.issubdtype(array.dtype, np.integer):
            raise DataError(f"{path}: {key} has dtype {array.dtype}, expected integer labels")
        if array.min() < 0 or array.max() > 9:
            raise DataError(f"{path}: {key} has labels outside 0..9")


def mnist_option(help: str = "MNIST npz in Keras' layout."):
    """--data, the same on every command that reads MNIST: a path, or $MNIST_NPZ, required."""
    return click.option(
        "--data",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="MNIST_NPZ",
        required=True,
        show_envvar=True,
        help=help,
    )
