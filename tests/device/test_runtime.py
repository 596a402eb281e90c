"""The shipped model in the device's own runtime, and how device/ chooses and checks a runtime."""

import importlib.util
import json

import numpy as np

from device.base.files import sha256_of
from device.interpreters import available_runtime
from device.runtime import Classifier
from helpers import SHIPPED_MODEL, one_clean_line, run


def test_device_environment_has_no_tensorflow():
    assert importlib.util.find_spec("tensorflow") is None
    assert available_runtime() == "tflite_runtime"


def test_shipped_model_matches_its_json():
    sidecar = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())
    assert sidecar["sha256"] == sha256_of(SHIPPED_MODEL)
    assert sidecar["mode"] == "int8" and SHIPPED_MODEL.stat().st_size <= 1_700_000
    assert sidecar["runtimes"]["tflite_runtime"]["loads"] is True


def test_shipped_model_reaches_98_percent_on_mnist_under_tflite_runtime(mnist_path):
    done = run(["-m", "device", "evaluate", "--data", str(mnist_path), "--json"])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["n"] == 10000 and report["runtime"] == "tflite_runtime" and report["runtime_version"] == "2.14.0"
    assert report["accuracy"] >= 0.98


def test_quantisation_is_read_from_the_model():
    classifier = Classifier(SHIPPED_MODEL)
    assert classifier.input_quant.dtype == np.int8 and classifier.input_quant.scale > 0
    assert classifier.output_quant.dtype == np.int8
    probabilities = classifier.predict(np.zeros((3, 784), np.float32))
    assert probabilities.shape == (3, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=0.05)


def test_threads_and_forced_runtime(mnist_path):
    done = run(
        [
            "-m",
            "device",
            "evaluate",
            "--data",
            str(mnist_path),
            "--limit",
            "500",
            "--threads",
            "1",
            "--runtime",
            "tflite_runtime",
            "--json",
        ]
    )
    assert done.returncode == 0 and json.loads(done.stdout)["n"] == 500


def test_a_runtime_that_is_not_installed_is_one_line_with_the_install_command():
    done = run(["-m", "device", "recognize", "device/samples/boxed_1.png", "--runtime", "ai_edge_litert"])
    assert done.returncode == 2
    assert "pip install ai-edge-litert" in one_clean_line(done.stderr)


def test_model_marked_unloadable_on_this_runtime_is_refused_with_the_runtime_to_install(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(SHIPPED_MODEL.read_bytes())
    sidecar = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())
    sidecar["runtimes"]["tflite_runtime"] = {
        "version": "2.14.0",
        "loads": False,
        "reason": "Didn't find op for builtin opcode 'FULLY_CONNECTED' version '12'",
    }
    (tmp_path / "m.json").write_text(json.dumps(sidecar))
    done = run(["-m", "device", "recognize", "device/samples/boxed_1.png", "--model", str(model)])
    assert done.returncode == 2
    line = one_clean_line(done.stderr)
    assert "tflite_runtime" in line and "pip install ai-edge-litert" in line and "FULLY_CONNECTED" in line
