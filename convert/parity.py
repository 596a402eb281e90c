"""Parity: each .tflite against the Keras model on all MNIST test images, in each device runtime.

LiteRT runs in this process (it is installed beside TensorFlow). tflite-runtime cannot be: it
lives in .venv-device, the environment with no TensorFlow, so it is run there as a subprocess of
`python -m device evaluate`, exactly the command a Pi would run.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from convert.modes import Mode
from device.base.children import die_with_parent

# What device/ says when a runtime refuses a model (as opposed to any other failure).
LOAD_REFUSALS = ("cannot load it", "crashes loading it")


class ParityError(Exception):
    """A parity run failed for a reason other than the runtime refusing the model."""


@dataclass(frozen=True)
class Thresholds:
    """What each mode must reach against Keras, in every runtime that loads it."""

    float32_agreement: float = 1.0  # top-1 agreement, fraction
    float32_max_dp: float = 1e-5  # max |delta probability|
    float16_agreement: float = 0.999
    quantised_max_drop: float = 0.3  # |delta accuracy| in percentage points, dynamic and int8
    quantised_agreement: float = 0.995


@dataclass(frozen=True)
class RuntimeParity:
    runtime: str
    version: str
    loads: bool
    reason: str | None = None
    accuracy: float | None = None
    delta_pp: float | None = None
    agreement: float | None = None
    max_dp: float | None = None
    invoke_5_ms: float | None = None


def compare(
    runtime: str, version: str, reference: np.ndarray, labels: np.ndarray, probs: np.ndarray, invoke_ms: float
) -> RuntimeParity:
    reference_accuracy = float(np.mean(reference.argmax(1) == labels))
    accuracy = float(np.mean(probs.argmax(1) == labels))
    return RuntimeParity(
        runtime=runtime,
        version=version,
        loads=True,
        accuracy=round(accuracy, 6),
        delta_pp=round((accuracy - reference_accuracy) * 100, 4),
        agreement=round(float(np.mean(probs.argmax(1) == reference.argmax(1))), 6),
        max_dp=float(np.max(np.abs(probs - reference))),
        invoke_5_ms=round(invoke_ms, 4),
    )


def run_litert(model_path: Path, data: Path, reference: np.ndarray, labels: np.ndarray) -> RuntimeParity:
    """Parity in ai-edge-litert, in this process."""
    # The device's runtime and OpenCV load here, not with this module: `python -m convert --help` stays quick.
    from device.evaluate import evaluate_mnist
    from device.interpreters import ModelError, runtime_version
    from device.runtime import Classifier

    with tempfile.TemporaryDirectory() as folder:
        probs_path = Path(folder) / "probs.npy"
        try:
            report = evaluate_mnist(Classifier(model_path, runtime="ai_edge_litert"), data, save_probs=probs_path)
        except ModelError as error:
            return _refused("ai_edge_litert", runtime_version("ai_edge_litert"), str(error))
        return compare(
            "ai_edge_litert", report["runtime_version"], reference, labels, np.load(probs_path), report["invoke_5_ms"]
        )


def run_device_runtime(
    model_path: Path, data: Path, reference: np.ndarray, labels: np.ndarray, device_python: Path
) -> RuntimeParity:
    """Parity in tflite-runtime, by running `python -m device evaluate` in .venv-device."""
    with tempfile.TemporaryDirectory() as folder:
        probs_path = Path(folder) / "probs.npy"
        command = [
            str(device_python),
            "-m",
            "device",
            "evaluate",
            "--model",
            str(model_path.resolve()),
            "--data",
            str(data.resolve()),
            "--runtime",
            "tflite_runtime",
            "--json",
            "--save-probs",
            str(probs_path),
        ]
        try:
            # die_with_parent: a killed convert takes its evaluation with it.
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=600,
                cwd=Path(__file__).resolve().parent.parent,
                preexec_fn=die_with_parent(),
            )
        except subprocess.TimeoutExpired:
            raise ParityError(f"{model_path}: tflite-runtime took over 600 s to evaluate it") from None
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1].removeprefix("error: ")
            return _refused("tflite_runtime", _installed_version(device_python, "tflite-runtime"), reason)
        report = json.loads(done.stdout.strip().splitlines()[-1])
        return compare(
            "tflite_runtime", report["runtime_version"], reference, labels, np.load(probs_path), report["invoke_5_ms"]
        )


def _installed_version(python: Path, distribution: str) -> str:
    """The version of `distribution` in the environment of `python`, or 'unknown'."""
    done = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({distribution!r}))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def _refused(runtime: str, version: str, reason: str) -> RuntimeParity:
    """A runtime that refuses the model is recorded as such; any other failure stops the conversion."""
    if not any(refusal in reason for refusal in LOAD_REFUSALS):
        raise ParityError(f"{runtime} parity check failed: {reason}")
    return RuntimeParity(runtime, version, False, reason)


def failures(mode: Mode, parity: RuntimeParity, thresholds: Thresholds) -> list[str]:
    """One line per threshold this mode misses in this runtime; [] when it passes."""
    if not parity.loads:
        return []  # recorded in the model's JSON; device/ refuses it there with a clear line
    where = f"{mode.value} on {parity.runtime}"
    checks = []
    if mode is Mode.FLOAT32:
        checks += [
            ("agreement", parity.agreement, ">=", thresholds.float32_agreement, "--float32-agreement"),
            ("max |dp|", parity.max_dp, "<=", thresholds.float32_max_dp, "--float32-max-dp"),
        ]
    elif mode is Mode.FLOAT16:
        checks += [("agreement", parity.agreement, ">=", thresholds.float16_agreement, "--float16-agreement")]
    else:
        checks += [
            ("|delta accuracy| (pp)", abs(parity.delta_pp), "<=", thresholds.quantised_max_drop, "--max-drop-pp"),
            ("agreement", parity.agreement, ">=", thresholds.quantised_agreement, "--quantised-agreement"),
        ]
    missed = []
    for name, value, relation, limit, flag in checks:
        ok = value >= limit if relation == ">=" else value <= limit
        if not ok:
            missed.append(f"{where}: {name} {value:.6g} misses the threshold {relation} {limit:g} ({flag})")
    return missed


def as_dict(parity: RuntimeParity) -> dict:
    return {key: value for key, value in asdict(parity).items() if value is not None}
