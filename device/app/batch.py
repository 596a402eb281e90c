"""`python -m device batch`: every page of an archive, on every core, one JSON line each.

Paths stream from the inputs to the workers and their lines stream to --out: nothing holds the
whole list. The parent alone writes --out, one flushed line per page, so a kill loses only the
pages in flight, and --resume finds every finished page in the file itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TextIO

import click

from device.app.pages import BatchOptions, PageReader
from device.base.errors import BadInput, OneLineError
from device.images import IMAGE_SUFFIXES
from device.options import load_classifier
from device.process import tune_for_recognition

LIST_SUFFIXES = (".txt", ".lst", ".list")  # an INPUT with one of these names lists paths, one a line
CHUNK = 16  # pages a worker reads per task: ~50 ms of work, so queueing costs nothing and a kill loses little


# ---- inputs ---------------------------------------------------------------------------------------------


def check_inputs(inputs: tuple[str, ...]) -> None:
    """Refuse, before any work, a path list that cannot be opened or stdin given twice."""
    if inputs.count("-") > 1:
        raise click.BadParameter("'-' (stdin) can be given once", param_hint="INPUT")
    for item in inputs:
        if _is_list(item) and not os.path.isdir(item) and not os.path.isfile(item):
            raise click.BadParameter(f"{item}: no such path list", param_hint="INPUT")


def iter_inputs(inputs: Iterable[str]) -> Iterator[str]:
    """Every page path the inputs name: files as given, folders walked, path lists read line by line."""
    for item in inputs:
        if item == "-":
            yield from _listed(sys.stdin, "stdin")
        elif os.path.isdir(item):
            yield from _walk(item)
        elif _is_list(item):
            with open(item, encoding="utf-8") as listing:
                yield from _listed(listing, item)
        else:
            yield item  # a page, or a missing one: it gets its error line like any unreadable page


def _is_list(item: str) -> bool:
    return item.lower().endswith(LIST_SUFFIXES)


def _listed(lines: TextIO, name: str) -> Iterator[str]:
    try:
        for line in lines:
            path = line.rstrip("\r\n")
            if path.strip():
                yield path
    except UnicodeDecodeError:
        raise BadInput(f"{name}: not a UTF-8 list of paths, one a line; give images or folders directly") from None


def _walk(folder: str) -> Iterator[str]:
    """Image files under `folder`, one directory listing in memory at a time (symlinked folders not followed)."""
    folders = [folder]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.name.lower().endswith(IMAGE_SUFFIXES):
                    yield entry.path


def chunks(paths: Iterable[str], size: int) -> Iterator[list[str]]:
    paths = iter(paths)
    while chunk := list(islice(paths, size)):
        yield chunk


# ---- --out and --resume ---------------------------------------------------------------------------------


def finished_files(out: Path) -> set[str]:
    """The `file` of every complete line in `out`, after cutting off a last line a kill left half-written."""
    done = set()
    complete = 0  # bytes up to the end of the last complete line
    with open(out, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith(b"\n"):
                break  # written up to the kill: the page is read again
            try:
                done.add(json.loads(line)["file"])
            except (ValueError, KeyError, TypeError):
                raise BadInput(f"{out}: line {number} is not a batch result; give another --out") from None
            complete += len(line)
    if complete < out.stat().st_size:
        os.truncate(out, complete)
    return done


def open_out(out: Path, resume: bool) -> tuple[TextIO, set[str]]:
    """--out opened for appending, and the files it already holds (none unless resuming)."""
    exists = out.is_file() and out.stat().st_size > 0
    if exists and not resume:
        raise BadInput(f"{out} already holds results; pass --resume to finish that batch, or give another --out")
    done = finished_files(out) if exists else set()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return open(out, "a", encoding="utf-8"), done
    except OSError as error:
        raise BadInput(f"{out}: cannot write results there ({error.strerror or error}); give another --out") from None


# ---- the process pool -----------------------------------------------------------------------------------

_reader: PageReader | None = None  # the worker process's own reader, made once by _start_worker


def _start_worker(options: BatchOptions) -> None:
    global _reader
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it keeps what is written
    tune_for_recognition()
    _reader = PageReader(load_classifier(options.classifier_args), options)


def _read_chunk(paths: list[str]) -> tuple[list[str], int]:
    return _reader.read(paths)


def run_pool(
    paths: Iterator[str], options: BatchOptions, jobs: int | None, write: Callable[[list[str], int], None]
) -> None:
    """Read `paths` in `jobs` worker processes (this one when jobs is 1), passing each chunk's lines to `write`."""
    jobs = jobs or len(os.sched_getaffinity(0))
    if jobs == 1:
        reader = PageReader(load_classifier(options.classifier_args), options)
        for chunk in chunks(paths, CHUNK):
            write(*reader.read(chunk))
        return
    import multiprocessing

    # spawn: a fresh interpreter per worker, not a fork of a parent whose OpenCV and runtime hold threads.
    with ProcessPoolExecutor(
        jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker, initargs=(options,)
    ) as pool:
        in_flight = set()
        for chunk in chunks(paths, CHUNK):
            in_flight.add(pool.submit(_read_chunk, chunk))
            if len(in_flight) >= 2 * jobs:  # bounded: the paths stay in the inputs until a worker is free
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    write(*future.result())
        for future in wait(in_flight).done:
            write(*future.result())


# ---- the command ----------------------------------------------------------------------------------------


@dataclass
class Tally:
    pages: int = 0
    errors: int = 0


def run_batch(
    inputs: tuple[str, ...],
    out: Path,
    resume: bool,
    jobs: int | None,
    engine: str,
    address: str | None,
    options: BatchOptions,
) -> None:
    """The batch command: validate, stream the pending pages through the engine into --out, summarise."""
    check_inputs(inputs)
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise BadInput(
            "--engine ray needs Ray, which only .venv-cluster holds: make setup-cluster, then run "
            "this with .venv-cluster/bin/python"
        )
    load_classifier(options.classifier_args)  # a bad model is one line here, not a crash in every worker
    handle, done = open_out(out, resume)
    started = time.perf_counter()
    tally = Tally()
    with handle, _progress(inputs, done) as bar:

        def write(lines: list[str], errors: int) -> None:
            handle.write("".join(line + "\n" for line in lines))
            handle.flush()  # in the kernel now: a kill of this process loses none of it
            tally.pages += len(lines)
            tally.errors += errors
            bar.update(len(lines))

        pending = (path for path in iter_inputs(inputs) if path not in done)
        try:
            if engine == "ray":
                from device.app.batch_ray import run_ray  # lazy: only the cluster environment has Ray

                run_ray(pending, options, jobs, address, write)
            else:
                run_pool(pending, options, jobs, write)
        except KeyboardInterrupt:
            raise OneLineError(
                f"interrupted after {tally.pages} pages, all in {out}; run the same command with --resume to finish"
            ) from None
        except BrokenProcessPool:
            raise OneLineError(
                f"a worker process died after {tally.pages} pages (all in {out}); "
                "run the same command with --resume to finish"
            ) from None
    _summarise(tally, time.perf_counter() - started, out, len(done))


def _progress(inputs: tuple[str, ...], done: set[str]):
    """A tqdm bar on a terminal (pages, pages/s, ETA); nothing when stderr is a file or a pipe."""
    from tqdm import tqdm

    shown = sys.stderr.isatty()
    # The total costs a second pass over the inputs, so it is counted only for a bar someone sees;
    # stdin cannot be read twice, so there the bar has no total and no ETA.
    total = sum(1 for path in iter_inputs(inputs) if path not in done) if shown and "-" not in inputs else None
    return tqdm(total=total, unit="page", disable=not shown, file=sys.stderr, dynamic_ncols=True)


def _summarise(tally: Tally, seconds: float, out: Path, skipped: int) -> None:
    rate = tally.pages / seconds if seconds > 0 else 0.0
    resumed = f" ({skipped} already there)" if skipped else ""
    click.echo(
        f"{tally.pages} pages, {tally.errors} errors, {rate:.1f} pages/s, {seconds:.1f} s wall -> {out}{resumed}",
        err=True,
    )
