"""`python -m device`: the zip-code recogniser's commands. Each one only wires the pure core to I/O."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from device.base.errors import BadInput
from device.base.files import UnreadableFile, display_path, read_regular_file
from device.base.mnist import DataError, mnist_option
from device.options import load_classifier, model_options, page_options, repeats_option, samples_option
from device.process import tune_for_recognition
from device.recognize import error_record
from device.runtime import Classifier


@contextlib.contextmanager
def _window_or_usage_error():
    """A window this machine cannot show (device.app.gui.NoWindow) is a usage error: its one line, exit 2."""
    from device.app.gui import NoWindow  # lazy: only the window commands load the GUI

    try:
        yield
    except NoWindow as error:
        raise BadInput(str(error)) from None


class _CommandList(click.Group):
    """Lists each command with its first sentence whole, wrapped, where click would cut it with '...'."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        commands = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        rows = [(name, command.get_short_help_str(limit=200)) for name, command in commands if not command.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_CommandList, context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """ziplite: read handwritten zip codes with a TFLite model (no TensorFlow needed)."""
    tune_for_recognition()


@main.command()
# Not checked by click, whose first unreadable path would end the run: read_image says what is wrong, per file.
@click.argument("paths", nargs=-1, required=True, type=click.Path(readable=False, path_type=Path))
@page_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, per file.")
@model_options
def recognize(paths, layout, digits, as_json, classifier_args):
    """Read the zip code in each image PATH (a GUI canvas PNG, a photo or a scan)."""
    from device.images import ImageError, read_image
    from device.recognize import PageError, recognize

    classifier = load_classifier(classifier_args)
    failures = 0
    for path in paths:
        try:
            result = recognize(read_image(path), classifier, layout, digits)
        except (ImageError, PageError) as error:
            failures += 1
            _report_error(path, str(error), as_json)
            continue
        _report_result(path, result, classifier, as_json)
    sys.exit(1 if failures else 0)


def _report_error(path: Path, message: str, as_json: bool) -> None:
    click.echo(json.dumps(error_record(str(path), message)) if as_json else f"{path}: error: {message}")


def _report_result(path: Path, result, classifier: Classifier, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.record(str(path), classifier)))
    else:
        click.echo(f"{path}: {result.summary}")


@main.command()
@mnist_option()
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N test images.")
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON line.")
@click.option(
    "--save-probs",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the (N, 10) probabilities as .npy (convert/ compares them with Keras').",
)
@model_options
def evaluate(data, limit, batch_size, as_json, save_probs, classifier_args):
    """Accuracy of the model on the MNIST test set, in this device's own runtime."""
    from device.evaluate import evaluate_mnist

    classifier = load_classifier(classifier_args)
    try:
        report = evaluate_mnist(classifier, data, limit, batch_size, save_probs)
    except DataError as error:
        raise BadInput(str(error)) from None
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo(
            f"{report['model']}: MNIST test accuracy {report['accuracy']:.2%} on {report['n']} images "
            f"({report['runtime']} {report['runtime_version']}, {report['seconds']:.1f} s)"
        )


def _save_file(ctx, param, value: Path | None) -> Path | None:
    """--save must name a file in a folder that exists: checked before the window opens, not at `w`."""
    from device.app.gui import save_folder_problem

    if value is not None and (problem := save_folder_problem(value.parent)):
        raise BadInput(f"--save {value}: {problem}")
    return value


@main.command()
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=_save_file,
    help="The PNG file `w` writes, replaced by each press (the window says so).  "
    "[default: a new ~/Pictures/ziplite/zipcode-NNN.png each time, never replacing one]",
)
@model_options
def gui(save, classifier_args):
    """The book's drawing window: r read, e erase, u undo, s model inputs, w write PNG, q or Esc quit."""
    from device.app.gui import require_display, run_gui

    with _window_or_usage_error():
        require_display()
        run_gui(load_classifier(classifier_args), save)


@main.command()
@click.option("--camera", "camera_index", type=click.IntRange(min=0), default=None, help="Camera index [default: 0].")
@click.option(
    "--source",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="A video file or a folder of images instead of a camera.",
)
@page_options
@click.option("--no-window", is_flag=True, help="Print results instead of showing frames (headless devices, tests).")
@click.option("--json", "as_json", is_flag=True, help="With --no-window: one JSON line per frame.")
@model_options
def camera(camera_index, source, layout, digits, no_window, as_json, classifier_args):
    """Live recognition of a handwritten number held in front of a camera."""
    from device.app.camera import SourceError, run_camera
    from device.app.gui import require_display

    if camera_index is not None and source is not None:
        raise click.BadParameter("give --camera or --source, not both", param_hint="--source")
    if as_json and not no_window:
        raise click.BadParameter("--json prints results, so it needs --no-window", param_hint="--json")
    if not no_window:
        with _window_or_usage_error():
            require_display()
    classifier = load_classifier(classifier_args)
    try:
        code = run_camera(
            classifier, source if source is not None else (camera_index or 0), layout, digits, no_window, as_json
        )
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    sys.exit(code)


@main.command()
@samples_option
@repeats_option
@model_options
def bench(samples, repeats, classifier_args):
    """Time a 5-digit recognition (preprocess + invoke), start-up and memory."""
    from device.benchmark import run_bench

    run_bench(classifier_args, samples, repeats)


@main.command()
@samples_option
@model_options
def demo(samples, classifier_args):
    """Read the sample canvases and print each zip code next to the truth."""
    from device.images import ImageError, read_image
    from device.recognize import PageError, recognize

    truth = _samples_truth(samples / "truth.json")
    classifier = load_classifier(classifier_args)
    click.echo(f"model {display_path(classifier.path)} on {classifier.runtime} {classifier.runtime_version}")
    right = 0
    for name, expected in truth.items():
        try:
            result = recognize(read_image(samples / name), classifier)
        except (ImageError, PageError) as error:
            click.echo(f"  {name:<14} error: {error}")
            continue
        right += result.zip == expected
        mark = "ok" if result.zip == expected else "MISREAD"
        click.echo(f"  {name:<14} read {result.zip}  truth {expected}  {mark:<8} ({result.layout}, {result.ms:.2f} ms)")
    click.echo(f"{right}/{len(truth)} zip codes read correctly")


def _samples_truth(path: Path) -> dict[str, str]:
    """The samples' {file name: zip code}, or the user's one-line error."""
    try:
        truth = json.loads(read_regular_file(path, 1 << 20))
    except UnreadableFile as error:
        raise BadInput(f"{path}: {error}; --samples needs a folder with its truth.json (see device/samples)") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadInput(f"{path}: not valid JSON; it maps each sample's file name to its zip code") from None
    if not (isinstance(truth, dict) and all(isinstance(v, str) for v in truth.values())):
        raise BadInput(f"{path}: must map each sample's file name to its zip code (a string)")
    return truth


@main.command()
# Not checked by click, whose first unreadable path would end the run: each page gets its own error line.
@click.argument("inputs", nargs=-1, required=True, type=click.Path(allow_dash=True, readable=False))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Results: one JSON line per page, recognize --json's schema.",
)
@click.option("--resume", is_flag=True, help="Skip the pages already in --out (after a kill or Ctrl-C).")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes, or Ray actors [default: every core; with --address, the cluster's CPUs].",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: worker processes here; ray: Ray Data (make setup-cluster, then .venv-cluster/bin/python).",
)
@click.option("--address", default=None, help="With --engine ray: a running cluster's address [default: a local Ray].")
@page_options
@model_options
def batch(inputs, out, resume, jobs, engine, address, layout, digits, classifier_args):
    """Read every page INPUT names (an image, a folder, a .txt list of paths, or - for a list on stdin) into --out.

    Interpreter threads default to 1 here: the workers are the parallelism.
    """
    from device.app.batch import BatchOptions, run_batch

    if address and engine != "ray":
        raise click.BadParameter("--address is a Ray cluster's; it needs --engine ray", param_hint="--address")
    model_path, threads, runtime = classifier_args
    run_batch(
        inputs,
        out,
        resume,
        jobs,
        engine,
        address,
        BatchOptions((model_path, threads or 1, runtime), layout, digits, display_path(model_path)),
    )
