"""The options every command that runs a model shares (device commands and bench/), in one place."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from device.base.errors import BadInput
from device.interpreters import MAX_THREADS, RUNTIMES, ModelError
from device.recognize import LAYOUTS
from device.runtime import DEFAULT_MODEL, Classifier

# Half a second of recognitions: a p50 that a burst of load on a shared machine moves less than 300 did.
repeats_option = click.option(
    "--repeats",
    type=click.IntRange(min=10),
    default=1000,
    show_default=True,
    help="Timed recognitions, after a warm-up.",
)

SAMPLES = Path(__file__).resolve().parent / "samples"
samples_option = click.option(
    "--samples",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=SAMPLES,
    help="A folder of sample canvases.  [default: device/samples]",
)


def page_options(command):
    """--layout and --digits: how a page is read, the same on recognize, camera and batch."""
    command = click.option(
        "--digits", type=click.IntRange(1, 20), default=5, show_default=True, help="Digits in free handwriting."
    )(command)
    return click.option(
        "--layout",
        type=click.Choice(LAYOUTS),
        default="auto",
        show_default=True,
        help="boxed: the GUI's red boxes; free: handwriting on paper; auto: boxed if red boxes are found.",
    )(command)


def model_options(command):
    """--model, --runtime and --threads, the same on every command."""

    # Any path: the classifier says in one line what is wrong with it (click's checks gave four lines
    # for a directory or an unreadable file).
    @click.option(
        "--model",
        "model_path",
        type=click.Path(readable=False, path_type=Path),
        default=DEFAULT_MODEL,
        help="A .tflite from convert/, with its JSON beside it.  [default: models/cnn_int8.tflite]",
    )
    @click.option(
        "--runtime",
        type=click.Choice(RUNTIMES),
        default=None,
        help="Force a runtime [default: the first installed of tflite_runtime, ai_edge_litert, tensorflow].",
    )
    @click.option(
        "--threads",
        type=click.IntRange(1, MAX_THREADS),
        default=None,
        help="Interpreter threads [default: 1, the fastest on a busy device; make bench shows both].",
    )
    @functools.wraps(command)
    def wrapper(*args, model_path, runtime, threads, **kwargs):
        return command(*args, classifier_args=(model_path, threads, runtime), **kwargs)

    return wrapper


def load_classifier(classifier_args) -> Classifier:
    """The classifier the options name; a model that cannot be used is the user's one-line error."""
    try:
        return Classifier(*classifier_args)
    except ModelError as error:
        raise BadInput(str(error)) from None
