"""convert/ round trip on the real MNIST: 4 modes, parity in LiteRT and in tflite-runtime (.venv-device)."""

import json
import shutil

import pytest

from device.base.files import sha256_of
from helpers import DEVICE_PYTHON, one_clean_line, run

THRESHOLDS = {
    "float32": {"agreement": 1.0, "max_dp": 1e-5},
    "float16": {"agreement": 0.999},
    "dynamic": {"agreement": 0.995, "delta_pp": 0.3},
    "int8": {"agreement": 0.995, "delta_pp": 0.3},
}


@pytest.fixture(scope="module")
def converted(trained, mnist_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted")
    for name in ("dmlp.keras", "dmlp.json"):
        shutil.copy(trained["out"] / name, out / name)
    done = run(
        ["-m", "convert", "--source", str(out / "dmlp.keras"), "--data", str(mnist_path), "--out", str(out)],
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {
        "out": out,
        "stdout": done.stdout,
        "stderr": done.stderr,
        "parity": json.loads((out / "parity.json").read_text()),
    }


def test_four_modes_pass_parity_in_both_runtimes(converted):
    modes = {row["mode"]: row for row in converted["parity"]["modes"]}
    assert set(modes) == set(THRESHOLDS)
    for mode, limits in THRESHOLDS.items():
        for runtime in ("ai_edge_litert", "tflite_runtime"):
            parity = modes[mode]["runtimes"][runtime]
            assert parity["loads"], f"{mode} does not load on {runtime}"
            assert parity["agreement"] >= limits["agreement"], (mode, runtime, parity)
            if "max_dp" in limits:
                assert parity["max_dp"] <= limits["max_dp"], (mode, runtime, parity)
            if "delta_pp" in limits:
                assert abs(parity["delta_pp"]) <= limits["delta_pp"], (mode, runtime, parity)
    assert modes["int8"]["runtimes"]["tflite_runtime"]["version"] == "2.14.0"


def test_sizes_and_int8_budget(converted):
    sizes = {row["mode"]: row["size_bytes"] for row in converted["parity"]["modes"]}
    assert sizes["int8"] <= 1_700_000 and sizes["dynamic"] <= 1_700_000
    assert sizes["float32"] > 1.9 * sizes["float16"] > 3.5 * sizes["int8"]


def test_sidecars_carry_contract_quantisation_hashes_and_parity(converted):
    out = converted["out"]
    sidecar = json.loads((out / "dmlp_int8.json").read_text())
    assert sidecar["sha256"] == sha256_of(out / "dmlp_int8.tflite")
    assert sidecar["source"]["keras_sha256"] == sha256_of(out / "dmlp.keras")
    assert sidecar["input"]["shape"] == [784] and sidecar["labels"] == [str(d) for d in range(10)]
    assert sidecar["tensors"]["input"]["dtype"] == "int8" and sidecar["tensors"]["input"]["scale"] > 0
    assert sidecar["tensors"]["output"]["dtype"] == "int8"
    assert sidecar["converter"]["tensorflow"].startswith("2.21") and sidecar["converter"]["calibration_samples"] == 500
    assert sidecar["runtimes"]["tflite_runtime"]["loads"] and sidecar["parity"]["tflite_runtime"]["accuracy"] > 0.9
    assert json.loads((out / "dmlp_float32.json").read_text())["tensors"]["input"]["dtype"] == "float32"


def test_report_files_and_next_step(converted):
    out = converted["out"]
    table = (out / "parity.md").read_text()
    assert table.count("| int8 |") == 2 and "tflite_runtime 2.14.0" in table
    assert table.startswith("Keras dmlp.keras: ")  # the file it was converted from
    assert (out / "parity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"next: python -m device demo --model {converted['out'] / 'dmlp_int8.tflite'}" in converted["stdout"]
    # One line per mode and per file written, and nothing from the converter's or runtimes' C++ cores.
    assert converted["stderr"] == "" and "fully_quantize" not in converted["stdout"]


@pytest.mark.parametrize("mode", ["float32", "float16", "dynamic", "int8"])
def test_every_mode_recognises_in_the_device_environment(converted, mode, mnist_path):
    done = run(
        [
            "-m",
            "device",
            "evaluate",
            "--model",
            str(converted["out"] / f"dmlp_{mode}.tflite"),
            "--data",
            str(mnist_path),
            "--limit",
            "2000",
            "--json",
        ],
        python=DEVICE_PYTHON,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["runtime"] == "tflite_runtime" and report["accuracy"] > 0.9
    assert done.stderr == ""  # no "INFO: Created TensorFlow Lite XNNPACK delegate" from the float models either


def test_failed_parity_exits_non_zero_and_keeps_the_deployed_model(converted, mnist_path):
    out = converted["out"]
    before = {path.name: sha256_of(path) for path in out.glob("dmlp_*.*")}
    done = run(
        [
            "-m",
            "convert",
            "--source",
            str(out / "dmlp.keras"),
            "--data",
            str(mnist_path),
            "--out",
            str(out),
            "--mode",
            "int8",
            "--quantised-agreement",
            "1.0",
        ],
        timeout=600,
    )
    assert done.returncode == 1
    failed = [line for line in done.stderr.splitlines() if line.startswith("parity failed")]
    assert failed and all("int8" in line and "agreement" in line and ">= 1" in line for line in failed)
    assert "Traceback" not in done.stderr
    assert {path.name: sha256_of(path) for path in out.glob("dmlp_*.*")} == before
    assert not (out / ".convert-staging").exists()


def test_too_few_calibration_samples_is_an_error(converted, mnist_path):
    out = converted["out"]
    done = run(
        [
            "-m",
            "convert",
            "--source",
            str(out / "dmlp.keras"),
            "--data",
            str(mnist_path),
            "--out",
            str(out),
            "--mode",
            "int8",
            "--calibration",
            "99",
        ]
    )
    assert done.returncode == 2 and "at least 100" in done.stderr


def test_missing_keras_model_is_one_clear_line(tmp_path, mnist_path):
    done = run(
        ["-m", "convert", "--source", str(tmp_path / "dmlp.keras"), "--data", str(mnist_path), "--out", str(tmp_path)]
    )
    assert done.returncode == 1 and "make train" in one_clean_line(done.stderr)
