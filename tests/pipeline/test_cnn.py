"""The CNN recipe end to end on the real MNIST: train briefly, convert to int8, load the 28x28x1
model in both runtimes and read the sample canvases with it.

One epoch on 10,000 training digits keeps it short; the figures of the shipped CNN come from
`make train-cnn` and `make convert-cnn` (docs/models.md), not from here.
"""

import json
import shutil
import sys
from pathlib import Path

import pytest

from device.base.files import sha256_of
from helpers import DEVICE_PYTHON, ROOT, SHIPPED_MODEL, one_clean_line, run

SAMPLES = ROOT / "device" / "samples"
TRUTH = json.loads((SAMPLES / "truth.json").read_text())


@pytest.fixture(scope="module")
def cnn(mnist_path, tmp_path_factory) -> dict:
    """models/ after `train cnn` (1 epoch, 10,000 digits) and `convert --mode int8` of it."""
    out = tmp_path_factory.mktemp("cnn")
    trained = run(
        ["-m", "train", "cnn", "--epochs", "1", "--val-split", "50000", "--data", str(mnist_path), "--out", str(out)],
        timeout=600,
    )
    assert trained.returncode == 0, trained.stderr[-2000:]
    # A briefly trained model is less sure of itself than the shipped one, so int8 agrees with it
    # less often; the thresholds that the shipped CNN meets are those of `make convert-cnn`.
    converted = run(
        [
            "-m",
            "convert",
            "--source",
            str(out / "cnn.keras"),
            "--data",
            str(mnist_path),
            "--out",
            str(out),
            "--mode",
            "int8",
            "--quantised-agreement",
            "0.97",
            "--max-drop-pp",
            "1",
        ],
        timeout=600,
    )
    assert converted.returncode == 0, converted.stdout[-2000:] + converted.stderr[-2000:]
    return {"out": out, "train": trained, "convert": converted, "report": json.loads((out / "cnn.json").read_text())}


def test_the_recipe_is_the_small_cnn_on_28x28x1_images(cnn):
    report = cnn["report"]
    assert report["input"]["shape"] == [28, 28, 1] and report["input_shape"] == [28, 28, 1]
    assert [layer["type"] for layer in report["architecture"]] == [
        "Conv",
        "MaxPool",
        "Conv",
        "MaxPool",
        "Flatten",
        "Dense",
        "Dropout",
        "Dense",
    ]
    assert report["augment"] is True and report["optimizer"]["schedule"] == "cosine"
    assert report["test_accuracy"] >= 0.9
    assert "cnn epoch 1/1 - " in cnn["train"].stdout


def test_int8_is_named_after_the_recipe_and_carries_the_image_contract(cnn):
    out = cnn["out"]
    sidecar = json.loads((out / "cnn_int8.json").read_text())
    assert sidecar["sha256"] == sha256_of(out / "cnn_int8.tflite")
    assert sidecar["input"]["shape"] == [28, 28, 1] and sidecar["tensors"]["input"]["shape"] == [-1, 28, 28, 1]
    assert (out / "cnn_int8.tflite").stat().st_size < 200_000
    # Its own parity report, beside (never over) the MLP's.
    assert not (out / "parity.json").exists() and not list(out.glob("dmlp_*"))
    parity = json.loads((out / "cnn_parity.json").read_text())
    assert parity["keras"] == "cnn.keras"
    for runtime in ("ai_edge_litert", "tflite_runtime"):
        assert parity["modes"][0]["runtimes"][runtime]["loads"], runtime
    assert parity["modes"][0]["runtimes"]["tflite_runtime"]["version"] == "2.14.0"
    assert "python -m device demo --model" in cnn["convert"].stdout


def test_both_runtimes_read_the_samples_with_it_and_alike(cnn, tmp_path):
    model = cnn["out"] / "cnn_int8.tflite"
    pages = sorted(SAMPLES.glob("*.png"))
    zips = {}
    for python, runtime in ((DEVICE_PYTHON, "tflite_runtime"), (sys.executable, "ai_edge_litert")):
        done = run(
            ["-m", "device", "recognize", *map(str, pages), "--model", str(model), "--runtime", runtime, "--json"],
            python=python,
            env={"XDG_CACHE_HOME": str(tmp_path)},
        )
        assert done.returncode == 0, done.stderr
        zips[runtime] = {
            Path(record["file"]).name: record["zip"] for record in map(json.loads, done.stdout.splitlines())
        }
    right = sum(a == b for name, truth in TRUTH.items() for a, b in zip(zips["tflite_runtime"][name], truth))
    assert right >= 17, zips  # of the 20 digits, after one short epoch
    assert zips["tflite_runtime"] == zips["ai_edge_litert"]


def test_a_model_whose_contract_names_another_shape_is_refused(cnn, tmp_path):
    """The CNN with the MLP's JSON (input [784]) is refused with one line, not fed the wrong shape."""
    model = tmp_path / "cnn_int8.tflite"
    shutil.copy(cnn["out"] / "cnn_int8.tflite", model)
    sidecar = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text()) | {"sha256": sha256_of(model)}
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    done = run(
        ["-m", "device", "recognize", str(SAMPLES / "boxed_1.png"), "--model", str(model)],
        python=DEVICE_PYTHON,
        env={"XDG_CACHE_HOME": str(tmp_path)},
    )
    assert done.returncode == 2
    line = one_clean_line(done.stderr)
    assert str(model) in line and "input shape" in line and "784" in line
