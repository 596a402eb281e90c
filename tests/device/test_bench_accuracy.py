"""`python -m bench` and `python -m device bench`, as `make bench` runs them."""

import json

from bench.render import CANVAS_LAYOUTS
from bench.writers import WRITERS
from helpers import run


def test_bench_scores_every_layout_of_the_shipped_model(mnist_path):
    done = run(["-m", "bench", "--canvases", "20", "--writer-canvases", "0", "--json", "--data", str(mnist_path)])
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["layout"] for row in rows] == ["boxed", "free", "photo"]
    for row in rows:
        assert row["canvases"] == 20 and row["model"] == "models/cnn_int8.tflite" and row["style"] == "mnist"
        # The shipped model reads most digits; whole zip codes can never beat their digits.
        assert 0.9 <= row["digit_accuracy"] <= 1 and row["zip_accuracy"] <= row["digit_accuracy"]


def test_bench_has_a_row_per_writer_style_and_layout(mnist_path):
    done = run(["-m", "bench", "--canvases", "2", "--writer-canvases", "3", "--json", "--data", str(mnist_path)])
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    expected = [("mnist", layout) for layout in CANVAS_LAYOUTS]
    expected += [(writer.name, layout) for writer in WRITERS for layout in writer.layouts]
    assert [(row["style"], row["layout"]) for row in rows] == expected
    assert all(row["canvases"] == 3 and 0 <= row["zip_accuracy"] <= row["digit_accuracy"] <= 1 for row in rows[3:])


def test_device_bench_prints_its_table_for_the_runtime_and_threads_it_used():
    done = run(["-m", "device", "bench", "--repeats", "10", "--threads", "1"])
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert " with 1 thread, model models/cnn_int8.tflite" in lines[0]
    for label in (
        "preprocess",
        "invoke",
        "total",
        "model load",
        "process start to first result",
        "peak RSS",
        "5-digit invoke p50, by threads",
        "1 thread ",
    ):
        assert any(line.strip().startswith(label) for line in lines), label
    p50, p95 = map(float, next(line for line in lines if line.strip().startswith("total")).split()[1:])
    assert 0 < p50 <= p95  # numbers, in order; their size is the bench's business, not the test's
