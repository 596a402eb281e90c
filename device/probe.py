"""Load a model in a child process first: a malformed flatbuffer can crash the interpreter outright.

The sha256 check already refuses any file that is not the one convert/ verified; the probe covers
the case where the JSON itself was rewritten to match damaged bytes. A model that passed once is
remembered by its hash, runtime and runtime version, so the probe costs one start-up per model.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

PROBE_TIMEOUT_S = 60


def cache_marker(sha256: str, runtime: str, version: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ziplite" / "probed" / f"{sha256}-{runtime}-{version}"


def probe(content: bytes, sha256: str, runtime: str, version: str) -> str | None:
    """None if `content` loads, allocates and runs in `runtime` in a child process; else why not."""
    marker = cache_marker(sha256, runtime, version)
    if marker.exists():
        return None
    try:
        done = subprocess.run([sys.executable, "-m", "device.probe", runtime], input=content,
                              capture_output=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"{runtime} hangs loading it"
    if done.returncode < 0:
        return f"{runtime} crashes loading it ({signal.Signals(-done.returncode).name}): the file is damaged"
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return f"{runtime} cannot load it ({lines[-1] if lines else 'no message'})"
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # an unwritable cache only means probing again next time
    return None


def _child(runtime: str) -> None:
    from device.interpreters import make_interpreter

    interpreter, _ = make_interpreter(sys.stdin.buffer.read(), 1, runtime)
    interpreter.allocate_tensors()
    interpreter.invoke()


if __name__ == "__main__":
    from device.interpreters import last_line

    try:
        _child(sys.argv[1])
    except Exception as error:  # any refusal by the runtime is a "cannot load", reported by the parent
        print(f"{type(error).__name__}: {last_line(error)}", file=sys.stderr)
        sys.exit(1)
