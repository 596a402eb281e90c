"""The TFLite runtime, wrapped once: choose an interpreter, check the model, run a batch.

tflite-runtime is the Raspberry Pi's interpreter (Linux, Python <= 3.11); ai-edge-litert is its
successor everywhere else; TensorFlow's own interpreter is a last resort on a development machine.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np

from device.base.contract import INPUT_CONTRACT
from device.base.files import UnreadableFile, installing_path, read_regular_file, regular_file_problem
from device.base.native import native_stderr_hidden
from device.interpreters import (
    INSTALL_HINT,
    ModelError,
    available_runtime,
    default_threads,
    last_line,
    make_interpreter,
    runtime_version,
)
from device.probe import probe
from device.sidecar import read_sidecar as read_described
from device.sidecar import sidecar_path
from device.signature import SignatureError, read_signature
from device.signature import dequantise as _dequantise
from device.signature import quantise as _quantise
from device.watchdog import Watchdog

# tflite-runtime's aarch64 build is linked with -ffast-math and turns on flush-to-zero when it
# loads, which makes numpy warn about float32 subnormals on every Pi command. Digit scores never
# come near 1e-38, so the warning says nothing about our results.
warnings.filterwarnings("ignore", message="The value of the smallest subnormal")

# The CNN reads the benchmark better than the deep MLP (writer styles most of all) and invokes in
# less than half its time; `--model models/dmlp_int8.tflite` picks the chapter's MLP (docs/models.md).
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "cnn_int8.tflite"
# A deployed MLP is a few MB; anything far bigger is not ours and is refused before it is read.
MAX_MODEL_BYTES = 64 * 1024 * 1024


def read_sidecar(model_path: Path) -> dict:
    """The model's JSON (read and validated against its schema in device/sidecar.py), checked for the
    contract this recogniser feeds."""
    path = sidecar_path(model_path)
    sidecar = read_described(model_path)
    contract = sidecar["input"]
    # The shape is one of the two the schema allows; _check_signature holds the model to it.
    for key in ("range", "ink"):
        if contract.get(key) != INPUT_CONTRACT[key]:
            raise ModelError(
                f"{path}: input {key} is {contract.get(key)!r}, this recogniser feeds {INPUT_CONTRACT[key]!r}"
            )
    return sidecar


class HashMismatch(ModelError):
    """The model's bytes are not the ones its JSON names."""


def read_pair(model_path: Path) -> tuple[dict, bytes]:
    """The model's JSON and the bytes it names, read as one pair.

    A convert that installs a new pair between our two reads makes them disagree once; read both
    again before calling the pair mismatched.
    """
    try:
        sidecar = read_sidecar(model_path)
        return sidecar, read_model_bytes(model_path, sidecar)
    except HashMismatch:
        sidecar = read_sidecar(model_path)
        return sidecar, read_model_bytes(model_path, sidecar)


def _read_capped(path: Path) -> bytes:
    try:
        return read_regular_file(path, MAX_MODEL_BYTES)
    except UnreadableFile as error:
        raise ModelError(f"{path}: {error}; not a ziplite model") from None


def read_model_bytes(model_path: Path, sidecar: dict) -> bytes:
    """The model's bytes, once they match the JSON's sha256 and look like a TFLite flatbuffer.

    The interpreter can crash the process on a malformed flatbuffer, so nothing reaches it
    unless it is byte-for-byte the file that convert/ verified.
    """
    content = _read_capped(model_path)
    if hashlib.sha256(content).hexdigest() != sidecar["sha256"]:
        # convert/ installs a pair as: the new model under its hash's name, then the JSON (the commit
        # point), then the model over the old one. Between the last two, the model that matches the
        # JSON is the one under its hash's name (convert/cli.py).
        installing = installing_path(model_path, sidecar["sha256"])
        content = _read_capped(installing) if installing.is_file() else b""
    if hashlib.sha256(content).hexdigest() != sidecar["sha256"]:
        raise HashMismatch(
            f"{model_path}: sha256 does not match {sidecar_path(model_path).name}; "
            "the file is damaged or was replaced: copy it again, or rerun make convert"
        )
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise ModelError(f"{model_path}: not a TFLite flatbuffer (no TFL3 identifier)")
    return content


class Classifier:
    """A digit classifier over one .tflite model: float 28x28 numerals in, (N, 10) probabilities out.

    The model's input shape (flat 784 for an MLP, 28x28x1 for a CNN) comes from its JSON contract.
    """

    def __init__(
        self, model_path: str | os.PathLike = DEFAULT_MODEL, threads: int | None = None, runtime: str | None = None
    ):
        self.path = Path(model_path)
        problem = regular_file_problem(self.path)  # a directory, a FIFO, /dev/null, a link loop, no permission
        if problem:
            raise ModelError(f"{self.path}: {problem}; --model names another model (make convert writes the default)")
        self.sidecar, content = read_pair(self.path)
        name = available_runtime(runtime)
        self._refuse_if_unsupported(name)
        problem = probe(content, self.sidecar["sha256"], name, runtime_version(name), self.sidecar["tensors"])
        if problem:
            raise ModelError(f"{self.path}: {problem}; copy it again, or rerun make convert")
        self.threads = threads or default_threads()
        try:
            self._interpreter, self.runtime = make_interpreter(content, self.threads, name)
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"{self.path}: {name} cannot load it ({last_line(error)})") from None
        self.runtime_version = runtime_version(self.runtime)
        self.labels = self.sidecar.get("labels") or INPUT_CONTRACT["labels"]
        self.input_shape = tuple(self.sidecar["input"]["shape"])  # without the batch axis
        self._check_signature()
        self._batch = 0
        self._watchdog = Watchdog(str(self.path))

    def _refuse_if_unsupported(self, runtime: str) -> None:
        verdict = (self.sidecar.get("runtimes") or {}).get(runtime)
        if isinstance(verdict, dict) and verdict.get("loads") is False:
            others = [name for name, v in self.sidecar["runtimes"].items() if isinstance(v, dict) and v.get("loads")]
            hint = (
                f"install {others[0]} ({INSTALL_HINT.get(others[0], others[0])}) and pass --runtime {others[0]}"
                if others
                else "use another model"
            )
            raise ModelError(
                f"{self.path}: {runtime} {runtime_version(runtime)} cannot run this model "
                f"({verdict.get('reason', 'see its JSON')}); {hint}"
            )

    def _check_signature(self) -> None:
        try:
            signature = read_signature(self._interpreter, self.sidecar["tensors"])
        except SignatureError as error:
            raise ModelError(f"{self.path}: {error}") from None
        except (ValueError, RuntimeError, IndexError) as error:  # a graph too damaged to describe its tensors
            raise ModelError(f"{self.path}: {self.runtime} cannot read its tensors ({last_line(error)})") from None
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{self.path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
        in_shape, out_shape = list(inputs[0]["shape"]), list(outputs[0]["shape"])
        if signature.input_shape != self.input_shape:
            raise ModelError(
                f"{self.path}: input shape {in_shape}, but its JSON contract says "
                f"[batch, {', '.join(map(str, self.input_shape))}]"
            )
        if len(out_shape) != 2 or out_shape[1] != len(self.labels) or len(self.labels) != 10:
            raise ModelError(f"{self.path}: output shape {out_shape}, expected [batch, 10] digit scores")
        self._input_index, self._output_index = inputs[0]["index"], outputs[0]["index"]
        self.input_quant, self.output_quant = signature.input_quant, signature.output_quant

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for float32 numerals in [0, 1]: (N, 784), (N, 28, 28) or (N, 28, 28, 1)."""
        # Any of the three is the same pixels in the same order, viewed in the model's own shape.
        batch = np.asarray(batch, dtype=np.float32).reshape(-1, *self.input_shape)
        if len(batch) == 0:
            return np.zeros((0, 10), np.float32)
        self._resize(len(batch))
        self._interpreter.set_tensor(self._input_index, _quantise(batch, self.input_quant))
        with self._watchdog.limit(len(batch)):
            self._interpreter.invoke()
        return _dequantise(self._interpreter.get_tensor(self._output_index), self.output_quant)

    def _resize(self, batch_size: int) -> None:
        if batch_size != self._batch:
            self._interpreter.resize_tensor_input(self._input_index, [batch_size, *self.input_shape])
            with native_stderr_hidden():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
                self._interpreter.allocate_tensors()
            self._batch = batch_size
