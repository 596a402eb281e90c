"""What a training run leaves in models/: the model files, the JSON report and the plots."""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import keras
import tensorflow as tf
from matplotlib.figure import Figure

from device.base.contract import input_contract
from device.base.files import atomic_path, sha256_of, write_figure, write_json
from device.base.mnist import Mnist
from train.augment import AugmentSettings
from train.fit import Trained, TrainOptions
from train.recipes import Recipe

BOOK_MODEL_FILE = "dmlp_trained.h5"  # the name and format the book's zip-code program loads


def save_model(trained: Trained, name: str, out: Path) -> list[Path]:
    """Write `<name>.keras` (and, for dmlp, the book's `.h5`) atomically; return the paths."""
    paths = [out / f"{name}.keras"]
    if name == "dmlp":
        paths.append(out / BOOK_MODEL_FILE)
    for path in paths:
        with atomic_path(path) as tmp, _quiet_legacy_h5_warning():
            trained.model.save(tmp)
    return paths


@contextlib.contextmanager
def _quiet_legacy_h5_warning():
    """The .h5 is written on purpose, for the book's own script; Keras' advice against it is noise here."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def write_report(trained: Trained, recipe: Recipe, name: str, data: Mnist, options: TrainOptions) -> Path:
    """Write `<name>.json`: results, recipe, provenance and the input contract later stages read."""
    progress = trained.progress
    report = {
        "name": name,
        "recipe": recipe.name,
        "test_accuracy": round(trained.test_accuracy, 6),
        "test_loss": round(trained.test_loss, 6),
        "book_accuracy": recipe.book_accuracy,
        "architecture": recipe.describe()["layers"],
        "input_shape": list(recipe.input_shape),
        "optimizer": recipe.describe()["optimizer"],
        "loss": recipe.loss,
        "epochs": progress.epochs_done,
        "batch_size": options.batch_size,
        "seed": options.seed,
        "augment": options.augment,
        "augment_settings": asdict(AugmentSettings()) if options.augment else None,
        "val_split": options.val_split,  # the last this many training samples: calibration avoids them too
        "keras_sha256": sha256_of(options.out / f"{name}.keras"),
        "data": {"file": Path(data.source).name, "sha256": data.sha256},  # no machine's path: its name and hash
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "seconds": round(progress.seconds, 1),
        "seconds_per_epoch": round(progress.seconds / max(progress.epochs_done, 1), 2),
        "history": {**progress.history, "epoch_seconds": progress.epoch_seconds},
        "input": input_contract(recipe.input_shape),
    }
    path = out_path(options.out, name)
    write_json(path, report)
    return path


def out_path(out: Path, name: str) -> Path:
    return out / f"{name}.json"


def load_report(out: Path, name: str) -> dict | None:
    path = out_path(out, name)
    return json.loads(path.read_text()) if path.is_file() else None


def draw_plots(out: Path) -> list[Path]:
    """Redraw every plot whose models have a report in `out`. Returns the files written."""
    written = []
    sgd, adam = load_report(out, "mlp_sgd"), load_report(out, "mlp_adam")
    if sgd and adam:
        written.append(
            _plot(
                out / "sgd_vs_adam.png",
                "Figure 7-4: SGD vs Adam (512-tanh MLP, MSE)",
                "accuracy",
                {"SGD": sgd, "Adam": adam},
            )
        )
    for name in ("dmlp", "dmlp_aug", "cnn"):
        report = load_report(out, name)
        if report:
            for metric in ("accuracy", "loss"):
                written.append(_plot(out / f"{name}_{metric}.png", f"{name}: {metric}", metric, {name: report}))
    return written


def _plot(path: Path, title: str, metric: str, runs: dict[str, dict]) -> Path:
    figure = Figure(figsize=(7, 4.5), dpi=100)  # not pyplot's: no GUI backend, nothing to close
    axes = figure.subplots()
    for (label, report), colour in zip(runs.items(), ("tab:blue", "tab:orange")):
        epochs = range(1, len(report["history"][metric]) + 1)
        axes.plot(epochs, report["history"][metric], color=colour, label=f"{label} train")
        axes.plot(epochs, report["history"][f"val_{metric}"], color=colour, linestyle="--", label=f"{label} validation")
    axes.set(title=title, xlabel="epoch", ylabel=metric)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    write_figure(path, figure)
    return path
