"""The device takes its model's input shape from the model's contract: flat 784 (the MLP) or
28x28x1 (the CNN), both shipped in models/."""

import json
import shutil

import numpy as np
import pytest

from device.base.contract import to_model_input
from device.base.files import sha256_of
from device.runtime import Classifier
from helpers import ROOT, SHIPPED_MODEL, one_clean_line, run

CNN_MODEL = ROOT / "models" / "cnn_int8.tflite"
SAMPLES = ROOT / "device" / "samples"
TRUTH = json.loads((SAMPLES / "truth.json").read_text())


def test_each_shipped_model_reports_the_shape_of_its_contract():
    assert Classifier(SHIPPED_MODEL).input_shape == (784,)
    assert Classifier(CNN_MODEL).input_shape == (28, 28, 1)
    assert json.loads(CNN_MODEL.with_suffix(".json").read_text())["input"]["shape"] == [28, 28, 1]


def test_the_cnn_takes_numerals_in_any_of_their_shapes_alike():
    rng = np.random.default_rng(3)
    numerals = rng.random((7, 28, 28), dtype=np.float32) * (rng.random((7, 28, 28)) < 0.2)
    classifier = Classifier(CNN_MODEL)
    flat = classifier.predict(to_model_input(numerals))
    assert flat.shape == (7, 10) and np.allclose(flat.sum(axis=1), 1, atol=0.05)
    for shaped in (numerals, numerals[..., np.newaxis], to_model_input(numerals, (28, 28, 1))):
        assert np.array_equal(classifier.predict(shaped), flat)


def test_to_model_input_gives_the_same_pixels_in_either_shape():
    images = np.arange(2 * 28 * 28, dtype=np.uint16).reshape(2, 28, 28).astype(np.uint8)
    flat, image = to_model_input(images), to_model_input(images, (28, 28, 1))
    assert flat.shape == (2, 784) and image.shape == (2, 28, 28, 1)
    assert np.array_equal(flat, image.reshape(2, 784)) and flat[0, 29] == pytest.approx(images[0, 1, 1] / 255)


@pytest.mark.parametrize("model", [SHIPPED_MODEL, CNN_MODEL], ids=["mlp", "cnn"])
def test_both_shipped_models_read_the_sample_canvases(model):
    pages = sorted(SAMPLES.glob("*.png"))
    done = run(["-m", "device", "recognize", *map(str, pages), "--model", str(model), "--json"])
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert {record["file"].rsplit("/", 1)[-1]: record["zip"] for record in records} == TRUTH


@pytest.mark.parametrize(
    "model, claimed, words",
    [
        (SHIPPED_MODEL, [28, 28, 1], "[batch, 28, 28, 1]"),  # the MLP with a CNN's contract
        (CNN_MODEL, [784], "[batch, 784]"),  # the CNN with the MLP's contract
        (CNN_MODEL, [28, 28], "[28, 28]"),  # neither
    ],
)
def test_a_contract_that_does_not_match_the_model_is_one_line(tmp_path, model, claimed, words):
    copy = tmp_path / "model.tflite"
    shutil.copy(model, copy)
    sidecar = json.loads(model.with_suffix(".json").read_text())
    sidecar["input"]["shape"] = claimed
    copy.with_suffix(".json").write_text(json.dumps(sidecar | {"sha256": sha256_of(copy)}))
    done = run(
        ["-m", "device", "recognize", str(SAMPLES / "boxed_1.png"), "--model", str(copy)],
        env={"XDG_CACHE_HOME": str(tmp_path)},
    )
    assert done.returncode == 2
    line = one_clean_line(done.stderr)
    assert str(tmp_path / "model.") in line and "shape" in line and words in line  # the model or its JSON
