"""The TFLite runtime, wrapped once: choose an interpreter, check the model, run a batch.

tflite-runtime is the Raspberry Pi's interpreter (Linux, Python <= 3.11); ai-edge-litert is its
successor everywhere else; TensorFlow's own interpreter is a last resort on a development machine.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2 as cv
import numpy as np

from device.base.contract import INPUT_CONTRACT, INPUT_SIZE
from device.base.native import native_stderr_hidden
from device.interpreters import (INSTALL_HINT, ModelError, available_runtime, default_threads, last_line,
                                 make_interpreter, runtime_version)
from device.probe import probe

# tflite-runtime's aarch64 build is linked with -ffast-math and turns on flush-to-zero when it
# loads, which makes numpy warn about float32 subnormals on every Pi command. Digit scores never
# come near 1e-38, so the warning says nothing about our results.
warnings.filterwarnings("ignore", message="The value of the smallest subnormal")

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "dmlp_int8.tflite"
# A deployed MLP is a few MB; anything far bigger is not ours and is refused before it is read.
MAX_MODEL_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Quantisation:
    dtype: np.dtype
    scale: float
    zero_point: int

    @property
    def is_quantised(self) -> bool:
        return self.scale != 0.0


def sidecar_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def read_sidecar(model_path: Path) -> dict:
    """The model's JSON, checked for the fields device/ relies on."""
    path = sidecar_path(model_path)
    if not path.is_file():
        raise ModelError(f"{path}: missing; every model needs the JSON that convert/ writes beside it "
                         "(run make convert, or copy the JSON with the model)")
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: not valid JSON ({error}); copy it again with its model, or rerun make convert") from None
    if not isinstance(sidecar, dict) or not isinstance(sidecar.get("sha256"), str) or not isinstance(sidecar.get("input"), dict):
        raise ModelError(f"{path}: not a ziplite model description (needs sha256 and input); rerun make convert")
    if "labels" in sidecar and not (isinstance(sidecar["labels"], list) and len(sidecar["labels"]) == 10
                                    and all(isinstance(label, str) for label in sidecar["labels"])):
        raise ModelError(f"{path}: labels must be a list of 10 strings; rerun make convert")
    runtimes = sidecar.get("runtimes", {})
    if not (isinstance(runtimes, dict) and all(isinstance(v, dict) for v in runtimes.values())):
        raise ModelError(f"{path}: runtimes must map each runtime to an object; rerun make convert")
    contract = sidecar["input"]
    for key in ("shape", "range", "ink"):
        if contract.get(key) != INPUT_CONTRACT[key]:
            raise ModelError(f"{path}: input {key} is {contract.get(key)!r}, this recogniser feeds {INPUT_CONTRACT[key]!r}")
    return sidecar


def read_model_bytes(model_path: Path, sidecar: dict) -> bytes:
    """The model's bytes, once they match the JSON's sha256 and look like a TFLite flatbuffer.

    The interpreter can crash the process on a malformed flatbuffer, so nothing reaches it
    unless it is byte-for-byte the file that convert/ verified.
    """
    size = model_path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelError(f"{model_path}: {size} bytes is too large for a ziplite model")
    content = model_path.read_bytes()
    if hashlib.sha256(content).hexdigest() != sidecar["sha256"]:
        raise ModelError(f"{model_path}: sha256 does not match {sidecar_path(model_path).name}; "
                         "the file is damaged or was replaced: copy it again, or rerun make convert")
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise ModelError(f"{model_path}: not a TFLite flatbuffer (no TFL3 identifier)")
    return content


class Classifier:
    """A digit classifier over one .tflite model: float (N, 784) inputs in, (N, 10) probabilities out."""

    def __init__(self, model_path: str | os.PathLike = DEFAULT_MODEL, threads: int | None = None,
                 runtime: str | None = None):
        self.path = Path(model_path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such model file (make convert writes it; --model chooses another)")
        self.sidecar = read_sidecar(self.path)
        content = read_model_bytes(self.path, self.sidecar)
        name = available_runtime(runtime)
        self._refuse_if_unsupported(name)
        problem = probe(content, self.sidecar["sha256"], name, runtime_version(name))
        if problem:
            raise ModelError(f"{self.path}: {problem}; copy it again, or rerun make convert")
        self.threads = threads or default_threads()
        try:
            self._interpreter, self.runtime = make_interpreter(content, self.threads, name)
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"{self.path}: {name} cannot load it ({last_line(error)})") from None
        self.runtime_version = runtime_version(self.runtime)
        self.labels = self.sidecar.get("labels") or INPUT_CONTRACT["labels"]
        self._check_signature()
        self._batch = 0

    def _refuse_if_unsupported(self, runtime: str) -> None:
        verdict = (self.sidecar.get("runtimes") or {}).get(runtime)
        if isinstance(verdict, dict) and verdict.get("loads") is False:
            others = [name for name, v in self.sidecar["runtimes"].items() if isinstance(v, dict) and v.get("loads")]
            hint = f"install {others[0]} ({INSTALL_HINT.get(others[0], others[0])}) and pass --runtime {others[0]}" if others else "use another model"
            raise ModelError(f"{self.path}: {runtime} {runtime_version(runtime)} cannot run this model "
                             f"({verdict.get('reason', 'see its JSON')}); {hint}")

    def _check_signature(self) -> None:
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{self.path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
        in_shape, out_shape = list(inputs[0]["shape"]), list(outputs[0]["shape"])
        if len(in_shape) != 2 or in_shape[1] != INPUT_SIZE:
            raise ModelError(f"{self.path}: input shape {in_shape}, this recogniser feeds [batch, {INPUT_SIZE}]")
        if len(out_shape) != 2 or out_shape[1] != len(self.labels) or len(self.labels) != 10:
            raise ModelError(f"{self.path}: output shape {out_shape}, expected [batch, 10] digit scores")
        self._input_index, self._output_index = inputs[0]["index"], outputs[0]["index"]
        self.input_quant = _quantisation(inputs[0])
        self.output_quant = _quantisation(outputs[0])

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for float32 inputs (N, 784) in [0, 1]."""
        batch = np.asarray(batch, dtype=np.float32).reshape(-1, INPUT_SIZE)
        if len(batch) == 0:
            return np.zeros((0, 10), np.float32)
        self._resize(len(batch))
        self._interpreter.set_tensor(self._input_index, _quantise(batch, self.input_quant))
        self._interpreter.invoke()
        return _dequantise(self._interpreter.get_tensor(self._output_index), self.output_quant)

    def _resize(self, batch_size: int) -> None:
        if batch_size != self._batch:
            self._interpreter.resize_tensor_input(self._input_index, [batch_size, INPUT_SIZE])
            with native_stderr_hidden():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
                self._interpreter.allocate_tensors()
            self._batch = batch_size


def _quantisation(detail: dict) -> Quantisation:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return Quantisation(np.dtype(detail["dtype"]), float(scale), int(zero_point))


# OpenCV's saturating conversion: scale, shift, round and clip in one pass, three times faster
# here than the same steps in numpy. Identical on the 10,000 MNIST test digits; on random floats
# about 1 value in 100,000 lands one step apart, where the two round a tie at different precision.
_CV_DEPTHS = {np.dtype(np.int8): cv.CV_8S, np.dtype(np.uint8): cv.CV_8U, np.dtype(np.int16): cv.CV_16S}


def _quantise(batch: np.ndarray, quant: Quantisation) -> np.ndarray:
    if not quant.is_quantised:
        return batch.astype(quant.dtype)
    if quant.dtype in _CV_DEPTHS:  # `batch` is (N, 784) with N >= 1 here: OpenCV would return None for an empty one
        return cv.addWeighted(batch, 1.0 / quant.scale, batch, 0.0, quant.zero_point, dtype=_CV_DEPTHS[quant.dtype])
    info = np.iinfo(quant.dtype)
    return np.clip(np.round(batch / quant.scale + quant.zero_point), info.min, info.max).astype(quant.dtype)


def _dequantise(output: np.ndarray, quant: Quantisation) -> np.ndarray:
    if not quant.is_quantised:
        return output.astype(np.float32)
    return ((output.astype(np.float32) - quant.zero_point) * quant.scale).astype(np.float32)


