"""Train one recipe epoch by epoch, checkpointing after each so a killed run can --resume.

Each epoch's shuffle (and augmentation) is drawn from a generator seeded by (seed, epoch), so a
resumed run sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np

from device.base.contract import to_model_input
from device.base.files import atomic_path, write_json
from device.base.mnist import Mnist
from train.recipes import Recipe

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


class InvalidSplit(ValueError):
    """--val-split leaves no training or no validation data."""


class ResumeMismatch(ValueError):
    """--resume was asked with options other than the checkpoint's."""


@dataclass(frozen=True)
class TrainOptions:
    epochs: int
    batch_size: int
    seed: int
    val_split: int
    out: Path
    resume: bool = False
    augment: bool = False


@dataclass
class Progress:
    """What a checkpoint remembers besides the weights and optimiser state."""

    epochs_done: int = 0
    seconds: float = 0.0
    history: dict[str, list[float]] = field(default_factory=lambda: {metric: [] for metric in METRICS})
    epoch_seconds: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Trained:
    model: keras.Model
    progress: Progress
    test_loss: float
    test_accuracy: float


def split_train_validation(data: Mnist, val_split: int):
    """The last `val_split` training samples monitor each epoch; the test set is used once, at the end."""
    if not 0 < val_split < len(data.x_train):
        raise InvalidSplit(f"--val-split must be between 1 and {len(data.x_train) - 1}, got {val_split}")
    cut = len(data.x_train) - val_split
    return (data.x_train[:cut], data.y_train[:cut]), (data.x_train[cut:], data.y_train[cut:])


def output_name(recipe: Recipe, augment: bool) -> str:
    """The name a run's files carry: the recipe's, with _aug when --augment changed how it trains."""
    return f"{recipe.name}_aug" if augment and not recipe.augmented else recipe.name


def checkpoint_dir(out: Path, name: str) -> Path:
    return out / ".checkpoints" / name


def train(
    recipe: Recipe,
    data: Mnist,
    options: TrainOptions,
    augment: Callable[..., np.ndarray] | None = None,
    log: Callable[[str], None] = print,
) -> Trained:
    """Fit `recipe` on MNIST and evaluate it once on the test set."""
    (x_fit, y_fit), (x_val, y_val) = split_train_validation(data, options.val_split)
    targets = keras.utils.to_categorical(y_fit, 10)
    validation = (to_model_input(x_val, recipe.input_shape), keras.utils.to_categorical(y_val, 10))
    name = output_name(recipe, options.augment)
    model, progress = _start_or_resume(recipe, name, options, log)
    # The next epoch's batches are prepared while this one trains (OpenCV and numpy release the GIL).
    with ThreadPoolExecutor(max_workers=1) as prefetch:
        upcoming = prefetch.submit(
            _epoch_data, x_fit, y_fit, recipe.input_shape, options.seed, progress.epochs_done, augment
        )
        for epoch in range(progress.epochs_done, options.epochs):
            order, images = upcoming.result()
            if epoch + 1 < options.epochs:
                upcoming = prefetch.submit(
                    _epoch_data, x_fit, y_fit, recipe.input_shape, options.seed, epoch + 1, augment
                )
            learning_rate = recipe.learning_rate_at(epoch, options.epochs)
            model.optimizer.learning_rate = learning_rate
            started = time.perf_counter()
            result = model.fit(
                images,
                targets[order],
                batch_size=options.batch_size,
                epochs=1,
                shuffle=False,
                validation_data=validation,
                verbose=0,
            )
            elapsed = time.perf_counter() - started
            _record(progress, result.history, elapsed)
            log(_epoch_line(name, epoch + 1, options.epochs, elapsed, learning_rate, result.history))
            _save_checkpoint(model, progress, options, recipe, name)
    test_loss, test_accuracy = model.evaluate(
        to_model_input(data.x_test, recipe.input_shape),
        keras.utils.to_categorical(data.y_test, 10),
        batch_size=1000,
        verbose=0,
    )
    return Trained(model, progress, float(test_loss), float(test_accuracy))


def _epoch_data(
    x_fit: np.ndarray, y_fit: np.ndarray, input_shape: tuple[int, ...], seed: int, epoch: int, augment
) -> tuple[np.ndarray, np.ndarray]:
    """(shuffle order, model inputs) of one epoch, from a generator seeded by (seed, epoch).

    The augmenter is given the labels too: a 7 may get a crossbar, a 1 a foot, as writers draw them.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(x_fit))
    images = x_fit[order] if augment is None else augment(x_fit[order], rng, labels=y_fit[order])
    return order, to_model_input(images, input_shape)


def _start_or_resume(recipe: Recipe, name: str, options: TrainOptions, log) -> tuple[keras.Model, Progress]:
    folder = checkpoint_dir(options.out, name)
    state_file = folder / "state.json"
    if options.resume and state_file.is_file():
        state = json.loads(state_file.read_text())
        if state["options"] != _comparable(options, recipe):
            raise ResumeMismatch(
                f"{state_file}: checkpoint was made with {state['options']}; "
                "resume with the same options, or train without --resume"
            )
        model = keras.models.load_model(folder / state["weights"], safe_mode=True)
        progress = Progress(**state["progress"])
        log(f"{name}: resuming after epoch {progress.epochs_done} from {folder}")
        return model, progress
    if options.resume:
        log(f"{name}: no checkpoint in {folder}, starting from epoch 1")
    keras.utils.set_random_seed(options.seed)
    return recipe.build(), Progress()


def _comparable(options: TrainOptions, recipe: Recipe) -> dict:
    """The options (and the optimiser) a resumed run must share with the run it continues."""
    return {
        "batch_size": options.batch_size,
        "seed": options.seed,
        "val_split": options.val_split,
        "augment": options.augment,
        "epochs": options.epochs,
        "optimizer": recipe.describe()["optimizer"],
    }


def _record(progress: Progress, history: dict, elapsed: float) -> None:
    for metric in METRICS:
        progress.history[metric].append(float(history[metric][-1]))
    progress.epoch_seconds.append(round(elapsed, 3))
    progress.seconds += elapsed
    progress.epochs_done += 1


def _epoch_line(name: str, epoch: int, epochs: int, elapsed: float, learning_rate: float, history: dict) -> str:
    metrics = " - ".join(f"{metric}: {history[metric][-1]:.4f}" for metric in METRICS)
    return f"{name} epoch {epoch}/{epochs} - {elapsed:.1f}s - lr {learning_rate:.2e} - {metrics}"


def _save_checkpoint(model: keras.Model, progress: Progress, options: TrainOptions, recipe: Recipe, name: str) -> None:
    # Each epoch's weights get a file of their own, and state.json, written last and atomically,
    # names the one it belongs to: a kill at any instant leaves a consistent checkpoint.
    folder = checkpoint_dir(options.out, name)
    weights = f"model-epoch{progress.epochs_done:03d}.keras"
    with atomic_path(folder / weights) as tmp:
        model.save(tmp)
    write_json(
        folder / "state.json",
        {"options": _comparable(options, recipe), "weights": weights, "progress": asdict(progress)},
    )
    for stale in folder.glob("model-epoch*.keras"):
        if stale.name != weights:
            stale.unlink(missing_ok=True)


def drop_checkpoint(out: Path, name: str) -> None:
    shutil.rmtree(checkpoint_dir(out, name), ignore_errors=True)
    with contextlib.suppress(OSError):
        (out / ".checkpoints").rmdir()  # only when no other model's checkpoint is left
