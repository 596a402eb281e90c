"""`python -m bench`: digit and zip-code accuracy of a model on rendered canvases, as `make bench` runs it."""
import json

from helpers import run


def test_bench_scores_every_layout_of_the_shipped_model(mnist_path):
    done = run(["-m", "bench", "--canvases", "20", "--json", "--data", str(mnist_path)])
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["layout"] for row in rows] == ["boxed", "free", "photo"]
    for row in rows:
        assert row["canvases"] == 20 and row["model"] == "models/dmlp_int8.tflite"
        # The shipped model reads most digits; whole zip codes can never beat their digits.
        assert 0.9 <= row["digit_accuracy"] <= 1 and row["zip_accuracy"] <= row["digit_accuracy"]
