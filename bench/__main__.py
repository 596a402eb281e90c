"""`python -m bench`: the recogniser's accuracy on rendered handwriting, per layout and writer style, for any model."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bench.accuracy import LayoutScore, score_layout, score_writer
from bench.render import CANVAS_LAYOUTS
from bench.writers import WRITERS
from device.base.errors import run_program
from device.base.files import display_path
from device.base.mnist import DataError, load_npz, mnist_option
from device.options import load_classifier
from device.process import tune_for_recognition
from device.runtime import DEFAULT_MODEL


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
# Any path: the classifier says in one line what is wrong with it (a directory, a FIFO, no permission).
@click.option(
    "--model",
    "models",
    type=click.Path(readable=False, path_type=Path),
    multiple=True,
    help="Models to compare (repeatable) [default: models/cnn_int8.tflite].",
)
@mnist_option("MNIST npz; canvases use its test digits only.")
@click.option(
    "--canvases",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Canvases per layout (5 digits each); at 1000 a zip-code rate near 90% is good to about 1 pp.",
)
@click.option(
    "--writer-canvases",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    help="Canvases per writer style and layout (bench/writers.py); 0 leaves the writer rows out.",
)
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per model, style and layout.")
def main(models, data, canvases, writer_canvases, seed, as_json):
    """Render zip codes from MNIST test digits in the boxed, free and photo layouts and read them back.

    Then the same for each writer style (upright 1s, barred 7s, open and closed 4s, open 0s,
    5s with a poor flag, bold markers, dashed strokes, digits across the box line), one row each.
    """
    tune_for_recognition()
    try:
        mnist = load_npz(data, splits=("test",))
    except DataError as error:
        raise click.ClickException(str(error)) from None
    models = models or (DEFAULT_MODEL,)
    width = max(len("model"), *(len(display_path(path)) for path in models))
    if not as_json:
        click.echo(f"{'model':<{width}} {'style':<8} {'layout':<6} {'canvases':>8} {'digits':>8} {'zip codes':>10}")
    for model_path in models:
        classifier = load_classifier((model_path, None, None))
        name = display_path(model_path)
        for layout in CANVAS_LAYOUTS:
            _echo(name, width, score_layout(classifier, layout, mnist.x_test, mnist.y_test, canvases, seed), as_json)
        for writer in WRITERS if writer_canvases else ():
            for layout in writer.layouts:
                score = score_writer(classifier, writer, layout, mnist.x_test, mnist.y_test, writer_canvases, seed)
                _echo(name, width, score, as_json)


def _echo(model: str, width: int, score: LayoutScore, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"model": model, **score.__dict__}))
    else:
        click.echo(
            f"{model:<{width}} {score.style:<8} {score.layout:<6} {score.canvases:>8} "
            f"{score.digit_accuracy:>8.2%} {score.zip_accuracy:>10.2%}"
        )


run_program(main, "python -m bench")
