"""`python -m bench.batch` (make bench-batch): pages/s of `device batch` on rendered canvases, per engine.

Renders CANVASES PNG pages from MNIST test digits (the three layouts in turn) once into .cache/,
then runs `python -m device batch` over them as a user would: one process, --jobs 2, and Ray
Data on 2 CPUs. Each run is watched from outside: the time to its first result line (start-up:
interpreters, workers, model loads, Ray), the pages/s from then to the last line (steady state),
the wall time of the whole command, and the peak RSS of each worker process (VmHWM).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click
import cv2 as cv
import numpy as np

from bench.render import RENDERERS, render
from device.base.files import atomic_path
from device.base.mnist import DataError, load_npz, mnist_option

ROOT = Path(__file__).resolve().parent.parent
DEVICE_PYTHON = ROOT / ".venv-device" / "bin" / "python"
POLL_S = 0.05


@dataclass(frozen=True)
class Run:
    name: str
    python: Path
    args: tuple[str, ...]


@dataclass
class Measure:
    pages: int
    wall_s: float
    startup_s: float  # command start to its first result line
    steady_pages_s: float  # first line to last line
    worker_rss_mb: float  # the largest peak RSS (VmHWM) of one worker
    worker_anon_mb: float  # the largest private memory (RssAnon) seen in one worker: RSS less shared libraries
    workers: int
    cpu_s: float  # CPU time (user + system) of the command and every process under it


def canvases(folder: Path, count: int, mnist_path: Path, seed: int) -> Path:
    """`count` canvases in `folder` (rendered once; a folder that holds them all is reused)."""
    done = folder / "done.json"
    if done.is_file() and json.loads(done.read_text()) == {"count": count, "seed": seed}:
        return folder
    mnist = load_npz(mnist_path, splits=("test",))
    rng = np.random.default_rng(seed)
    layouts = list(RENDERERS)
    for index in range(count):
        layout = layouts[index % len(layouts)]
        canvas, _ = render(layout, mnist.x_test, mnist.y_test, rng)
        path = folder / layout / f"{index:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            cv.imwrite(str(tmp), canvas)
    done.write_text(json.dumps({"count": count, "seed": seed}))
    return folder


def measure(run: Run, inputs: list[str], out: Path) -> Measure:
    """Run one batch command to the end, sampling its result file and its processes' memory."""
    out.unlink(missing_ok=True)
    started = time.monotonic()
    process = subprocess.Popen(
        [str(run.python), "-m", "device", "batch", *inputs, "--out", str(out), *run.args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    first, first_lines = None, 0
    peaks: dict[int, tuple[float, float]] = {}
    cpu: dict[int, float] = {}
    while process.poll() is None:
        _sample_workers(process.pid, peaks)
        _sample_cpu(process.pid, cpu)
        lines = _count_lines(out)
        now = time.monotonic()
        if lines and first is None:
            first, first_lines = now, lines
        time.sleep(POLL_S)
    finished = time.monotonic()
    stderr = process.stderr.read()
    if process.returncode != 0:
        raise click.ClickException(f"{run.name}: exit {process.returncode}: {stderr.strip().splitlines()[-1:]}")
    lines = _count_lines(out)
    first = first or finished
    steady = (lines - first_lines) / (finished - first) if finished > first and lines > first_lines else float("nan")
    return Measure(
        lines,
        finished - started,
        first - started,
        steady,
        max((p[0] for p in peaks.values()), default=0.0),
        max((p[1] for p in peaks.values()), default=0.0),
        len(peaks),
        sum(cpu.values()),
    )


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def _sample_workers(root: int, peaks: dict[int, tuple[float, float]]) -> None:
    """Peak RSS and private memory (MB) of each process under `root` that reads pages: pool workers, Ray's
    actors, or root alone."""
    for pid, command in _descendants(root):
        if pid == root or "multiprocessing.spawn" in command or "MapWorker" in command:
            hwm, anon = _memory_mb(pid)
            if hwm:
                seen = peaks.get(pid, (0.0, 0.0))
                peaks[pid] = (max(seen[0], hwm), max(seen[1], anon))
    # With workers, the parent only writes lines: it is not a worker.
    if len(peaks) > 1:
        peaks.pop(root, None)


def _sample_cpu(root: int, cpu: dict[int, float]) -> None:
    """The CPU seconds each process under `root` has used so far (the last sample of each is kept)."""
    ticks = os.sysconf("SC_CLK_TCK")
    for pid, _ in _descendants(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def _descendants(root: int) -> list[tuple[int, str]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((pid, command))
        stack.extend(children.get(pid, []))
    return found


def _memory_mb(pid: int) -> tuple[float, float]:
    """(VmHWM, RssAnon) of `pid` in MB; zeros for a process that has gone."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
        )
        return int(fields["VmHWM"].split()[0]) / 1024, int(fields["RssAnon"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        return 0.0, 0.0


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@mnist_option("MNIST npz; canvases use its test digits only.")
@click.option("--canvases", "count", type=click.IntRange(min=3), default=5000, show_default=True)
@click.option(
    "--passes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Read every canvas this many times (a path list), e.g. 2 for 10,000 pages.",
)
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option(
    "--cluster-python",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The .venv-cluster interpreter: adds its one process, --jobs 2 and Ray runs (LiteRT).",
)
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=ROOT / ".cache" / "bench-batch",
    show_default=".cache/bench-batch",
)
def main(data, count, passes, seed, cluster_python, cache):
    """pages/s of `device batch`: one process, --jobs 2 and Ray on 2 CPUs, start-up and steady state apart."""
    try:
        folder = canvases(cache / f"{count}-{seed}", count, data, seed)
    except DataError as error:
        raise click.ClickException(str(error)) from None
    runs = [
        Run("device venv, one process", DEVICE_PYTHON, ("--jobs", "1")),
        Run("device venv, --jobs 2", DEVICE_PYTHON, ("--jobs", "2")),
    ]
    if cluster_python:
        runs += [
            Run("cluster venv, one process", cluster_python, ("--jobs", "1")),
            Run("cluster venv, --jobs 2", cluster_python, ("--jobs", "2")),
            Run("cluster venv, Ray 2 CPUs", cluster_python, ("--engine", "ray", "--jobs", "2")),
        ]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        inputs = [str(folder)]
        if passes > 1:
            listing = Path(scratch) / "pages.txt"
            paths = sorted(str(path) for path in folder.rglob("*.png"))
            listing.write_text("".join(f"{path}\n" for path in paths) * passes)
            inputs = [str(listing)]
        click.echo(
            f"{count * passes} pages ({count} canvases x {passes}), {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f} at the start"
        )
        click.echo(
            f"{'run':<28} {'pages':>6} {'wall s':>7} {'pages/s':>8} {'start-up s':>10} "
            f"{'steady pages/s':>14} {'workers':>7} {'peak RSS/worker MB':>18} {'private MB':>10} {'CPU s':>6} "
            f"{'pages/CPU-s':>11}"
        )
        for run in runs:
            result = measure(run, inputs, Path(scratch) / "results.jsonl")
            click.echo(
                f"{run.name:<28} {result.pages:>6} {result.wall_s:>7.1f} {result.pages / result.wall_s:>8.1f} "
                f"{result.startup_s:>10.1f} {result.steady_pages_s:>14.1f} {result.workers:>7} "
                f"{result.worker_rss_mb:>18.0f} {result.worker_anon_mb:>10.0f} {result.cpu_s:>6.1f} "
                f"{result.pages / result.cpu_s if result.cpu_s else float('nan'):>11.1f}"
            )
        click.echo(f"load average {os.getloadavg()[0]:.1f} at the end (the machine's 2 cores are shared)")


if __name__ == "__main__":
    main(prog_name="python -m bench.batch")
