"""`python -m train`: train the chapter's MNIST models and write them to models/."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import click

from device.base.mnist import DataError
from train.data import find_mnist
from train.quiet import import_tensorflow_quietly
from train.recipes import CHAPTER, RECIPES, robust

# TensorFlow (train.fit, train.report, train.book) is imported once the arguments are parsed and
# checked: --help and a usage error answer at once, not after the seconds TensorFlow takes to load.


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt  # `kill` gets the same clean stop as Ctrl-C


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("models", nargs=-1, type=click.Choice([*RECIPES, "book"]))
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    help=f"Epochs per model [default: the book's 50; 120 with --augment; {RECIPES['cnn'].epochs} for cnn].",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Batch size [default: the book's 128].")
@click.option(
    "--data",
    type=click.Path(dir_okay=False),
    default=None,
    help="MNIST npz in Keras' layout [default: $MNIST_NPZ, else Keras' download].",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("models"), show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--val-split",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Training samples held out (from the end) to monitor each epoch.",
)
@click.option("--resume", is_flag=True, help="Continue from the last completed epoch's checkpoint.")
@click.option(
    "--augment",
    is_flag=True,
    help="dmlp only: train on augmented digits (shift, scale, rotation, shear, elastic, pen "
    "redraws, stroke width, gaps, camera blur) with Adam from 1e-3 decayed along a cosine, "
    "and write dmlp_aug.",
)
def main(models, epochs, batch_size, data, out, seed, val_split, resume, augment):
    """Train MODELS (default: mlp_sgd mlp_adam dmlp) with the book's recipes on MNIST.

    `cnn` is the small convolutional network, always trained on fresh augmented digits each epoch.

    `book` prints the chapter's worked examples (OR perceptron, XOR network, example 7-5).
    """
    models = tuple(dict.fromkeys(models)) or CHAPTER  # a model named twice is trained once
    if augment and set(models) - {"dmlp"}:
        raise click.BadParameter("--augment applies to dmlp only", param_hint="--augment")
    import_tensorflow_quietly()
    if "book" in models:
        _print_book_examples()
        models = tuple(name for name in models if name != "book")
        if not models:
            return
    try:
        mnist = find_mnist(data)
    except DataError as error:
        raise click.ClickException(str(error)) from None
    from train.fit import TrainOptions
    from train.report import draw_plots

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    rows = []
    for name in models:
        recipe = robust(RECIPES[name]) if augment else RECIPES[name]
        options = TrainOptions(
            epochs=epochs or recipe.epochs,
            batch_size=batch_size or recipe.batch_size,
            seed=seed,
            val_split=val_split,
            out=out,
            resume=resume,
            augment=augment or recipe.augmented,
        )
        rows.append(_train_one(recipe, mnist, options))
    for path in draw_plots(out):
        click.echo(f"plot: {path}")
    _print_summary(rows)
    click.echo(f"next: {_next_step(models)}")


def _next_step(models: tuple[str, ...]) -> str:
    steps = {
        "dmlp": "make convert   (quantise dmlp to .tflite and check parity)",
        "cnn": "make convert-cnn   (quantise cnn to .tflite and check parity)",
    }
    return "; ".join(steps[name] for name in models if name in steps) or steps["dmlp"]


def _train_one(recipe, mnist, options) -> tuple:
    from train.augment import augment_batch
    from train.fit import InvalidSplit, ResumeMismatch, drop_checkpoint, output_name, train
    from train.report import save_model, write_report

    name = output_name(recipe, options.augment)
    started = time.perf_counter()
    try:
        trained = train(recipe, mnist, options, augment=augment_batch if options.augment else None, log=click.echo)
        # The model files first, the report (which holds their hash) last: convert/ refuses a
        # model whose report does not match it, so a kill in between cannot pass unnoticed.
        paths = save_model(trained, name, options.out)
        paths.append(write_report(trained, recipe, name, mnist, options))
    except KeyboardInterrupt:
        click.echo(
            f"\n{name}: interrupted; the last completed epoch is checkpointed. Continue with: "
            f"python -m train {recipe.name}{' --augment' if name != recipe.name else ''} --resume",
            err=True,
        )
        sys.exit(130)
    except (InvalidSplit, ResumeMismatch) as error:
        raise click.ClickException(str(error)) from None
    drop_checkpoint(options.out, name)
    for path in paths:
        click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return name, trained.test_accuracy, recipe.book_accuracy, time.perf_counter() - started


def _print_summary(rows) -> None:
    click.echo(f"\n{'model':<10} {'test acc':>9} {'book':>8} {'seconds':>8}")
    for name, accuracy, book_accuracy, seconds in rows:
        book_text = f"{book_accuracy:.2%}" if book_accuracy else "-"
        click.echo(f"{name:<10} {accuracy:>9.2%} {book_text:>8} {seconds:>8.0f}")


def _print_book_examples() -> None:
    from train import book

    inputs = book.BOOK_INPUTS
    or_out = book.or_perceptron().predict(inputs, verbose=0)
    xor_out = book.xor_mlp().predict(inputs, verbose=0)
    click.echo("OR perceptron, u = (-0.5, 1, 1):")
    for x, o in zip(inputs, or_out):
        click.echo(f"  x = {tuple(int(v) for v in x)}  o = {int(o[0]):+d}")
    click.echo("XOR multilayer perceptron (Table 7-1):")
    for x, row in zip(inputs, xor_out):
        click.echo(f"  x = {tuple(int(v) for v in x)}  z = ({int(row[0]):+d}, {int(row[1]):+d})  o = {int(row[2]):+d}")
    steps = book.gradient_descent_example()
    click.echo("Example 7-5, gradient descent (rho = 1): u = " + " -> ".join(f"{u:.4f}" for u in steps))
