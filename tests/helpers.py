"""Helpers shared by both suites: where things are, and CLIs run as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEVICE_PYTHON = ROOT / ".venv-device" / "bin" / "python"
SHIPPED_MODEL = ROOT / "models" / "dmlp_int8.tflite"


def run(
    args: list[str],
    *,
    python: str | os.PathLike = sys.executable,
    timeout: float = 300,
    env: dict | None = None,
    cwd: Path = ROOT,
) -> subprocess.CompletedProcess:
    """Run `python -m ...args` as a real subprocess and return what it did."""
    return subprocess.run(
        [str(python), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def one_clean_line(stderr: str) -> str:
    """The error output must be one line, and no traceback."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]
