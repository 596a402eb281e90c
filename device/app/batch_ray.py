"""`batch --engine ray`: the same pages read by Ray Data actors, on this machine or on a cluster.

Ray Data does the scheduling: it reads the list of pending pages, hands batches of them to a pool
of actors that each load the model once, and streams their JSON lines back to this process, which
writes --out exactly as the local engine does (so --resume and the summary are the same code).
The model travels with the job as bytes; the pages are read by absolute path, so every node must
see them at the same path (docs/batch.md). Only .venv-cluster has Ray: this module is imported
lazily, by --engine ray alone.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from device.app.pages import BatchOptions, PageReader
from device.base.errors import OneLineError
from device.interpreters import last_line
from device.runtime import Classifier, sidecar_path

BATCH_SIZE = 64  # pages per actor call: ~0.2 s of work, so Ray's cost per batch is a few per cent
BLOCK_PAGES = 256  # pages per Ray Data block: ~1 s of an actor's work between two writes to --out
DEVICE_PACKAGE = Path(__file__).resolve().parents[1]


class RayPageReader:
    """A Ray Data actor: the model arrives as bytes, goes to the actor's own temporary folder, and loads once."""

    def __init__(self, model: bytes, sidecar: bytes, model_file: str, options: BatchOptions):
        from device.process import tune_for_recognition

        tune_for_recognition()
        self._folder = tempfile.TemporaryDirectory(prefix="ziplite-model-")  # removed with the actor
        path = Path(self._folder.name) / model_file
        path.write_bytes(model)
        sidecar_path(path).write_bytes(sidecar)
        _, threads, runtime = options.classifier_args
        self._reader = PageReader(Classifier(path, threads, runtime), options)

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        records = [self._reader.record(str(source), str(path)) for source, path in zip(batch["file"], batch["path"])]
        return {
            "line": np.array([json.dumps(record) for record in records], dtype=object),
            "error": np.array(["error" in record for record in records], dtype=bool),
        }


def run_ray(
    paths: Iterator[str],
    options: BatchOptions,
    jobs: int | None,
    address: str | None,
    write: Callable[[list[str], int], None],
) -> None:
    """Read `paths` with Ray Data on `jobs` actors, passing each batch's lines to `write` as it arrives."""
    import ray

    with tempfile.TemporaryDirectory(prefix="ziplite-batch-") as folder:
        listing = Path(folder) / "pending.jsonl"
        count = _write_listing(paths, listing)
        if not count:
            return  # nothing left to read (a finished batch, resumed): no cluster needed
        _connect(address, jobs)
        try:
            model_path = Path(options.classifier_args[0])
            actors = jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
            with warnings.catch_warnings():  # Ray 2.60 deprecates local:// for 2027 (docs/batch.md)
                warnings.simplefilter("ignore")
                # local://: the list is read on this node, where it was written; the actors may be anywhere.
                # The read takes no CPU of its own, else actors on every core would leave none for it.
                # Blocks of BLOCK_PAGES: an actor's lines reach --out when its block is done, so one
                # block for the whole list would hold every line back until the end.
                pending = ray.data.read_json(
                    f"local://{listing}",
                    lines=True,
                    ray_remote_args={"num_cpus": 0},
                    override_num_blocks=math.ceil(count / BLOCK_PAGES),
                )
            lines = pending.map_batches(
                RayPageReader,
                batch_size=BATCH_SIZE,
                batch_format="numpy",
                num_cpus=1,
                compute=ray.data.ActorPoolStrategy(size=actors),
                fn_constructor_kwargs={
                    "model": model_path.read_bytes(),
                    "sidecar": sidecar_path(model_path).read_bytes(),
                    "model_file": model_path.name,
                    "options": options,
                },
            )
            try:
                for batch in lines.iter_batches(batch_size=None, batch_format="numpy"):
                    write([str(line) for line in batch["line"]], int(batch["error"].sum()))
            except ray.exceptions.RayError as error:  # an actor or node lost: what was written stays
                raise OneLineError(
                    f"the Ray job failed ({last_line(error)}); the lines written are kept: "
                    "run the same command with --resume to finish"
                ) from None
        finally:
            ray.shutdown()


def _write_listing(paths: Iterator[str], listing: Path) -> int:
    """The pending pages streamed to a JSON-lines file (each as named, and its absolute path); how many."""
    count = 0
    with open(listing, "w", encoding="utf-8") as handle:
        for path in paths:
            handle.write(json.dumps({"file": path, "path": os.path.abspath(path)}) + "\n")
            count += 1
    return count


def _connect(address: str | None, jobs: int | None) -> None:
    """Join the cluster at `address`, or start a local Ray on this machine's cores; quiet either way."""
    import ray

    # The workers import `device` from the copy Ray ships with the job, not from this checkout's path.
    try:
        ray.init(
            address=address,
            num_cpus=None if address else jobs,
            runtime_env={"py_modules": [str(DEVICE_PACKAGE)]},
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise OneLineError(f"cannot start or join {where} ({last_line(error)}); see docs/batch.md") from None
    context = ray.data.DataContext.get_current()  # importing ray.data sets up its logging: quieten it after
    context.enable_progress_bars = False  # batch draws its own bar, from the lines it writes
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its start and end notes: batch prints its own summary
