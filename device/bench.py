"""`python -m device bench`: latency, start-up and memory of the recogniser, and the book's Keras path beside it.

Timings are measured here and printed, never asserted in tests: they depend on the machine.
"""
from __future__ import annotations

import importlib.util
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from device.cli import load_classifier
from device.contract import to_model_input
from device.files import display_path
from device.images import read_image
from device.recognise import recognise


def run_bench(classifier_args, samples: Path, repeats: int, keras_model: Path) -> None:
    pages = [read_image(path) for path in sorted(samples.glob("*.png"))]
    if not pages:
        raise click.ClickException(f"{samples}: no sample canvases (*.png) to time")
    started = time.perf_counter()
    classifier = load_classifier(classifier_args)
    load_ms = (time.perf_counter() - started) * 1e3
    results = [recognise(pages[i % len(pages)], classifier) for i in range(repeats)]
    click.echo(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
               f"{classifier.runtime} {classifier.runtime_version}, model {display_path(classifier.path)} "
               f"({classifier.path.stat().st_size / 1e6:.2f} MB)")
    click.echo(f"{'5-digit recognition':<32} {'p50 ms':>8} {'p95 ms':>8}")
    for label, values in (("preprocess", [r.preprocess_ms for r in results]),
                          ("invoke", [r.invoke_ms for r in results]),
                          ("total", [r.ms for r in results])):
        click.echo(f"  {label:<30} {np.percentile(values, 50):>8.3f} {np.percentile(values, 95):>8.3f}")
    click.echo(f"{'model load (hash check + interpreter)':<40} {load_ms:>8.1f} ms")
    first_result_s, peak_mb = _cold_start(classifier_args, samples)
    click.echo(f"{'process start to first result':<40} {first_result_s * 1e3:>8.0f} ms")
    click.echo(f"{'peak RSS of that process':<40} {peak_mb:>8.1f} MB")
    if importlib.util.find_spec("tensorflow") is None:
        click.echo("book's Keras path: skipped (TensorFlow is not installed here, as on a device)")
    elif not keras_model.is_file():
        click.echo(f"book's Keras path: skipped ({keras_model} not found; make train writes it)")
    else:
        _keras_path(keras_model, results)


def _cold_start(classifier_args, samples: Path) -> tuple[float, float]:
    """Wall time and peak RSS of a fresh `python -m device recognize` on one sample."""
    model_path, threads, runtime = classifier_args
    command = [sys.executable, "-m", "device", "recognize", str(sorted(samples.glob("*.png"))[0]), "--json",
               "--model", str(model_path)] + (["--runtime", runtime] if runtime else [])
    # An empty cache: a first start on a device includes the model's one-time probe (device/probe.py).
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors,
                                 cwd=Path(__file__).resolve().parent.parent, env={**os.environ, "XDG_CACHE_HOME": cache})
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise click.ClickException(f"cold start failed: {errors.read().decode(errors='replace').strip()[-300:]}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports KiB


def _keras_path(keras_model: Path, results) -> None:
    """The book's path on the same numerals: Keras load_model + predict, timed in this process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    started = time.perf_counter()
    model = keras.models.load_model(keras_model, compile=False, safe_mode=True)
    load_s = time.perf_counter() - started
    batches = [to_model_input(np.stack([n for n in r.numerals if n is not None])) for r in results[:50]]
    model.predict(batches[0], verbose=0)
    times = []
    for batch in batches:
        started = time.perf_counter()
        model.predict(batch, verbose=0)
        times.append((time.perf_counter() - started) * 1e3)
    keras_p50 = float(np.percentile(times, 50))
    invoke_p50 = float(np.percentile([r.invoke_ms for r in results], 50))
    preprocess_p50 = float(np.percentile([r.preprocess_ms for r in results], 50))
    total_p50 = float(np.percentile([r.ms for r in results], 50))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    click.echo(f"book's Keras path ({keras_model.name}, TensorFlow loaded in this process):")
    click.echo(f"  {'load_model':<30} {load_s * 1e3:>8.0f} ms")
    click.echo(f"  {'predict, 5 digits, p50':<30} {keras_p50:>8.3f} ms")
    click.echo(f"  {'peak RSS with TensorFlow':<30} {peak_mb:>8.0f} MB")
    click.echo(f"  {'speed-up, invoke vs predict':<30} {keras_p50 / invoke_p50:>8.0f}x")
    click.echo(f"  {'speed-up, whole recognition':<30} {(preprocess_p50 + keras_p50) / total_p50:>8.0f}x")
