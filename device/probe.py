"""Load and run a model in a child process first: a malformed flatbuffer can crash the interpreter outright.

The sha256 check already refuses any file that is not the one convert/ verified; the probe covers
the case where the JSON itself was rewritten to match damaged or foreign bytes. The child checks
the tensors against the contract before anything is allocated (an impossible dimension is refused
from the flatbuffer, not after gigabytes), then runs the model for real at batch 1 and at batch 5
on known digits: its output must be finite probabilities of the contract's shape, and it must read
most of those digits right. A model that passed once is remembered by its hash, runtime and runtime
version, so the probe costs one start-up per model.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from device.base.children import die_with_parent

# The child's start-up and load; each of its invokes has the classifier's own limit (device/watchdog.py).
PROBE_TIMEOUT_S = 30
# The numerals of the sample canvases (device/samples/*.png) and their digits: the known answers.
# Regenerate with `python -m tests.device.known_digits` after a change to the numeral pipeline.
KNOWN_DIGITS = Path(__file__).resolve().parent / "samples" / "known_digits.npz"
# At most five of the twenty known digits share a class, so a model that answers one class for
# every input (softmax beta zeroed, an edited input scale) reads at most 5; the shipped model reads
# all 20. Eight leaves room for a weak but honest model and refuses every degenerate one.
MIN_KNOWN_RIGHT = 8
PROBE_BATCHES = (1, 5)
# No tensor of a 28x28 digit model is near this at batch 5 (the MLP's largest holds 5 x 512 values);
# a flatbuffer that declares more is refused before the interpreter allocates it.
MAX_TENSOR_ELEMENTS = 1 << 24
# A quantised output sums to 1 within ten half-steps of 1/256; float outputs sum to 1 much closer.
SUM_TOLERANCE = 0.05


def cache_marker(sha256: str, runtime: str, version: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ziplite" / "probed" / f"{sha256}-{runtime}-{version}"


def probe(content: bytes, sha256: str, runtime: str, version: str, tensors: dict | None = None) -> str | None:
    """None if `content` loads and reads known digits in `runtime`, in a child process; else why not.

    `tensors` is what the model's JSON records of its input and output: the child compares them with
    the model's own before it runs anything, so a model its JSON does not describe is refused as such.
    """
    marker = cache_marker(sha256, runtime, version)
    try:
        if marker.exists():
            return None
    except OSError:  # a cache folder this user may not enter (PermissionError): probe as if it were empty
        pass
    try:
        command = [sys.executable, "-m", "device.probe", runtime] + ([json.dumps(tensors)] if tensors else [])
        done = subprocess.run(
            command, input=content, capture_output=True, timeout=PROBE_TIMEOUT_S, preexec_fn=die_with_parent()
        )
    except subprocess.TimeoutExpired:
        return f"{runtime} hangs loading it"
    except OSError as error:  # this Python cannot start a child of itself (a sandbox, a process limit)
        return f"cannot start the probe's process ({error.strerror or error})"
    if done.returncode < 0:
        return f"{runtime} crashes loading it ({signal.Signals(-done.returncode).name}): the file is damaged"
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return f"{runtime} cannot load it ({lines[-1].removeprefix('error: ') if lines else 'no message'})"
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # an unwritable cache only means probing again next time
    return None


class ProbeFailure(Exception):
    """What the child found wrong, as the parent's one line will say it."""


def _child(runtime: str, recorded: dict | None) -> None:
    import numpy as np

    from device.interpreters import make_interpreter
    from device.signature import read_signature
    from device.watchdog import Watchdog

    interpreter, _ = make_interpreter(sys.stdin.buffer.read(), 1, runtime)
    signature = read_signature(interpreter, recorded)  # tensors first: nothing is allocated yet
    _refuse_huge_tensors(interpreter, max(PROBE_BATCHES))
    with np.load(KNOWN_DIGITS, allow_pickle=False) as known:
        images, digits = known["images"], known["digits"]
    inputs = (images.astype(np.float32) / 255).reshape(-1, *signature.input_shape)
    watchdog = Watchdog("the probe")
    right = 0
    for batch in PROBE_BATCHES:
        interpreter.resize_tensor_input(signature.input_index, [batch, *signature.input_shape])
        interpreter.allocate_tensors()
        for start in range(0, len(inputs) - batch + 1, batch) if batch > 1 else [0]:
            scores = _invoke(interpreter, signature, inputs[start : start + batch], watchdog)
            if batch > 1:
                right += int(np.sum(scores.argmax(1) == digits[start : start + batch]))
    if right < MIN_KNOWN_RIGHT:
        raise ProbeFailure(
            f"it reads only {right} of {len(digits)} known digits right (the sample canvases' "
            "numerals): its weights, quantisation or softmax do not match its contract"
        )


def _invoke(interpreter, signature, batch, watchdog):
    import numpy as np

    from device.signature import dequantise, quantise

    interpreter.set_tensor(signature.input_index, quantise(batch, signature.input_quant))
    with watchdog.limit(len(batch)):
        interpreter.invoke()
    scores = dequantise(interpreter.get_tensor(signature.output_index), signature.output_quant)
    if scores.shape != (len(batch), 10):
        raise ProbeFailure(f"its output at batch {len(batch)} has shape {list(scores.shape)}, not [{len(batch)}, 10]")
    if not np.all(np.isfinite(scores)):
        raise ProbeFailure("its output is not finite (NaN or infinity) on a known digit")
    sums = scores.sum(axis=1)
    if scores.min() < -SUM_TOLERANCE or scores.max() > 1 + SUM_TOLERANCE or np.any(np.abs(sums - 1) > SUM_TOLERANCE):
        raise ProbeFailure(
            f"its scores are not probabilities (from {scores.min():.3g} to {scores.max():.3g}, rows "
            f"summing to {sums.min():.3g}..{sums.max():.3g}): the model must end in softmax"
        )
    return scores


def _refuse_huge_tensors(interpreter, batch: int) -> None:
    for tensor in interpreter.get_tensor_details():
        elements = batch  # an upper bound: a weight's first axis is not the batch, but none is near the cap
        for size in tensor["shape"]:
            elements *= max(int(size), 1)
        if elements > MAX_TENSOR_ELEMENTS:
            raise ProbeFailure(
                f"tensor {tensor['name']!r} would hold {elements:,} values at batch {batch} "
                f"(shape {[int(v) for v in tensor['shape']]}): not a digit model"
            )


if __name__ == "__main__":
    from device.interpreters import last_line
    from device.signature import SignatureError

    try:
        _child(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else None)
    except (ProbeFailure, SignatureError) as failure:
        print(f"error: {failure}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # any refusal by the runtime is a "cannot load", reported by the parent
        print(f"{type(error).__name__}: {last_line(error)}", file=sys.stderr)
        sys.exit(1)
