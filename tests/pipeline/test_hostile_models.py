"""Models that break the contract while their JSON tells the truth about them (hash and tensors rewritten
to match): each is refused with one line and exit status 2, or, for a page-dependent fault, that page
alone gets an error. Never a wrong zip code with exit 0, a traceback, or a hang.

Built with TensorFlow here (.venv), run by the device in .venv-device, as a user would meet them.
"""

import json
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

from convert.cli import _tensor_details
from device.base.files import sha256_of
from device.base.mnist import load_npz
from helpers import DEVICE_PYTHON, SHIPPED_MODEL, one_clean_line, run

SAMPLE = "device/samples/boxed_1.png"


@pytest.fixture(scope="module")
def dense(mnist_path):
    """A softmax regression on 20,000 MNIST digits: a real classifier (it reads the probe's known digits)."""
    mnist = load_npz(mnist_path, splits=("train",))
    x = mnist.x_train[:20000].reshape(-1, 784).astype("float32") / 255
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, mnist.y_train[:20000], epochs=3, batch_size=128, verbose=0)
    return model


def _convert(function, *specs) -> bytes:
    concrete = tf.function(function, input_signature=list(specs)).get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert()


def _install(folder, content: bytes, tensors: dict | None = None):
    """The model with a JSON that matches it: its hash, and its own tensors unless `tensors` is given."""
    model = folder / "hostile.tflite"
    model.write_bytes(content)
    sidecar = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())
    sidecar |= {"sha256": sha256_of(model), "tensors": tensors or _tensor_details(model)}
    sidecar.pop("runtimes", None)
    (folder / "hostile.json").write_text(json.dumps(sidecar))
    return model


def _device(folder, *args, timeout=60):
    started = time.monotonic()
    done = run(
        ["-m", "device", *map(str, args)],
        python=DEVICE_PYTHON,
        timeout=timeout,
        env={"XDG_CACHE_HOME": str(folder / "cache")},
    )
    return done, time.monotonic() - started


def _refused(folder, model, *words):
    done, seconds = _device(folder, "recognize", SAMPLE, "--model", model)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    line = one_clean_line(done.stderr)
    assert str(model) in line and all(word in line for word in words), line
    assert seconds < 10, seconds
    return line


def test_logits_instead_of_probabilities_are_refused(tmp_path, dense):
    logits = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)])
    logits.set_weights(dense.get_weights())
    content = tf.lite.TFLiteConverter.from_keras_model(logits).convert()
    _refused(tmp_path, _install(tmp_path, content), "not probabilities", "softmax")


@pytest.mark.parametrize("dtype", [tf.uint8, tf.int32])
def test_integer_inputs_without_quantisation_are_refused(tmp_path, dense, dtype):
    content = _convert(lambda x: dense(tf.cast(x, tf.float32) / 255), tf.TensorSpec([None, 784], dtype))
    _refused(tmp_path, _install(tmp_path, content), "input is", "scale 0")


def test_a_model_fixed_at_batch_1_is_refused_by_the_probe(tmp_path, dense):
    content = _convert(lambda x: dense(tf.reshape(x, [1, 784])), tf.TensorSpec([None, 784], tf.float32))
    _refused(tmp_path, _install(tmp_path, content), "cannot load it")


def test_nan_on_one_page_is_that_page_s_error(tmp_path, dense):
    """Finite on every digit the probe knows; NaN when a numeral is mostly ink (a filled square)."""

    def nan_when_mostly_ink(x):
        ink = tf.reduce_mean(x, axis=1, keepdims=True)
        return dense(x) + tf.where(ink > 0.4, float("nan"), 0.0)

    model = _install(tmp_path, _convert(nan_when_mostly_ink, tf.TensorSpec([None, 784], tf.float32)))
    import cv2 as cv

    square = np.full((200, 200, 3), 255, np.uint8)
    square[50:150, 50:150] = 0
    cv.imwrite(str(tmp_path / "square.png"), square)
    done, _ = _device(
        tmp_path, "recognize", tmp_path / "square.png", SAMPLE, "--digits", "1", "--json", "--model", model
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    square_line, sample_line = (json.loads(line, parse_constant=_not_json) for line in done.stdout.splitlines())
    assert "not finite" in square_line["error"] and "zip" not in square_line
    assert len(sample_line["zip"]) == 5
    # batch says the same of that page, in its own error line, and reads the rest
    out = tmp_path / "batch.jsonl"
    done, _ = _device(
        tmp_path,
        "batch",
        tmp_path / "square.png",
        SAMPLE,
        "--digits",
        "1",
        "--jobs",
        "1",
        "--out",
        out,
        "--model",
        model,
    )
    assert "Traceback" not in done.stderr, done.stderr
    lines = {Path(line["file"]).name: line for line in map(json.loads, out.read_text().splitlines())}
    assert "not finite" in lines["square.png"]["error"] and len(lines[Path(SAMPLE).name]["zip"]) == 5


def _not_json(name):
    raise AssertionError(f"{name} in a JSON line: not valid JSON")


def test_a_loop_that_grows_with_its_input_is_stopped_by_the_watchdog(tmp_path, dense, mnist_path):
    """batch**7 iterations: one at batch 1 and 78,125 at the probe's batch 5 (it passes), 1.3e9 at a
    batch of 20, where the invoke's watchdog ends the process with one line instead of freezing it."""

    def looping(x):
        rounds = tf.cast(tf.shape(x)[0], tf.int32) ** 7
        _, out = tf.while_loop(lambda i, y: i < rounds, lambda i, y: (i + 1, y * 1.0), (0, dense(x)))
        return out

    model = _install(tmp_path, _convert(looping, tf.TensorSpec([None, 784], tf.float32)))
    done, seconds = _device(
        tmp_path, "evaluate", "--data", mnist_path, "--limit", "20", "--batch-size", "20", "--model", model, timeout=120
    )
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "ran over" in one_clean_line(done.stderr) and seconds < 20, seconds


# --- The shipped model's graph, damaged so that it still loads --------------------------------------


def _edited(edit) -> bytes:
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(SHIPPED_MODEL.read_bytes(), 0))
    edit(model)
    builder = __import__("flatbuffers").Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _swap_input(index):
    def edit(model):
        operator = model.subgraphs[0].operators[index]
        operator.inputs = [(operator.inputs[0] + 1) % len(model.subgraphs[0].tensors), *operator.inputs[1:]]

    return edit


def _huge_input(size):
    def edit(model):
        tensor = model.subgraphs[0].tensors[model.subgraphs[0].inputs[0]]
        tensor.shape, tensor.shapeSignature = [1, size], [-1, size]

    return edit


DAMAGE = {
    "operators emptied": lambda model: setattr(model.subgraphs[0], "operators", []),
    "output -1": lambda model: setattr(model.subgraphs[0], "outputs", [-1]),
    **{f"operator {index} input edited": _swap_input(index) for index in range(4)},
    **{f"input dimension 2^{bits}": _huge_input(1 << bits) for bits in (28, 30)},
}


@pytest.mark.parametrize("name", DAMAGE)
def test_damaged_graph_that_loads_is_refused_or_reads_right(tmp_path, name):
    """The JSON's tensors are the shipped model's: the device compares them with what it finds."""
    shipped = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())["tensors"]
    model = _install(tmp_path, _edited(DAMAGE[name]), tensors=shipped)
    done, seconds = _device(tmp_path, "recognize", SAMPLE, "--json", "--model", model)
    assert seconds < 10, seconds
    if done.returncode == 0:
        assert json.loads(done.stdout)["zip"] == "61451", done.stdout
    else:
        assert done.returncode == 2, (done.returncode, done.stderr)
        assert str(model) in one_clean_line(done.stderr)


def _huge_intermediate(size):
    def edit(model):
        graph = model.subgraphs[0]
        tensor = graph.tensors[graph.operators[1].outputs[0]]
        tensor.shape, tensor.shapeSignature = [1, size], [-1, size]

    return edit


@pytest.mark.parametrize("bits", [28, 30])
def test_an_impossible_tensor_is_refused_before_allocation(tmp_path, bits):
    """Input and output as the JSON says, an inner tensor of 2^28 or 2^30 values: refused from the
    flatbuffer's shapes, in about a second instead of minutes and gigabytes."""
    shipped = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())["tensors"]
    _refused(tmp_path, _install(tmp_path, _edited(_huge_intermediate(1 << bits)), tensors=shipped))


def test_an_impossible_input_in_the_json_is_refused_by_its_schema(tmp_path):
    shipped = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())["tensors"]
    tensors = {**shipped, "input": {**shipped["input"], "shape": [-1, 1 << 28]}}
    model = _install(tmp_path, _edited(_huge_input(1 << 28)), tensors=tensors)
    done, seconds = _device(tmp_path, "recognize", SAMPLE, "--model", model)
    assert done.returncode == 2 and "hostile.json: tensors/input/shape" in one_clean_line(done.stderr)
