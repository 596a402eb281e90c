"""`python -m bench`: the recogniser's accuracy on rendered handwriting, per layout, for any model."""
from __future__ import annotations

import json
from pathlib import Path

import click

from bench.accuracy import score_layout
from bench.render import CANVAS_LAYOUTS
from device.base.files import display_path
from device.base.mnist import DataError, load_npz
from device.interpreters import ModelError
from device.process import tune_for_recognition
from device.runtime import DEFAULT_MODEL, Classifier


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", "models", type=click.Path(dir_okay=False, path_type=Path), multiple=True,
              help="Models to compare (repeatable) [default: models/dmlp_int8.tflite].")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), envvar="MNIST_NPZ", required=True,
              show_envvar=True, help="MNIST npz; canvases use its test digits only.")
@click.option("--canvases", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Canvases per layout (5 digits each); at 1000 a zip-code rate near 90% is good to about 1 pp.")
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per model and layout.")
def main(models, data, canvases, seed, as_json):
    """Render zip codes from MNIST test digits in the boxed, free and photo layouts and read them back."""
    tune_for_recognition()
    try:
        mnist = load_npz(data, splits=("test",))
    except DataError as error:
        raise click.ClickException(str(error)) from None
    models = models or (DEFAULT_MODEL,)
    width = max(len("model"), *(len(display_path(path)) for path in models))
    if not as_json:
        click.echo(f"{'model':<{width}} {'layout':<6} {'canvases':>8} {'digits':>8} {'zip codes':>10}")
    for model_path in models:
        try:
            classifier = Classifier(model_path)
        except ModelError as error:
            raise click.ClickException(str(error)) from None
        for layout in CANVAS_LAYOUTS:
            score = score_layout(classifier, layout, mnist.x_test, mnist.y_test, canvases, seed)
            name = display_path(model_path)
            if as_json:
                click.echo(json.dumps({"model": name, **score.__dict__}))
            else:
                click.echo(f"{name:<{width}} {layout:<6} {canvases:>8} {score.digit_accuracy:>8.2%} {score.zip_accuracy:>10.2%}")


main(prog_name="python -m bench")
