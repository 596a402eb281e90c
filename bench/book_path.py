"""`python -m bench.book_path` (in .venv): the recogniser beside the book's own path, in one run.

The book's program 7-7 loads `dmlp_trained.h5` with Keras and calls `model.predict`. This times
that on the very numerals the TFLite recogniser reads, in the same process, and prints the
ratio. It lives outside device/ because it needs TensorFlow, which device/ never imports.

`make train` writes `dmlp_trained.h5`. Before it has run, the book's network is built with fresh
weights: what `predict` costs depends on the layers, not on the values of their weights, so the
timing holds (the load time is then a build time, and the report says which it was).
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import click
import numpy as np

from device.base.contract import to_model_input
from device.benchmark import BenchRun, run_bench
from device.options import model_options, repeats_option, samples_option
from device.process import tune_for_recognition

ROOT = Path(__file__).resolve().parent.parent


KERAS_CALLS = 50  # predict is ~50 ms a call: 50 calls give a steady p50 in a few seconds


BOOK_MODEL = ROOT / "models" / "dmlp_trained.h5"


@click.command()
@click.option(
    "--keras-model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The book's Keras file.  [default: models/dmlp_trained.h5 (make train writes it); "
    "before that, the book's network with fresh weights]",
)
@samples_option
@repeats_option
@model_options
def main(keras_model, samples, repeats, classifier_args):
    """Time the TFLite recogniser, then Keras load_model + predict on the same numerals."""
    tune_for_recognition()
    run = run_bench(classifier_args, samples, repeats)
    batches = _keras_batches(run, samples)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from train.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    if keras_model is None and BOOK_MODEL.exists():
        keras_model = BOOK_MODEL
    started = time.perf_counter()
    model = keras.models.load_model(keras_model, compile=False, safe_mode=True) if keras_model else _fresh_book_model()
    load_s = time.perf_counter() - started
    model.predict(batches[0], verbose=0)
    times = []
    for i in range(KERAS_CALLS):
        started = time.perf_counter()
        model.predict(batches[i % len(batches)], verbose=0)
        times.append((time.perf_counter() - started) * 1e3)
    _report(keras_model, load_s, float(np.percentile(times, 50)), run)


def _fresh_book_model():
    """The book's dmlp (784-1024-512-512-10) with untrained weights: the same predict cost as trained."""
    from train.recipes import RECIPES

    return RECIPES["dmlp"].build()


def _keras_batches(run: BenchRun, samples: Path) -> list[np.ndarray]:
    """The model input of each sample page that holds a digit, as the recogniser read it."""
    present = ([n for n in numerals if n is not None] for numerals in run.sample_numerals)
    batches = [to_model_input(np.array(numerals)) for numerals in present if numerals]
    if not batches:
        raise click.ClickException(f"{samples}: no sample page holds a digit to time Keras' predict on")
    return batches


def _report(keras_model: Path | None, load_s: float, keras_p50: float, run: BenchRun) -> None:
    invoke_p50 = float(np.percentile(run.invoke_ms, 50))
    preprocess_p50 = float(np.percentile(run.preprocess_ms, 50))
    total_p50 = float(np.percentile(run.total_ms, 50))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if keras_model is None:
        click.echo(
            "book's Keras path (its dmlp with fresh weights: make train has not written dmlp_trained.h5; "
            "predict costs the same; TensorFlow loaded in this process):"
        )
    else:
        click.echo(f"book's Keras path ({keras_model.name}, TensorFlow loaded in this process):")
    click.echo(f"  {'load_model' if keras_model else 'build the model (no file)':<30} {load_s * 1e3:>8.0f} ms")
    click.echo(f"  {'predict, 5 digits, p50':<30} {keras_p50:>8.3f} ms")
    click.echo(f"  {'peak RSS with TensorFlow':<30} {peak_mb:>8.0f} MB")
    click.echo(f"  {'speed-up, invoke vs predict':<30} {keras_p50 / invoke_p50:>8.0f}x")
    click.echo(f"  {'speed-up, whole recognition':<30} {(preprocess_p50 + keras_p50) / total_p50:>8.0f}x")


if __name__ == "__main__":
    main()
