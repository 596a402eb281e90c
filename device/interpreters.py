"""The TFLite runtimes: which one is installed, and an interpreter built in it.

tflite-runtime is the Raspberry Pi's interpreter (Linux, Python <= 3.11); ai-edge-litert is its
successor everywhere else; TensorFlow's own interpreter is a last resort on a development machine.
Both the classifier (device/runtime.py) and the probe's child process (device/probe.py) build
their interpreters here.
"""

from __future__ import annotations

import importlib
import importlib.metadata

RUNTIMES = ("tflite_runtime", "ai_edge_litert", "tensorflow")
_MODULES = {
    "tflite_runtime": "tflite_runtime.interpreter",
    "ai_edge_litert": "ai_edge_litert.interpreter",
    "tensorflow": "tensorflow.lite",
}
_DISTRIBUTIONS = {"tflite_runtime": "tflite-runtime", "ai_edge_litert": "ai-edge-litert", "tensorflow": "tensorflow"}
INSTALL_HINT = {
    "tflite_runtime": "pip install tflite-runtime==2.14.0",
    "ai_edge_litert": "pip install ai-edge-litert==2.3.0",
    "tensorflow": "pip install tensorflow==2.21.0",
}


class ModelError(Exception):
    """The model or its runtime cannot be used. The message is one line naming the file and what to do."""


def available_runtime(preferred: str | None = None) -> str:
    """The first importable runtime, or `preferred` if given and importable.

    Raises:
        ModelError: when the forced runtime, or every runtime, is missing.
    """
    for name in [preferred] if preferred else RUNTIMES:
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


# More threads than any Pi or laptop has cores only adds waiting (and each is an OS thread).
MAX_THREADS = 64


def default_threads() -> int:
    """One: a device is rarely idle (camera, GUI, other services), and a busy core stalls a second thread.

    On 2 cores with one kept busy, tflite-runtime's int8 5-digit invoke took 10.5 ms with 2 threads
    against 0.73 ms with 1 (400 canvases: 4.9-5.9 s against 0.6-1.4 s); idle, 2 threads saved
    0.28 ms (0.41 against 0.69 ms). LiteRT's int8 invoke is 0.09-0.2 ms either way. `make bench`
    measures both, idle and busy (device/benchmark.py); --threads chooses another count.
    """
    return 1


def make_interpreter(model_content: bytes, threads: int, runtime: str | None = None):
    """Build an interpreter for `model_content` in the chosen (or first available) runtime.

    Returns:
        (interpreter, runtime name). Tensors are not yet allocated.
    """
    if not 1 <= threads <= MAX_THREADS:
        raise ModelError(f"{threads} interpreter threads: choose 1 to {MAX_THREADS}")
    name = available_runtime(runtime)
    module = importlib.import_module(_MODULES[name])
    interpreter = module.Interpreter(model_content=model_content, num_threads=threads)
    return interpreter, name


def last_line(error: BaseException) -> str:
    """The last line of an error's message (runtimes put the cause there), or its type's name."""
    text = str(error).strip()
    return text.splitlines()[-1] if text else type(error).__name__
