"""`python -m device bench`: latency, start-up and memory of the recogniser.

The book's Keras path is timed beside it by `python -m bench.book_path` in .venv, where
TensorFlow is installed: device/ never imports it.

Timings are measured here and printed, never asserted in tests: they depend on the machine.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from device.base.contract import to_model_input
from device.base.files import display_path
from device.evaluate import median_invoke_ms
from device.images import read_image
from device.options import load_classifier
from device.recognize import recognize

LOAD_REPEATS = 300  # per thread count and load: a tenth of a second each


@dataclass(frozen=True)
class BenchRun:
    """The preprocessing and invoke time of each timed recognition, in ms, and the numerals
    (model inputs, None where blank) of each sample page, from the warm-up pass."""

    preprocess_ms: np.ndarray
    invoke_ms: np.ndarray
    sample_numerals: list[list[np.ndarray | None]]

    @property
    def total_ms(self) -> np.ndarray:
        return self.preprocess_ms + self.invoke_ms


def run_bench(classifier_args, samples: Path, repeats: int) -> BenchRun:
    """Time `repeats` recognitions of the sample canvases and print the table."""
    pages = [read_image(path) for path in sorted(samples.glob("*.png"))]
    if not pages:
        raise click.ClickException(f"{samples}: no sample canvases (*.png) to time")
    started = time.perf_counter()
    classifier = load_classifier(classifier_args)
    load_ms = (time.perf_counter() - started) * 1e3
    warm_up = [recognize(page, classifier) for page in pages]  # first calls allocate, load code and fill caches
    timings = np.empty((repeats, 2))
    for i in range(repeats):
        # Only the timings are kept, as a device keeps nothing of a page it has read: holding
        # every Result grew the heap each page, and its page faults added 0.03-0.05 ms to each.
        result = recognize(pages[i % len(pages)], classifier)
        timings[i] = result.preprocess_ms, result.invoke_ms
    run = BenchRun(timings[:, 0], timings[:, 1], [result.numerals for result in warm_up])
    click.echo(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{classifier.runtime} {classifier.runtime_version} with {classifier.threads} "
        f"thread{'s' if classifier.threads > 1 else ''}, "
        f"model {display_path(classifier.path)} ({classifier.path.stat().st_size / 1e6:.2f} MB)"
    )
    click.echo(f"{'5-digit recognition':<32} {'p50 ms':>8} {'p95 ms':>8}")
    for label, values in (("preprocess", run.preprocess_ms), ("invoke", run.invoke_ms), ("total", run.total_ms)):
        click.echo(f"  {label:<30} {np.percentile(values, 50):>8.3f} {np.percentile(values, 95):>8.3f}")
    click.echo(f"{'model load (hash check + interpreter)':<40} {load_ms:>8.1f} ms")
    first_result_s, peak_mb = _cold_start(classifier_args, samples)
    click.echo(f"{'process start to first result':<40} {first_result_s * 1e3:>8.0f} ms")
    click.echo(f"{'peak RSS of that process':<40} {peak_mb:>8.1f} MB")
    _threads_idle_and_busy(classifier_args, run.sample_numerals[0])
    return run


def _threads_idle_and_busy(classifier_args, numerals: list[np.ndarray | None]) -> None:
    """The 5-digit invoke with 1 and 2 interpreter threads, idle and with one core kept busy.

    A device is rarely idle (camera, GUI, other services): this is the measurement behind the default
    of one thread (device/interpreters.py). Each pair is timed at the same moment, so a shared machine's
    load moves both alike.
    """
    model_path, _, runtime = classifier_args
    batch = to_model_input(np.array([n for n in numerals if n is not None]))
    counts = sorted({1, min(2, os.cpu_count() or 1)})
    classifiers = {threads: load_classifier((model_path, threads, runtime)) for threads in counts}
    idle = {threads: median_invoke_ms(classifier, batch, LOAD_REPEATS) for threads, classifier in classifiers.items()}
    # One process spinning on a core: the cheapest stand-in for a camera thread or another service.
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        busy = {
            threads: median_invoke_ms(classifier, batch, LOAD_REPEATS) for threads, classifier in classifiers.items()
        }
    finally:
        spinner.kill()
        spinner.wait()
    click.echo(f"{'5-digit invoke p50, by threads':<32} {'idle ms':>8} {'one core busy ms':>17}")
    for threads in counts:
        label = f"{threads} thread{'s' if threads > 1 else ''}"
        click.echo(f"  {label:<30} {idle[threads]:>8.3f} {busy[threads]:>17.3f}")


def _cold_start(classifier_args, samples: Path) -> tuple[float, float]:
    """Wall time and peak RSS of a fresh `python -m device recognize` on one sample."""
    model_path, threads, runtime = classifier_args
    command = (
        [
            sys.executable,
            "-m",
            "device",
            "recognize",
            str(sorted(samples.glob("*.png"))[0]),
            "--json",
            "--model",
            str(model_path),
        ]
        + (["--runtime", runtime] if runtime else [])
        + (["--threads", str(threads)] if threads else [])
    )
    # An empty cache: a first start on a device includes the model's one-time probe (device/probe.py).
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            cwd=Path(__file__).resolve().parent.parent,
            env={**os.environ, "XDG_CACHE_HOME": cache},
        )
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise click.ClickException(f"cold start failed: {errors.read().decode(errors='replace').strip()[-300:]}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports KiB
