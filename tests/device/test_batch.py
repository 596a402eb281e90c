"""`python -m device batch` as users run it: real canvases, bad files among them, kills and resumes."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2 as cv
import numpy as np
import pytest

from bench.render import RENDERERS, render
from device.base.mnist import load_npz
from tests.helpers import ROOT, one_clean_line, run

SAMPLES = ROOT / "device" / "samples"
TIMING = {"ms"}  # the only field that may differ between two reads of the same page


@pytest.fixture(scope="module")
def pages(tmp_path_factory, mnist_path) -> dict[str, str]:
    """A folder of real canvases, {path: true zip}: the device's samples and bench renders of every layout."""
    folder = tmp_path_factory.mktemp("pages")
    truth = {}
    for name, zip_code in json.loads((SAMPLES / "truth.json").read_text()).items():
        shutil.copy(SAMPLES / name, folder / name)
        truth[str(folder / name)] = zip_code
    mnist = load_npz(mnist_path, splits=("test",))
    rng = np.random.default_rng(16)
    for layout in RENDERERS:  # every kind of canvas: boxed, free, photo
        for index in range(3):
            canvas, zip_code = render(layout, mnist.x_test, mnist.y_test, rng)
            path = folder / "rendered" / layout / f"{index}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv.imwrite(str(path), canvas)
            truth[str(path)] = zip_code
    return truth


@pytest.fixture
def bad_files(tmp_path) -> list[str]:
    """Pages that cannot be read: empty, not an image, truncated, a folder named like an image, missing."""
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not a picture")
    (tmp_path / "cut.png").write_bytes((SAMPLES / "boxed_1.png").read_bytes()[:200])
    (tmp_path / "folder.png").mkdir()
    return [str(tmp_path / name) for name in ("empty.png", "notes.png", "cut.png", "folder.png", "missing.png")]


def batch(*args, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The command as a real subprocess in the device environment."""
    return subprocess.run(
        [sys.executable, "-m", "device", "batch", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def records(out: Path) -> dict[str, dict]:
    """--out's records by file, checking there is exactly one line per file."""
    lines = out.read_text().splitlines()
    found = {}
    for line in lines:
        record = json.loads(line)
        assert record["file"] not in found, f"{record['file']} twice"
        found[record["file"]] = {key: value for key, value in record.items() if key not in TIMING}
    return found


def test_folder_list_and_stdin_with_bad_files_give_one_line_each(pages, bad_files, tmp_path):
    listing = tmp_path / "more.txt"
    listing.write_text("\n".join(bad_files[:3]) + "\n\n")  # a blank line is not a page
    out = tmp_path / "results.jsonl"
    done = batch(
        Path(next(iter(pages))).parent, listing, "-", "--out", out, "--jobs", "2", stdin="\n".join(bad_files[3:]) + "\n"
    )
    assert done.returncode == 0, done.stderr
    found = records(out)
    assert set(found) == set(pages) | set(bad_files)
    samples = [path for path in pages if "rendered" not in path]  # golden files: the renders may be misread
    assert {path: found[path]["zip"] for path in samples} == {path: pages[path] for path in samples}
    assert all(len(found[path]["zip"]) == 5 for path in pages)
    for path in bad_files:
        assert set(found[path]) == {"file", "error"} and found[path]["error"], found[path]
    # Quiet on a pipe: no bar (OpenCV may still say a PNG is truncated), and the summary last.
    assert "Traceback" not in done.stderr and "|" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1].startswith(f"{len(pages) + len(bad_files)} pages, {len(bad_files)} errors, ")


def test_records_are_recognize_json_records(pages, bad_files, tmp_path):
    paths = [*list(pages)[:6], bad_files[1]]
    out = tmp_path / "results.jsonl"
    assert batch(*paths, "--out", out, "--jobs", "1").returncode == 0
    single = run(["-m", "device", "recognize", "--json", *paths], python=sys.executable)
    expected = {}
    for line in single.stdout.splitlines():
        record = json.loads(line)
        expected[record["file"]] = {key: value for key, value in record.items() if key not in TIMING}
    assert records(out) == expected


def test_layout_digits_and_model_options_reach_the_workers(pages, tmp_path):
    free_pages = [path for path in pages if "rendered/free" in path]
    out = tmp_path / "results.jsonl"
    done = batch(
        *free_pages,
        "--out",
        out,
        "--jobs",
        "2",
        "--layout",
        "free",
        "--digits",
        "4",
        "--model",
        ROOT / "models" / "dmlp_int8.tflite",
        "--threads",
        "1",
    )
    assert done.returncode == 0, done.stderr
    assert all(len(record["digits"]) == 4 and record["layout"] == "free" for record in records(out).values())
    boxed = batch(*free_pages, "--out", tmp_path / "boxed.jsonl", "--layout", "boxed")
    assert all("no red boxes" in record["error"] for record in records(tmp_path / "boxed.jsonl").values()), boxed.stderr


def test_an_existing_out_needs_resume(pages, tmp_path):
    out = tmp_path / "results.jsonl"
    out.write_text('{"file": "x.png", "error": "earlier"}\n')
    done = batch(*pages, "--out", out)
    assert done.returncode != 0
    assert "--resume" in one_clean_line(done.stderr)
    assert out.read_text() == '{"file": "x.png", "error": "earlier"}\n'


def test_a_foreign_out_is_refused_with_one_line(pages, tmp_path):
    out = tmp_path / "results.jsonl"
    out.write_text("name,zip\nx.png,12345\n")
    done = batch(*pages, "--out", out, "--resume")
    assert done.returncode != 0
    assert "line 1" in one_clean_line(done.stderr)


def test_resume_reads_again_a_line_cut_by_a_kill(pages, tmp_path):
    paths = list(pages)
    out = tmp_path / "results.jsonl"
    assert batch(*paths[:3], "--out", out, "--jobs", "1").returncode == 0
    whole = records(out)
    with open(out, "a") as handle:
        handle.write('{"file": "' + paths[3][:10])  # what a kill in the middle of a write leaves
    done = batch(*paths, "--out", out, "--resume", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    assert f"({3} already there)" in done.stderr
    resumed = records(out)
    assert set(resumed) == set(paths)
    assert {path: resumed[path] for path in paths[:3]} == whole


@pytest.mark.slow  # about a minute: 20 batches started and killed, then finished
def test_killed_at_random_moments_and_resumed_none_lost_none_twice(pages, tmp_path):
    """Kill -9 the whole process group at 20+ random moments; every batch, resumed, ends exactly right."""
    folder = tmp_path / "archive"
    for copy in range(12):  # ~200 pages: a run outlives the start-up, so kills land mid-batch as well
        for index, path in enumerate(pages):
            target = folder / f"{copy:02d}" / f"{index:02d}_{Path(path).name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
    expected_files = {str(path) for path in folder.rglob("*.png")}
    reference = tmp_path / "reference.jsonl"
    assert batch(folder, "--out", reference, "--jobs", "1").returncode == 0
    expected = records(reference)
    out = tmp_path / "results.jsonl"
    started = time.monotonic()
    assert batch(folder, "--out", out, "--jobs", "2").returncode == 0
    whole_run = time.monotonic() - started  # kills fall anywhere in start-up, reading and writing
    assert records(out) == expected
    out.unlink()

    rng = random.Random(16)
    kills = mid_batch = 0
    while kills < 20:
        before = out.stat().st_size if out.exists() else 0
        process = subprocess.Popen(
            [sys.executable, "-m", "device", "batch", str(folder), "--out", str(out), "--resume", "--jobs", "2"],
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.0, 1.2 * whole_run))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            kills += 1
            mid_batch += out.exists() and out.stat().st_size > before  # this run had written pages
        process.wait(timeout=60)
        if process.returncode == 0:  # this batch finished before its kill: check it, start another
            assert records(out) == expected
            out.unlink()
    done = batch(folder, "--out", out, "--resume", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    assert mid_batch >= 3, f"only {mid_batch} of {kills} kills fell while pages were being written"
    assert set(records(out)) == expected_files
    assert records(out) == expected


def test_a_terminal_gets_a_progress_bar_with_a_total(pages, tmp_path):
    import pty

    leader, follower = pty.openpty()
    paths = list(pages)[:4]
    process = subprocess.Popen(
        [sys.executable, "-m", "device", "batch", *paths, "--out", str(tmp_path / "r.jsonl"), "--jobs", "1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command has closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    assert process.wait(timeout=120) == 0
    text = shown.decode(errors="replace")
    assert "4/4" in text and "page/s" in text, text
    assert "4 pages, 0 errors, " in text


def test_the_ray_engine_outside_the_cluster_environment_is_one_line(pages, tmp_path):
    if importlib.util.find_spec("ray") is not None:
        pytest.skip("unreachable in .venv-device, which has no Ray")
    done = batch(*list(pages)[:2], "--out", tmp_path / "r.jsonl", "--engine", "ray")
    assert done.returncode == 2
    assert "make setup-cluster" in one_clean_line(done.stderr)
    assert not (tmp_path / "r.jsonl").exists()


def test_paths_stream_results_are_written_before_the_input_list_ends(pages, tmp_path):
    """Lines reach --out while stdin is still open: the list is never read whole before work starts."""
    out = tmp_path / "results.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "device", "batch", "-", "--out", str(out), "--jobs", "2"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    paths = list(pages)
    try:
        process.stdin.write("".join(f"{paths[i % len(paths)]}\n" for i in range(80)))  # five chunks of 16
        process.stdin.flush()
        deadline = time.monotonic() + 120
        while not (out.exists() and out.read_text().count("\n") >= 16) and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.1)
        assert out.read_text().count("\n") >= 16, "no line written while stdin stayed open"
        process.stdin.write(f"{paths[0]}\n")
    finally:
        process.stdin.close()
    assert process.wait(timeout=120) == 0
    assert out.read_text().count("\n") == 81
