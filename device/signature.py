"""The model's tensors against its contract: what goes in, what comes out, and how each is quantised.

A model is used only when its one input and one output are what the contract describes (28x28
pixels in [0, 1] in, ten digit probabilities out) and the interpreter's own view of them (dtype,
shape, scale, zero point) is exactly what its JSON recorded when convert/ verified it. Anything
else (an edited scale, raw integer inputs, logits) reads wrong digits with exit 0, so it is refused.
Both the classifier (device/runtime.py) and the probe's child (device/probe.py) read them here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2 as cv
import numpy as np

from device.base.contract import INPUT_SHAPES, LABELS

OUTPUT_SHAPE = (len(LABELS),)
# Integer inputs must be quantised (a scale maps them back to [0, 1]); float16 and int32 are not ours.
QUANTISED_DTYPES = ("int8", "uint8", "int16")
# A quantised softmax spans [0, 1] in its codes: TFLite's int8 softmax is scale 1/256, zero point -128.
# The highest code lands one step short of 1; a looser mapping (logits, a rescaled output) is refused.
PROBABILITY_STEP = 1 / 128


class SignatureError(Exception):
    """The model's tensors break the contract; the message says how (the caller names the file)."""


@dataclass(frozen=True)
class Quantisation:
    dtype: np.dtype
    scale: float
    zero_point: int

    @property
    def is_quantised(self) -> bool:
        return self.scale != 0.0


@dataclass(frozen=True)
class Signature:
    input_index: int
    output_index: int
    input_shape: tuple[int, ...]  # without the batch axis
    input_quant: Quantisation
    output_quant: Quantisation


def read_signature(interpreter, recorded: dict | None) -> Signature:
    """The model's input and output, checked against the contract and against `recorded` (its JSON's
    "tensors"; None skips that comparison). Needs no allocated tensors.

    Raises:
        SignatureError: one line saying which tensor and what is wrong.
    """
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise SignatureError(f"expected one input and one output, found {len(inputs)} and {len(outputs)}")
    given, produced = inputs[0], outputs[0]
    input_shape = _without_batch("input", given, INPUT_SHAPES, "the 28x28 pixels as [batch, 784] or [batch, 28, 28, 1]")
    _without_batch("output", produced, (OUTPUT_SHAPE,), "[batch, 10] digit scores")
    input_quant, output_quant = _quantisation(given), _quantisation(produced)
    _check_input_quantisation(input_quant)
    _check_output_quantisation(output_quant)
    if recorded is not None:
        for name, detail in (("input", given), ("output", produced)):
            _check_recorded(name, detail, recorded[name])
    return Signature(int(given["index"]), int(produced["index"]), input_shape, input_quant, output_quant)


def _without_batch(name: str, detail: dict, allowed: tuple[tuple[int, ...], ...], wanted: str) -> tuple[int, ...]:
    shape = [int(v) for v in detail.get("shape_signature", detail["shape"])]
    if len(shape) < 2 or shape[0] not in (-1, 1) or tuple(shape[1:]) not in allowed:
        raise SignatureError(f"{name} shape {shape}, this recogniser needs {wanted}")
    return tuple(shape[1:])


def _quantisation(detail: dict) -> Quantisation:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return Quantisation(np.dtype(detail["dtype"]), float(scale), int(zero_point))


def _check_input_quantisation(quant: Quantisation) -> None:
    name = quant.dtype.name
    if name == "float32" and not quant.is_quantised:
        return
    if name in QUANTISED_DTYPES and math.isfinite(quant.scale) and quant.scale > 0:
        return
    raise SignatureError(
        f"input is {name} with scale {quant.scale:g}: the contract feeds float32 pixels in [0, 1] "
        "or a quantised integer input that maps back to them"
    )


def _check_output_quantisation(quant: Quantisation) -> None:
    name = quant.dtype.name
    if name == "float32" and not quant.is_quantised:
        return  # probabilities or not: the probe runs it and checks (device/probe.py)
    if name in QUANTISED_DTYPES and math.isfinite(quant.scale) and quant.scale > 0:
        info = np.iinfo(quant.dtype)
        low, high = (info.min - quant.zero_point) * quant.scale, (info.max - quant.zero_point) * quant.scale
        if abs(low) < 1e-9 and 1 - PROBABILITY_STEP <= high <= 1 + PROBABILITY_STEP:
            return
        raise SignatureError(
            f"output codes map to [{low:.4g}, {high:.4g}], not to probabilities in [0, 1] "
            f"(scale {quant.scale:g}, zero point {quant.zero_point}): the model must end in softmax"
        )
    raise SignatureError(
        f"output is {name} with scale {quant.scale:g}: the contract reads float32 or quantised probabilities"
    )


def _check_recorded(name: str, detail: dict, recorded: dict) -> None:
    """The interpreter's view of a tensor must be the one convert/ verified and wrote down."""
    actual = {
        "shape": [int(v) for v in detail.get("shape_signature", detail["shape"])],
        "dtype": np.dtype(detail["dtype"]).name,
        "scale": float(detail["quantization"][0]),
        "zero_point": int(detail["quantization"][1]),
    }
    for key, value in actual.items():
        expected = recorded[key]
        same = math.isclose(value, expected, rel_tol=1e-6, abs_tol=0.0) if key == "scale" else value == expected
        if not same:
            raise SignatureError(
                f"{name} {key} is {value!r} in the model but {expected!r} in its JSON: "
                "the model was edited after conversion"
            )


# OpenCV's saturating conversion: scale, shift, round and clip in one pass, three times faster
# here than the same steps in numpy. Identical on the 10,000 MNIST test digits; on random floats
# about 1 value in 100,000 lands one step apart, where the two round a tie at different precision.
_CV_DEPTHS = {np.dtype(np.int8): cv.CV_8S, np.dtype(np.uint8): cv.CV_8U, np.dtype(np.int16): cv.CV_16S}


def quantise(batch: np.ndarray, quant: Quantisation) -> np.ndarray:
    """float32 model inputs in [0, 1] as the input tensor's dtype."""
    if not quant.is_quantised:
        return batch.astype(quant.dtype)
    if quant.dtype in _CV_DEPTHS and batch.size:  # OpenCV would return None for an empty batch
        flat = batch.reshape(len(batch), -1)  # OpenCV takes 2-D arrays; a CNN's input is 4-D
        codes = cv.addWeighted(flat, 1.0 / quant.scale, flat, 0.0, quant.zero_point, dtype=_CV_DEPTHS[quant.dtype])
        return codes.reshape(batch.shape)
    info = np.iinfo(quant.dtype)
    return np.clip(np.round(batch / quant.scale + quant.zero_point), info.min, info.max).astype(quant.dtype)


def dequantise(output: np.ndarray, quant: Quantisation) -> np.ndarray:
    """The output tensor as float32 probabilities."""
    if not quant.is_quantised:
        return output.astype(np.float32)
    return ((output.astype(np.float32) - quant.zero_point) * quant.scale).astype(np.float32)
