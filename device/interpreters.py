"""The TFLite runtimes: which one is installed, and an interpreter built in it.

tflite-runtime is the Raspberry Pi's interpreter (Linux, Python <= 3.11); ai-edge-litert is its
successor everywhere else; TensorFlow's own interpreter is a last resort on a development machine.
Both the classifier (device/runtime.py) and the probe's child process (device/probe.py) build
their interpreters here.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os

RUNTIMES = ("tflite_runtime", "ai_edge_litert", "tensorflow")
_MODULES = {"tflite_runtime": "tflite_runtime.interpreter", "ai_edge_litert": "ai_edge_litert.interpreter",
            "tensorflow": "tensorflow.lite"}
_DISTRIBUTIONS = {"tflite_runtime": "tflite-runtime", "ai_edge_litert": "ai-edge-litert", "tensorflow": "tensorflow"}
INSTALL_HINT = {"tflite_runtime": "pip install tflite-runtime==2.14.0", "ai_edge_litert": "pip install ai-edge-litert==2.3.0",
                "tensorflow": "pip install tensorflow==2.21.0"}


class ModelError(Exception):
    """The model or its runtime cannot be used. The message is one line naming the file and what to do."""


def available_runtime(preferred: str | None = None) -> str:
    """The first importable runtime, or `preferred` if given and importable.

    Raises:
        ModelError: when the forced runtime, or every runtime, is missing.
    """
    for name in ([preferred] if preferred else RUNTIMES):
        try:
            importlib.import_module(_MODULES[name])
            return name
        except ImportError:
            continue
    if preferred:
        raise ModelError(f"runtime {preferred} is not installed: {INSTALL_HINT[preferred]}")
    raise ModelError("no TFLite runtime is installed: pip install -r device/requirements.txt")


def runtime_version(name: str) -> str:
    try:
        return importlib.metadata.version(_DISTRIBUTIONS[name])
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def default_threads() -> int:
    """All cores up to four: two halve tflite-runtime's int8 invoke here; more only add waiting."""
    return max(1, min(4, os.cpu_count() or 1))


def make_interpreter(model_content: bytes, threads: int, runtime: str | None = None):
    """Build an interpreter for `model_content` in the chosen (or first available) runtime.

    Returns:
        (interpreter, runtime name). Tensors are not yet allocated.
    """
    name = available_runtime(runtime)
    module = importlib.import_module(_MODULES[name])
    interpreter = module.Interpreter(model_content=model_content, num_threads=threads)
    return interpreter, name


def last_line(error: BaseException) -> str:
    """The last line of an error's message (runtimes put the cause there), or its type's name."""
    text = str(error).strip()
    return text.splitlines()[-1] if text else type(error).__name__
