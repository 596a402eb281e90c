"""The four quantisation modes, mapped in one place onto the TFLite converter's settings."""

from __future__ import annotations

import contextlib
import enum
import io
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from device.base.native import native_stderr_hidden

if TYPE_CHECKING:  # TensorFlow is imported by convert(), not here: `python -m convert --help` answers at once
    import tensorflow as tf


class Mode(str, enum.Enum):
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    DYNAMIC = "dynamic"
    INT8 = "int8"


def convert(model, mode: Mode, representative: np.ndarray | None = None) -> bytes:
    """The `.tflite` bytes of a Keras `model` in `mode`; int8 needs the representative inputs."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    _configure(converter, mode, representative)
    # The converter prints the exported signature to stdout, its C++ calibrator its settings, and
    # int8 warns that the input has no statistics (the representative set gives them); our own
    # lines say what happened.
    with contextlib.redirect_stdout(io.StringIO()), native_stderr_hidden(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        return converter.convert()


def _configure(converter: tf.lite.TFLiteConverter, mode: Mode, representative: np.ndarray | None) -> None:
    import tensorflow as tf

    if mode is Mode.FLOAT32:
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode is Mode.FLOAT16:
        converter.target_spec.supported_types = [tf.float16]
    elif mode is Mode.DYNAMIC:
        # TF 2.21 quantises dense layers per channel by default, which needs FULLY_CONNECTED
        # version 12; tflite-runtime 2.14 (the Pi's runtime) stops at 11 and refuses the model.
        # Per-tensor weights keep the op at a version it has, at no measurable cost in accuracy.
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    elif mode is Mode.INT8:
        if representative is None:
            raise ValueError("int8 needs a representative dataset")
        converter.representative_dataset = _representative_dataset(representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8


def _representative_dataset(inputs: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    def samples():
        for row in inputs:
            yield [row[np.newaxis, :].astype(np.float32)]

    return samples
