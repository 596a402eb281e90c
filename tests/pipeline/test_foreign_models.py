"""Valid .tflite files of another shape, with honest JSON, are refused by device/ with one line."""

import json

import keras
import pytest
import tensorflow as tf

from device.base.files import sha256_of
from helpers import DEVICE_PYTHON, SHIPPED_MODEL, one_clean_line, run


def _cnn():
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def _five_outputs():
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(5, activation="softmax")])


def _two_inputs():
    first, second = keras.Input((784,)), keras.Input((784,))
    return keras.Model([first, second], keras.layers.Dense(10)(keras.layers.Add()([first, second])))


@pytest.mark.parametrize(
    "build, words", [(_cnn, "input shape"), (_five_outputs, "output shape"), (_two_inputs, "one input")]
)
def test_foreign_model_is_refused(tmp_path, build, words):
    model = tmp_path / "foreign.tflite"
    model.write_bytes(tf.lite.TFLiteConverter.from_keras_model(build()).convert())
    sidecar = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text()) | {"sha256": sha256_of(model)}
    (tmp_path / "foreign.json").write_text(json.dumps(sidecar))
    done = run(
        ["-m", "device", "recognize", "device/samples/boxed_1.png", "--model", str(model)],
        python=DEVICE_PYTHON,
        env={"XDG_CACHE_HOME": str(tmp_path)},
    )
    assert done.returncode == 2
    line = one_clean_line(done.stderr)
    assert str(model) in line and words in line
