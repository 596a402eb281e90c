"""`python -m convert`: quantise a model from train/ to .tflite in four modes and prove parity with Keras."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import click

from convert.calibration import representative_inputs
from convert.modes import Mode, convert
from convert.parity import ParityError, Thresholds, failures, run_device_runtime, run_litert
from convert.report import sidecar, write_parity_report
from device.base.errors import OneLineError
from device.base.files import installing_path, sha256_of, write_bytes, write_json
from device.base.mnist import DataError, load_npz, mnist_option
from train.quiet import import_tensorflow_quietly

ROOT = Path(__file__).resolve().parent.parent
# Tests set this to k to have the install SIGKILL itself just before its k-th rename
# (tests/pipeline/test_install.py): the kill points a user's Ctrl-C or power cut can hit.
KILL_AT_RENAME = "ZIPLITE_KILL_AT_RENAME"


class ConvertError(OneLineError):
    """The conversion cannot go on (exit status 1); models/ is left as it was."""


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--source",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("models/dmlp.keras"),
    show_default=True,
    help="The Keras model from train/ (its JSON report must sit beside it); "
    "its files are named after its recipe: dmlp_int8.tflite, cnn_int8.tflite.",
)
@mnist_option()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("models"), show_default=True)
@click.option(
    "--mode",
    "modes",
    type=click.Choice([m.value for m in Mode]),
    multiple=True,
    help="Modes to convert [default: all four].",
)
@click.option(
    "--calibration",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Representative training digits for int8, stratified by class (at least 100).",
)
@click.option(
    "--device-python",
    type=click.Path(dir_okay=False, path_type=Path),
    default=ROOT / ".venv-device" / "bin" / "python",
    show_default=".venv-device/bin/python",
    help="Python of the device environment, where tflite-runtime checks parity.",
)
@click.option("--float32-agreement", type=float, default=Thresholds.float32_agreement, show_default=True)
@click.option("--float32-max-dp", type=float, default=Thresholds.float32_max_dp, show_default=True)
@click.option("--float16-agreement", type=float, default=Thresholds.float16_agreement, show_default=True)
@click.option(
    "--max-drop-pp",
    type=float,
    default=Thresholds.quantised_max_drop,
    show_default=True,
    help="dynamic and int8: largest |delta accuracy| vs Keras, in percentage points.",
)
@click.option("--quantised-agreement", type=float, default=Thresholds.quantised_agreement, show_default=True)
def main(
    source,
    data,
    out,
    modes,
    calibration,
    device_python,
    float32_agreement,
    float32_max_dp,
    float16_agreement,
    max_drop_pp,
    quantised_agreement,
):
    """Convert SOURCE to .tflite, check parity on all 10,000 MNIST test images in LiteRT and
    tflite-runtime, and only then install the models beside their parity report."""
    thresholds = Thresholds(float32_agreement, float32_max_dp, float16_agreement, max_drop_pp, quantised_agreement)
    modes = [Mode(m) for m in dict.fromkeys(modes)] or list(Mode)  # a mode named twice is converted once
    if not device_python.is_file():
        raise ConvertError(f"{device_python}: no device environment to check tflite-runtime parity in; run make setup")
    import_tensorflow_quietly()  # only now: --help and usage errors answer without loading TensorFlow
    model, origin = _load_source(source)
    mnist = _load_data(data)
    try:
        representative = (
            representative_inputs(
                mnist, calibration, val_split=origin["report"]["val_split"], shape=origin["input_shape"]
            )
            if Mode.INT8 in modes
            else None
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--calibration") from None
    from device.base.contract import to_model_input

    labels = mnist.y_test
    reference = model.predict(to_model_input(mnist.x_test, origin["input_shape"]), batch_size=1000, verbose=0)
    keras_accuracy = float((reference.argmax(1) == labels).mean())
    click.echo(f"Keras {source}: {keras_accuracy:.2%} on {len(labels)} MNIST test images")
    staging = out / ".convert-staging"
    clean_up_after_a_killed_run(out)
    rows, missed = [], []
    try:
        for mode in modes:
            row, mode_missed = _convert_one(
                model, mode, representative, origin, staging, data, reference, labels, device_python, thresholds
            )
            rows.append(row)
            missed += mode_missed
        if missed:
            for line in missed:
                click.echo(f"parity failed: {line}", err=True)
            raise ConvertError(f"{len(missed)} parity check(s) failed; {out} is unchanged (deployed model kept)")
        installed = _install(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for path in installed + write_parity_report(rows, keras_accuracy, source.name, out, origin["name"]):
        click.echo(f"wrote {path}")
    click.echo(
        f"next: python -m device demo --model {out / (origin['name'] + '_int8.tflite')}   "
        "(recognize the sample canvases with it)"
    )


def _load_source(source: Path):
    report_path = source.with_suffix(".json")
    if not source.is_file():
        raise ConvertError(f"{source}: no such Keras model; run make train first (or pass --source)")
    try:
        report = json.loads(report_path.read_text())
        report["input"]["labels"], report["test_accuracy"], report["val_split"], report["keras_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConvertError(f"{report_path}: missing or not a train/ report ({error}); run make train again") from None
    keras_sha256 = sha256_of(source)
    if keras_sha256 != report["keras_sha256"]:
        raise ConvertError(
            f"{source}: sha256 does not match {report_path.name} (the run that wrote it was cut "
            "short, or the file was replaced); train again"
        )
    import keras

    try:
        model = keras.models.load_model(source, safe_mode=True)  # safe_mode: no code runs from the file
    except Exception as error:  # Keras raises many types for a damaged file; all mean the same to a user
        raise ConvertError(f"{source}: cannot load as a Keras model ({str(error).splitlines()[0][:200]})") from None
    input_shape = tuple(model.input_shape[1:])
    if list(input_shape) != report["input"].get("shape"):
        raise ConvertError(
            f"{source}: takes input {list(input_shape)}, but {report_path.name} promises "
            f"{report['input'].get('shape')}; train again"
        )
    # The files are named after the recipe (dmlp_aug.keras converts to dmlp_int8.tflite, which the
    # device loads by default); a report from before recipes were recorded names the file instead.
    origin = {
        "report": report,
        "keras_name": source.name,
        "report_name": report_path.name,
        "keras_sha256": keras_sha256,
        "input_shape": input_shape,
        "name": report.get("recipe") or source.stem,
    }
    return model, origin


def _load_data(data: Path):
    try:
        return load_npz(data)
    except DataError as error:
        raise ConvertError(str(error)) from None


def _convert_one(
    model,
    mode: Mode,
    representative,
    origin: dict,
    staging: Path,
    data: Path,
    reference,
    labels,
    device_python: Path,
    thresholds: Thresholds,
) -> tuple[dict, list[str]]:
    import tensorflow as tf

    started = time.perf_counter()
    staged = staging / f"{origin['name']}_{mode.value}.tflite"
    write_bytes(staged, convert(model, mode, representative))
    sha = sha256_of(staged)
    converter = {
        "tensorflow": tf.__version__,
        "mode": mode.value,
        "calibration_samples": len(representative) if mode is Mode.INT8 else None,
    }
    tensors = _tensor_details(staged)
    # A first sidecar (hash and contract) lets device/ load the staged model for the parity runs.
    write_json(staged.with_suffix(".json"), sidecar(staged, mode, origin, tensors, converter, sha256=sha))
    try:
        parity = [
            run_litert(staged, data, reference, labels),
            run_device_runtime(staged, data, reference, labels, device_python),
        ]
    except ParityError as error:
        raise ConvertError(f"{mode.value}: {error}") from None
    document = sidecar(staged, mode, origin, tensors, converter, parity, sha256=sha)
    write_json(staged.with_suffix(".json"), document)
    missed = [line for p in parity for line in failures(mode, p, thresholds)]
    if not any(p.loads for p in parity):
        missed.append(f"{mode.value}: loads in no runtime ({'; '.join(p.reason or '' for p in parity)})")
    seconds = time.perf_counter() - started
    _print_mode(staged, mode, parity, missed, seconds)
    row = {
        "mode": mode.value,
        "file": staged.name,
        "size_bytes": staged.stat().st_size,
        "sha256": sha,
        "seconds": round(seconds, 1),
        "runtimes": document["runtimes"]
        | {name: {**document["runtimes"][name], **values} for name, values in document["parity"].items()},
    }
    return row, missed


def _tensor_details(path: Path) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    details = {"input": interpreter.get_input_details()[0], "output": interpreter.get_output_details()[0]}
    return {
        name: {
            "dtype": d["dtype"].__name__,
            "shape": [int(v) for v in d["shape_signature"]],
            "scale": float(d["quantization"][0]),
            "zero_point": int(d["quantization"][1]),
        }
        for name, d in details.items()
    }


def _print_mode(path: Path, mode: Mode, parity, missed: list[str], seconds: float) -> None:
    verdict = "FAIL" if missed else "ok"
    runs = "; ".join(
        f"{p.runtime} {p.accuracy:.2%} ({p.delta_pp:+.2f} pp, agreement {p.agreement:.2%}, max|dp| {p.max_dp:.1e})"
        if p.loads
        else f"{p.runtime}: does not load ({p.reason})"
        for p in parity
    )
    click.echo(
        f"{mode.value:<8} {path.name:<22} {path.stat().st_size / 1e6:5.2f} MB {seconds:5.1f} s  "
        f"parity {verdict}: {runs}"
    )


def _install(staging: Path, out: Path) -> list[Path]:
    """Move every staged pair into `out`, so that a reader finds the old pair or the new one whenever
    the process dies.

    Per pair, three renames: the model goes in under its hash's name, then its JSON replaces the
    old JSON (the commit point: from here a reader finds the model the JSON names under that name,
    device/runtime.py), then the model replaces the old one. A kill leaves at most a model under its
    hash's name, which the next run moves into place or deletes (clean_up_after_a_killed_run).
    """
    steps = itertools.count(1)
    installed = []
    for staged in sorted(staging.glob("*.tflite")):
        target = out / staged.name
        waiting = installing_path(target, sha256_of(staged))
        _rename(staged, waiting, next(steps))
        _rename(staged.with_suffix(".json"), target.with_suffix(".json"), next(steps))
        _rename(waiting, target, next(steps))
        installed += [target, target.with_suffix(".json")]
    return installed


def _rename(source: Path, target: Path, step: int = 0) -> None:
    if os.environ.get(KILL_AT_RENAME) == str(step):
        os.kill(os.getpid(), signal.SIGKILL)
    os.replace(source, target)
    # The directory's entry is on disk before the next rename: a power cut keeps the order too.
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def clean_up_after_a_killed_run(out: Path) -> None:
    """What a killed convert leaves in `out`: its staging folder, the temporaries of its atomic writes
    (models, sidecars, parity reports), and models waiting under their hash's name, which are moved
    into place when their JSON is already installed (the install got past its commit point) and
    deleted otherwise."""
    shutil.rmtree(out / ".convert-staging", ignore_errors=True)
    # device/base/files.atomic_path names a temporary ".<stem>.<random>.tmp<suffix>".
    patterns = [f".*_{mode.value}.*.tmp*" for mode in Mode] + [".parity.*.tmp*", ".*_parity.*.tmp*"]
    for temporary in {path for pattern in patterns for path in out.glob(pattern)}:
        temporary.unlink(missing_ok=True)
    for waiting in out.glob(".*.tflite"):
        match = re.fullmatch(r"\.(.+)\.([0-9a-f]{64})\.tflite", waiting.name)
        if not match:
            continue
        target = out / f"{match[1]}.tflite"
        if _named_sha256(target.with_suffix(".json")) == match[2]:
            _rename(waiting, target)
        else:
            waiting.unlink(missing_ok=True)


def _named_sha256(sidecar: Path) -> str | None:
    try:
        return json.loads(sidecar.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
