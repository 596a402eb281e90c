"""`recognize` end to end, as a real subprocess, on canvases rendered from MNIST test digits."""

import json
import time

import cv2 as cv
import numpy as np
import pytest

from bench.render import Style, render
from helpers import ROOT, run

# The tests' own handwriting: sizes 45-90 px, every position, pen widths and slants.
TEST_STYLE = Style(height=(45, 90))
CANVASES_PER_LAYOUT = 100
# A floor against regressions, under the 98% target that `make bench` measures on 1000 canvases a
# layout: on 500 digits a model at 98% reads under 95% by chance alone essentially never (4.8 sigma).
DIGIT_FLOOR = 0.95


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, mnist_path):
    """{layout: [(png path, true zip)]} drawn from MNIST test digits, seeded."""
    folder = tmp_path_factory.mktemp("canvases")
    with np.load(mnist_path) as data:
        images, labels = data["x_test"], data["y_test"]
    pages = {}
    for index, layout in enumerate(("boxed", "free", "photo")):
        rng = np.random.default_rng([7, index])
        pages[layout] = []
        for number in range(CANVASES_PER_LAYOUT):
            canvas, truth = render(layout, images, labels, rng, TEST_STYLE)
            path = folder / f"{layout}_{number:02d}.png"
            cv.imwrite(str(path), canvas)
            pages[layout].append((path, truth))
    return pages


@pytest.fixture(scope="module")
def readings(rendered):
    """{path: JSON line} from one `recognize --json` run over every canvas; "wall_s" is the run's own time."""
    paths = [str(path) for pages in rendered.values() for path, _ in pages]
    started = time.perf_counter()
    done = run(["-m", "device", "recognize", *paths, "--json"])
    wall_s = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == len(paths)
    return {line["file"]: line for line in lines} | {"wall_s": wall_s}


@pytest.mark.parametrize("layout", ["boxed", "free", "photo"])
def test_digit_accuracy_per_layout(rendered, readings, layout):
    right = total = 0
    for path, truth in rendered[layout]:
        read = readings[str(path)]["zip"]
        right += sum(a == b for a, b in zip(read, truth))
        total += len(truth)
    assert right / total >= DIGIT_FLOOR, f"{layout}: {right}/{total} digits"


@pytest.mark.parametrize("layout", ["boxed", "free", "photo"])
def test_auto_layout_picks_boxed_only_for_the_gui_canvas(rendered, readings, layout):
    assert {readings[str(path)]["layout"] for path, _ in rendered[layout]} == {"boxed" if layout == "boxed" else "free"}


def test_json_line_has_the_documented_fields(rendered, readings):
    line = readings[str(rendered["boxed"][0][0])]
    assert set(line) == {"file", "zip", "digits", "low_confidence", "layout", "runtime", "model", "ms"}
    low = [d["confidence"] is not None and d["confidence"] < 0.6 for d in line["digits"]]
    assert line["low_confidence"] is any(low)
    assert len(line["zip"]) == 5 and len(line["digits"]) == 5
    assert all(set(d) == {"digit", "confidence"} for d in line["digits"])
    assert line["model"] == "models/cnn_int8.tflite" and line["runtime"] == "tflite_runtime"
    # ms is each page's own recognition: positive, to the microsecond, and all pages' together are
    # a part of the run the test timed itself (which also starts Python, loads the model, reads files).
    times = [reading["ms"] for key, reading in readings.items() if key != "wall_s"]
    assert all(ms > 0 and round(ms, 3) == ms for ms in times)
    assert sum(times) / 1e3 < readings["wall_s"]


def test_blank_box_reads_as_question_mark(tmp_path, mnist_path):
    with np.load(mnist_path) as data:
        images, labels = data["x_test"], data["y_test"]
    canvas, truth = render("boxed", images, labels, np.random.default_rng(3), TEST_STYLE)
    canvas[52:149, 212:309] = 255  # wipe the third box clean
    path = tmp_path / "blank.png"
    cv.imwrite(str(path), canvas)
    line = json.loads(run(["-m", "device", "recognize", str(path), "--json"]).stdout)
    assert line["zip"][2] == "?" and line["digits"][2] == {"digit": None, "confidence": None}


def test_bad_files_are_reported_and_the_batch_goes_on(tmp_path, rendered):
    good = str(rendered["boxed"][0][0])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    done = run(["-m", "device", "recognize", str(empty), good, str(text), str(tmp_path / "missing.png"), "--json"])
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [("error" in line) for line in lines] == [True, False, True, True]
    assert lines[0]["file"] == str(empty) and "empty" in lines[0]["error"]


def test_human_output_is_one_line_per_file(rendered):
    paths = [str(path) for path, _ in rendered["free"][:3]]
    done = run(["-m", "device", "recognize", *paths])
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 3
    assert all(line.startswith(path + ": ") for line, path in zip(done.stdout.splitlines(), paths))


def test_digits_option_reads_longer_numbers(tmp_path, mnist_path):
    with np.load(mnist_path) as data:
        images, labels = data["x_test"], data["y_test"]
    rng = np.random.default_rng(11)
    from bench.render import free_canvas

    chosen = rng.choice(len(images), size=7, replace=False)
    path = tmp_path / "seven.png"
    cv.imwrite(str(path), free_canvas(images[chosen], rng, TEST_STYLE))
    line = json.loads(run(["-m", "device", "recognize", str(path), "--digits", "7", "--json"]).stdout)
    assert len(line["zip"]) == 7
    assert sum(a == str(b) for a, b in zip(line["zip"], labels[chosen])) >= 6


def test_forced_boxed_layout_on_paper_is_a_per_file_error(rendered):
    done = run(["-m", "device", "recognize", str(rendered["free"][0][0]), "--layout", "boxed", "--json"])
    assert done.returncode == 1 and "no red boxes" in json.loads(done.stdout)["error"]


def test_samples_in_the_repository_read_as_their_truth():
    truth = json.loads((ROOT / "device" / "samples" / "truth.json").read_text())
    done = run(["-m", "device", "recognize", *[f"device/samples/{name}" for name in truth], "--json"])
    read = {line["file"].split("/")[-1]: line["zip"] for line in map(json.loads, done.stdout.splitlines())}
    assert read == truth


def test_a_digit_missing_from_free_handwriting_is_a_question_mark_in_its_place(tmp_path, mnist_path):
    from bench.render import free_canvas
    from device.layout import segment_free

    with np.load(mnist_path) as data:
        images, labels = data["x_test"], data["y_test"]
    rng = np.random.default_rng(21)
    chosen = rng.choice(len(images), size=5, replace=False)
    page = free_canvas(images[chosen], rng, Style(height=(60, 70)))
    _, groups = segment_free(page, 5)
    third = groups[2]
    page[:, third.x : third.x + third.w] = 255  # the third digit rubbed out
    path = tmp_path / "rubbed.png"
    cv.imwrite(str(path), page)
    line = json.loads(run(["-m", "device", "recognize", str(path), "--layout", "free", "--json"]).stdout)
    assert line["zip"][2] == "?" and line["digits"][2]["digit"] is None
    truth = "".join(str(label) for label in labels[chosen])
    assert sum(a == b for a, b in zip(line["zip"], truth)) >= 3
